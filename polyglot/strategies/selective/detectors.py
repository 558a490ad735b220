"""Understanding-failure detectors: a score per item, higher when the model more likely did not
understand the question (``polyglot eval --strategy selective --detector NAME``).

- ``confidence`` / ``confidence-min``: minus the trace's mean (or minimum) token confidence;
- ``prompt-nll``: the prompt's mean negative log-likelihood;
- ``self-reflection``: P(no) when the model is asked, in the question's language, whether it
  understood the question (``polyglot/strategies/selective/reflection.py``);
- ``language-drift``: the share of the trace not in the question's language (fastText, from the
  eval record), 1 when nothing was written;
- ``probe:DIR``: a probe trained by ``polyglot detect train`` on the last hidden state.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from polyglot.registry import Registry
from polyglot.strategies.selective.probe import Probe
from polyglot.strategies.selective.reflection import reflection_scores
from polyglot.strategies.selective.signals import trace_signals


class Detector:
    """A registered understanding-failure detector: ``scores`` gives each record a score, higher
    when the model more likely did not understand (``takes_argument``: a ``name:ARGUMENT``
    spec, e.g. a probe's folder; ``reflection``: it needs the reflection question's answer)."""

    takes_argument: ClassVar[bool] = False
    reflection: ClassVar[bool] = False

    def __init__(self, argument: str = "") -> None:
        self.argument = argument

    def scores(self, records: dict[str, dict], signals: dict[str, dict]) -> dict[str, float]:
        return {key: self.score(record, signals.get(key, {})) for key, record in records.items()}

    def score(self, record: dict, signals: dict) -> float:
        raise NotImplementedError


DETECTORS: Registry[type[Detector]] = Registry("detector", "polyglot.strategies.selective")


@DETECTORS.register("confidence")
class Confidence(Detector):
    def score(self, record, signals):
        return -signals["confidence_mean"]


@DETECTORS.register("confidence-min")
class ConfidenceMin(Detector):
    def score(self, record, signals):
        return -signals["confidence_min"]


@DETECTORS.register("prompt-nll")
class PromptNll(Detector):
    def score(self, record, signals):
        return signals["prompt_nll"]


@DETECTORS.register("self-reflection")
class SelfReflection(Detector):
    reflection = True

    def score(self, record, signals):
        return signals["reflection"]


@DETECTORS.register("language-drift")
class LanguageDrift(Detector):
    def score(self, record, signals):
        target = (record.get("fidelity") or {}).get("target")
        return 1.0 if target is None else 1.0 - float(target)


@DETECTORS.register("probe")
class ProbeDetector(Detector):
    takes_argument = True

    def scores(self, records, signals):
        probe = Probe.load(self.argument)
        return probe.scores({k: signals[k]["hidden"] for k in records})


def signal_detectors() -> list[str]:
    """The detectors that read a model's signals alone (every one but a probe's)."""
    return [name for name in DETECTORS.names() if not DETECTORS.get(name).takes_argument]


def make_detector(spec: str) -> Detector:
    name, _, argument = spec.partition(":")
    return DETECTORS.get(name)(argument)


def check_detector(spec: str) -> None:
    """A ``ValueError`` naming a malformed detector spec."""
    name, _, argument = spec.partition(":")
    if name in DETECTORS and DETECTORS.get(name).takes_argument == bool(argument):
        return
    raise ValueError(
        f"{spec}: one of {', '.join(signal_detectors())}, probe:DIR (a `polyglot detect train` "
        "folder)"
    )


def needs_hidden(spec: str) -> bool:
    return make_detector(spec).takes_argument


def detector_scores(spec: str, records: dict[str, dict], signals: dict[str, dict]) -> dict:
    """``{key: score}`` for the records (non-English native attempts)."""
    return make_detector(spec).scores(records, signals)


def model_signals(model, tokenizer, records: dict[str, dict], detectors) -> dict[str, dict]:
    """What the ``detectors`` read from the model for ``records`` (``{key: signals}``): the
    teacher-forced pass over prompt + trace, plus the reflection question when asked for."""

    signals = trace_signals(model, tokenizer, list(records.values()))
    if any(make_detector(d).reflection for d in detectors):
        for key, score in reflection_scores(model, tokenizer, list(records.values())).items():
            signals[key]["reflection"] = score
    return signals


def probe_folder(spec: str) -> Path | None:
    name, _, argument = spec.partition(":")
    return Path(argument) if name == "probe" else None

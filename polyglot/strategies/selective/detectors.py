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

from polyglot.config import ConfigError
from polyglot.strategies.selective.probe import Probe
from polyglot.strategies.selective.reflection import reflection_scores
from polyglot.strategies.selective.signals import trace_signals

SIGNAL_DETECTORS = (
    "confidence",
    "confidence-min",
    "prompt-nll",
    "self-reflection",
    "language-drift",
)


def check_detector(spec: str) -> None:
    """A ``ValueError`` naming a malformed detector spec."""
    name, _, argument = spec.partition(":")
    if name in SIGNAL_DETECTORS and not argument:
        return
    if name == "probe" and argument:
        return
    raise ValueError(
        f"{spec}: one of {', '.join(SIGNAL_DETECTORS)}, probe:DIR (a `polyglot detect train` "
        "folder)"
    )


def needs_hidden(spec: str) -> bool:
    return spec.startswith("probe:")


def detector_scores(spec: str, records: dict[str, dict], signals: dict[str, dict]) -> dict:
    """``{key: score}`` for the records (non-English native attempts)."""
    name, _, argument = spec.partition(":")
    scores = {}
    if name == "probe":
        probe = Probe.load(argument)
        return probe.scores({k: signals[k]["hidden"] for k in records})
    for key, record in records.items():
        if name == "confidence":
            scores[key] = -signals[key]["confidence_mean"]
        elif name == "confidence-min":
            scores[key] = -signals[key]["confidence_min"]
        elif name == "prompt-nll":
            scores[key] = signals[key]["prompt_nll"]
        elif name == "self-reflection":
            scores[key] = signals[key]["reflection"]
        elif name == "language-drift":
            fidelity = record.get("fidelity") or {}
            target = fidelity.get("target")
            scores[key] = 1.0 if target is None else 1.0 - float(target)
        else:
            raise ConfigError(f"--detector {spec}: unknown")
    return scores


def model_signals(model, tokenizer, records: dict[str, dict], detectors) -> dict[str, dict]:
    """What the ``detectors`` read from the model for ``records`` (``{key: signals}``): the
    teacher-forced pass over prompt + trace, plus the reflection question when asked for."""

    signals = trace_signals(model, tokenizer, list(records.values()))
    if any(d.partition(":")[0] == "self-reflection" for d in detectors):
        for key, score in reflection_scores(model, tokenizer, list(records.values())).items():
            signals[key]["reflection"] = score
    return signals


def probe_folder(spec: str) -> Path | None:
    name, _, argument = spec.partition(":")
    return Path(argument) if name == "probe" else None

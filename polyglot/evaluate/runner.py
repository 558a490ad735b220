"""``evaluate(config)``: generate, score and report one model on one benchmark, resumably.

A run lives in one folder (``config.out``):

- ``run.json`` (the run's card, with ``run.md``): the config, the model's identity (path,
  revision, a fingerprint of all its files), package versions, the benchmark data's hash and
  the start time, written when the run starts;
- ``generations.jsonl``: one record per item, appended as each batch finishes;
- ``results.json``, ``report.md``, ``report.html``: written (atomically) when all items are done.

Rerunning the same command resumes a killed run with the same batches and seeds, so the
results are the ones an uninterrupted run gives. A finished run is returned as is only when its
config, its model's and adapter's fingerprints and its benchmark data's hash all match; a run
folder whose run differs in any of them, finished or not, is refused with what changed, unless
``overwrite`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.data.benchmarks import ParallelDataset, load_benchmark
from polyglot.data.prompts import build_prompt, render_prompt
from polyglot.evaluate.config import EvalConfig
from polyglot.evaluate.cost import run_cost
from polyglot.evaluate.plan import PLAN_FILE, prefilled, routed_example, translate_plan
from polyglot.evaluate.records import append_records, read_records
from polyglot.evaluate.results import summarize
from polyglot.evaluate.scoring import score_outputs
from polyglot.files import read_json, write_atomic, write_json
from polyglot.generation.base import Request
from polyglot.generation.loop import generate_missing
from polyglot.generation.registry import load_backend
from polyglot.outputs import OutputRefused, claim, identity_differences
from polyglot.progress import logger
from polyglot.provenance import (
    looks_local,
    make_card,
    model_identity,
    now,
    read_card,
    write_card,
)
from polyglot.report import eval_run_page
from polyglot.text.thinking import KNOWN_TAGS
from polyglot.translate import TranslationCache, chrf, load_translator

RUN_FILE, GENERATIONS, RESULTS = "run.json", "generations.jsonl", "results.json"
TRANSLATIONS = "translations.jsonl"  # translate-all: the cached English of each item
_RUN_KEYS = ("config", "model", "benchmark", "dataset_hash")
_RECORD_KEYS = ("key", "lang", "correct", "output")


@dataclass
class RunResult:
    out: Path
    results: dict
    generated: int  # items generated in this call (0 when the run was already complete)
    warnings: list[str] = field(default_factory=list)


def dataset_hash(dataset: ParallelDataset, mode: str = "native-cot", shots: int = 0) -> str:
    """sha256 over every item's id, gold answer and plain prompt (question, few-shot exemplars,
    the pack's labels): a changed item, exemplar or prompt string changes it. A chat template
    belongs to the tokenizer, which the model's fingerprint covers."""
    digest = hashlib.sha256()
    for key in sorted(dataset.examples):
        example = dataset.examples[key]
        prompt = build_prompt(example, dataset, mode, shots)
        digest.update(
            json.dumps(
                [
                    example.id,
                    example.lang,
                    example.answer_value,
                    render_prompt(prompt),
                    prompt.stop,
                ],
                ensure_ascii=False,
            ).encode()
        )
    return digest.hexdigest()[:16]


def card_damage(run: dict) -> str | None:
    """What a run card lacks that a run needs (None when whole)."""
    missing = [key for key in _RUN_KEYS if not isinstance(run.get(key), dict | str)]
    benchmark = run.get("benchmark")
    if isinstance(benchmark, dict):
        missing += [
            f"benchmark.{key}"
            for key, kind in (("languages", list), ("ids", list), ("items", int))
            if not isinstance(benchmark.get(key), kind)
        ]
    return f"damaged run card (no {', '.join(missing)})" if missing else None


def read_run(out: Path) -> dict | None:
    """The run card of ``out`` (None for a new run); a damaged or partial one is refused."""
    hint = "; pass --overwrite to start the run again"
    try:
        run = read_card(out, RUN_FILE)
    except ConfigError as err:
        raise ConfigError(f"{err}{hint}") from None
    if run is not None and card_damage(run):
        raise ConfigError(f"{out / RUN_FILE}: {card_damage(run)}{hint}")
    return run


def _same_path(a, b) -> bool:
    """Two spellings of one local folder (``tiny/model``, ``./tiny/model/``) are the same."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and looks_local(a) and looks_local(b):
        return os.path.realpath(a) == os.path.realpath(b)
    return False


def what_changed(previous: dict, config: EvalConfig, identity: dict, data_hash: str) -> list[str]:
    """Why ``previous`` is not this run: config fields, model or adapter files, benchmark data."""
    damage = card_damage(previous)
    if damage:
        return [damage]
    before, now_ = previous.get("config", {}), config.result_fields()
    changed = [
        f"{k} {before.get(k)!r} -> {now_.get(k)!r}"
        for k in sorted(set(before) | set(now_))
        if before.get(k) != now_.get(k)
        and not (k in ("model", "adapter") and _same_path(before.get(k), now_.get(k)))
    ]
    old_model = previous.get("model", {})
    if old_model.get("fingerprint_method") != identity.get("fingerprint_method"):
        return changed + [
            "it was made by an older polyglot whose model fingerprints cannot be checked"
        ]
    for key, what in (("fingerprint", "model files"), ("adapter_fingerprint", "adapter files")):
        old, new = old_model.get(key), identity.get(key)
        if old != new:
            changed.append(f"{what} changed (fingerprint {old} -> {new})")
    if previous.get("dataset_hash") != data_hash:
        changed.append(
            f"benchmark items or prompts changed (hash {previous.get('dataset_hash')} -> "
            f"{data_hash})"
        )
    return changed


def _clear(out: Path) -> None:
    # translations.jsonl is kept: it names its translator, and is reused only by the same one
    for name in (
        RUN_FILE,
        PLAN_FILE,
        GENERATIONS,
        RESULTS,
        "report.md",
        "report.html",
        "run.md",
    ):
        (out / name).unlink(missing_ok=True)


def _requests(
    dataset: ParallelDataset,
    config: EvalConfig,
    tokenizer,
    tags: tuple[str, str] | None = None,
    translations: dict[str, str] | None = None,
) -> list[Request]:
    options = {} if config.enable_thinking is None else {"enable_thinking": config.enable_thinking}
    translations = translations or {}
    requests = []
    for lang in dataset.languages:
        for example in dataset.for_language(lang):
            translation = translations.get(f"{lang}/{example.id}")
            routed = routed_example(example, translation, config.inject)
            prompt = build_prompt(routed, dataset, config.mode, config.shots)
            prompt = prefilled(prompt, translation, config.inject)
            text = render_prompt(prompt, tokenizer, config.chat_template, options)
            # a prompt that ends inside an opened block (R1-style templates): outputs start
            # thinking
            opened = bool(tags) and text.rfind(tags[0]) > text.rfind(tags[1])
            requests.append(Request(f"{lang}/{example.id}", text, prompt.stop, tags, opened))
    return requests


def thinking_tags(config: EvalConfig, tokenizer) -> tuple[str, str] | None:
    """The thinking block's tags when outputs have one: set in the config, or declared by the
    tokenizer (its chat template or vocabulary has the closing tag)."""
    if config.thinking == "off":
        return None
    if config.thinking == "on":
        return config.thinking_tags
    template = getattr(tokenizer, "chat_template", None) or ""
    template = template if isinstance(template, str) else str(template)
    vocabulary = tokenizer.get_vocab() if tokenizer is not None else {}
    for tags in (config.thinking_tags, *KNOWN_TAGS):
        if tags[1] in template or tags[1] in vocabulary:
            return tuple(tags)
    return None


_SAME = object()


def config_dataset(config: EvalConfig, languages=None, limit=_SAME) -> ParallelDataset:
    """The benchmark items an eval config names (its languages and limit unless given)."""
    return load_benchmark(
        config.benchmark,
        config.languages if languages is None else languages,
        data=config.data,
        columns=config.columns.model_dump() if config.columns else None,
        limit=config.limit if limit is _SAME else limit,
    )


def execute(config: EvalConfig, backends: dict) -> RunResult:
    """Run ``config``'s items on their routes (native, or from their English translation) into
    ``config.out``; see the module docstring. Strategies compose their runs from this one
    executor; ``polyglot.evaluate.evaluate`` is the entry point that picks the strategy.

    ``backends``: a dict kept by the caller and shared between calls, so that several
    evaluations with the same generation settings (one model, several benchmarks) load the
    model once.
    """
    dataset = config_dataset(config)
    if config.items is not None:
        dataset = only_items(dataset, config.items)
    keys = [f"{lang}/{i}" for lang in dataset.languages for i in dataset.ids]
    # The model's identity comes from its files (hashed in full, cached), so a run of a model
    # whose weights changed under the same path is never mistaken for this one.
    identity = model_identity(config.model, config.adapter, config.revision)
    data_hash = dataset_hash(dataset, config.mode, config.shots)
    done: dict = {}

    def complete(folder: Path) -> bool:
        done.update(read_records(folder / GENERATIONS, repair=True))
        return all(k in done for k in keys)

    with claim(
        config.out,
        "eval-run",
        card=RUN_FILE,
        overwrite=config.overwrite,
        complete=complete,
        differences=lambda previous: what_changed(previous, config, identity, data_hash),
        ours=(GENERATIONS, RESULTS),
        beside_others=True,
    ) as taken:
        out = taken.folder
        if taken.state == "reuse":  # finished, same model, data and config
            results = _read_results(out) or finish_run(out)  # results.json is derived
            return RunResult(out, results, 0, run_warnings(results))
        previous = taken.previous if taken.state == "resume" else None
        if previous is None:
            done.clear()  # --overwrite: the old run is deleted only once the new one can start
        out.mkdir(parents=True, exist_ok=True)
        return _generate(config, backends, out, dataset, identity, data_hash, previous, done)


def _generate(config, backends, out, dataset, identity, data_hash, previous, done) -> RunResult:
    """Generate the items of ``dataset`` not in ``done`` into the claimed folder ``out``."""
    backend = shared_backend(config, backends, identity)
    tokenizer = getattr(backend, "tokenizer", None)
    tags = thinking_tags(config, tokenizer)
    run = make_card(
        "eval-run",
        config.result_fields(),
        inputs={"model": identity, "dataset_hash": data_hash},
        model=backend.describe(),
        engine=config.engine(),
        benchmark={
            "name": dataset.name,
            "languages": dataset.languages,
            "items": len(dataset),
            "ids": dataset.ids,
        },
        dataset_hash=data_hash,
        thinking=list(tags) if tags else None,
        started=now(),
    )
    if previous is not None:
        # "auto" device and dtype resolve per machine: never mix generations of two
        old_model, new_model = previous.get("model", {}), run["model"]
        mixed = [
            f"{key} {old_model.get(key)} -> {new_model.get(key)}"
            for key in ("backend", "device", "dtype")
            if str(old_model.get(key)).split(":")[0] != str(new_model.get(key)).split(":")[0]
        ]
        if mixed:
            raise OutputRefused(
                f"{out} holds an unfinished run made with another {', '.join(mixed)}; "
                "pass --overwrite to start it again here, or choose another --out",
                folder=out,
                overwrite_helps=True,
                differences=mixed,
            )
        run["started"] = previous.get("started")
        run["resumed"] = now()
    # the translator is loaded and checked before anything is written: a translator that
    # cannot run leaves the folder (and a finished run in it) as it was
    translating = load_run_translator(config, dataset, backend, backends)
    if config.overwrite:
        _clear(out)
    write_card(out, run, RUN_FILE)
    keys = [f"{lang}/{i}" for lang in dataset.languages for i in dataset.ids]
    translate_plan(config.strategy, keys, config.translator).write(out)

    examples = {
        f"{lang}/{i}": dataset.get(i, lang) for lang in dataset.languages for i in dataset.ids
    }
    translations, english = _translations(config, out, translating)
    requests = _requests(dataset, config, tokenizer, tags, translations)
    opened = {r.key: r.opened for r in requests}
    prompts = {r.key: r.prompt for r in requests}
    generated = 0
    for generations in generate_missing(backend, requests, done, progress=config.progress):
        fresh = []
        for g in generations:
            example = examples[g.key]
            translation = translations.get(g.key)
            # replaced by its English: solved (and its answer read) as an English item
            solved_in = (
                "en" if translation is not None and config.inject == "replace" else example.lang
            )
            strategy = (
                {"translated": translation is not None, "translation": translation,
                 "reference_en": english.get(example.id), "solved_in": solved_in}
                if config.strategy != "native" else {}
            )  # fmt: skip
            record = {
                "key": g.key,
                "id": example.id,
                "lang": example.lang,
                "gold": example.answer_value,
                "prompt": prompts[g.key],
                **strategy,
                **score_outputs(g.outputs, solved_in, example.answer_value, tags, opened[g.key]),
                "new_tokens": g.new_tokens[0] if len(g.new_tokens) == 1 else g.new_tokens,
                "prompt_tokens": g.prompt_tokens,
                "truncated": g.truncated,
                "seconds": round(g.seconds, 4),
                "batch": g.batch,
            }
            fresh.append(record)
        append_records(out / GENERATIONS, fresh)
        for record in fresh:
            done[record["key"]] = record
        generated += len(fresh)

    results = finish_run(out)
    return RunResult(out, results, generated, run_warnings(results))


def shared_backend(config: EvalConfig, backends: dict | None, identity: dict | None = None):
    """The backend of ``config``'s generation settings, loaded once per ``backends`` dict."""
    settings = config.generation()
    identity = identity or model_identity(config.model, config.adapter, config.revision)
    # the model's identity is part of the key: weights rewritten at the same path are reloaded
    cache_key = settings.model_dump_json() + json.dumps(identity)
    cached = (backends or {}).get(cache_key)
    if cached is not None and not getattr(cached, "closed", False):  # replicas stopped: reload
        return cached
    backend = load_backend(settings)
    if backends is not None:
        backends[cache_key] = backend
    return backend


def claim_strategy_run(config: EvalConfig):
    """The folder of a strategy's run (selective, clc), which composes sub-runs in its own
    subfolders: a run with other settings there is replaced only with --overwrite."""
    return claim(
        config.out,
        "eval-run",
        card=RUN_FILE,
        overwrite=config.overwrite,
        differences=lambda previous: identity_differences(
            previous.get("config") or {}, config.result_fields()
        ),
        beside_others=True,
    )


def only_items(dataset: ParallelDataset, items: list[str]) -> ParallelDataset:
    """The dataset restricted to ``items`` (ids), in the dataset's order."""
    from dataclasses import replace

    unknown = sorted(set(items) - set(dataset.ids))
    if unknown:
        raise ConfigError(f"items not in benchmark '{dataset.name}': {', '.join(unknown[:5])}")
    wanted = set(items)
    return replace(dataset, ids=[i for i in dataset.ids if i in wanted])


def load_run_translator(config: EvalConfig, dataset: ParallelDataset, backend, backends=None):
    """For a translating strategy: the translator (loaded once per ``backends`` dict and
    checked on the run's languages), the items to translate and the benchmark's English by id;
    None for a native run."""
    if config.strategy == "native":
        return None

    try:
        # all of it: a translator's output must not depend on --limit
        reference = config_dataset(config, ["en"], limit=None)
    except ConfigError as err:
        raise ConfigError(
            f"--translator {config.translator} needs the benchmark's English version: {err}"
        ) from None
    english = {example.id: example.question for example in reference.for_language("en")}
    settings = config.generation()
    key = (
        f"translator:{config.translator}:{settings.model_dump_json()}:{dataset.name}:{config.data}"
    )
    translator = (backends or {}).get(key)
    if translator is None:
        translator = load_translator(
            config.translator,
            {"en": english},
            seed=config.seed,
            backend=backend,
            exemplars={**dataset.exemplars, **reference.exemplars},
            settings=settings,
        )
        if backends is not None:  # selective's per-language sub-runs load an MT model once
            backends[key] = translator
    sources = [lang for lang in dataset.languages if lang != "en"]
    translator.check(sources)  # a language it cannot translate: said before any generation
    items = [
        (f"{lang}/{example.id}", lang, example.question)
        for lang in sources
        for example in dataset.for_language(lang)
    ]
    return translator, items, english


def _translations(config: EvalConfig, out: Path, translating):
    """The English translation of every non-English item, from the run's cache (a cache of
    another translator is replaced with --overwrite, refused without) or the translator; and
    the benchmark's own English questions by id (for chrF)."""
    if translating is None:
        return {}, {}

    translator, items, english = translating
    cache = TranslationCache(out / TRANSLATIONS, translator.identity(), replace=config.overwrite)
    return cache.translate(translator, items), english


def _translation_figures(summary: dict, records: list[dict], languages: list[str]) -> None:
    """translate-all: per language, the share of items translated and the translations' chrF
    against the benchmark's English (100 for the reference itself)."""
    if not any("translated" in r for r in records):
        return

    for lang in languages:
        rows = [r for r in records if r["lang"] == lang and "translated" in r]
        done = [r for r in rows if r["translated"]]
        pairs = [(r["translation"], r["reference_en"]) for r in done if r.get("reference_en")]
        summary["languages"][lang]["translation"] = {
            "rate": round(len(done) / len(rows), 4) if rows else None,
            "translated": len(done),
            "chrf": chrf([h for h, _ in pairs], [ref for _, ref in pairs]) if pairs else None,
            "translated_ids": sorted(r["id"] for r in done),
        }


def _read_results(out: Path) -> dict | None:
    """A finished run's results.json, or None when it is missing or damaged (rebuilt then)."""
    try:
        results = read_json(out / RESULTS, "results file")
    except ConfigError:
        return None
    keys = ("schema", "summary", "languages", "run")
    if not isinstance(results, dict) or any(not results.get(k) for k in keys):
        return None
    return results


def write_run_reports(out: Path, results: dict, records: list[dict], warnings: list[str]) -> None:
    """``report.html`` and ``report.md`` of one run."""

    html, markdown = eval_run_page(results, records, warnings)
    write_atomic(out / "report.md", markdown)
    write_atomic(out / "report.html", html)
    for warning in warnings:
        logger.warning("%s: %s", out, warning)


def run_warnings(results: dict) -> list[str]:
    """What a user must know about a run's numbers (printed by the CLI, shown in reports)."""
    notes = []
    for lang, row in results.get("languages", {}).items():
        if row.get("truncated_prompts"):
            notes.append(
                f"{lang}: {row['truncated_prompts']} of {row['n']} prompts were longer than the "
                "model's context and lost their start"
            )
    return notes


def finish_run(out: str | Path) -> dict:
    """(Re)compute results.json and the reports of a run folder from its records."""
    out = Path(out)
    if out.is_file():
        raise ConfigError(f"{out}: is a file; pass the run folder")
    if not out.is_dir():
        raise ConfigError(f"{out}: no such run folder")
    run = read_run(out)
    if run is None:
        raise ConfigError(f"{out} is not a polyglot eval run ({RUN_FILE} missing)")
    records = list(read_records(out / GENERATIONS, required=_RECORD_KEYS).values())
    languages = run["benchmark"]["languages"]
    ids = run["benchmark"]["ids"]
    expected = run["benchmark"]["items"] * len(languages)
    if len(records) < expected:
        raise ConfigError(
            f"{out}: run incomplete ({len(records)} of {expected} generations); rerun the "
            "same `polyglot eval` command to resume it"
        )
    seconds = sum(r.get("seconds", 0.0) for r in records)
    summary = summarize(records, languages, ids)
    _translation_figures(summary, records, languages)

    results = {
        **summary,
        "cost": run_cost(out),
        "run": {
            **run,
            "name": out.name,
            "finished": now(),
            "generation_seconds": round(seconds, 2),
            "items_per_second": round(len(records) / seconds, 2) if seconds else None,
        },
    }
    write_json(out / RESULTS, results)
    write_run_reports(out, results, records, run_warnings(results))
    return results

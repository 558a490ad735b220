"""The ``polyglot`` command line. Each command is a thin layer over a library function."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from polyglot import __version__
from polyglot.cli import (
    data,
    detect,
    distill,
    evaluate,
    languages,
    merge,
    output,
    testbed,
    text,
    train,
)
from polyglot.cli.errors import fail, friendly_errors
from polyglot.progress import log_to_file, logger
from polyglot.quickstart import quickstart as run_quickstart
from polyglot.report.format import pct, points

app = typer.Typer(
    help="polyglot: move an LLM's reasoning from English into other languages, and measure how far it got.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(languages.app, name="languages")
app.add_typer(text.app, name="text")
app.add_typer(data.app, name="data")
app.add_typer(testbed.app, name="testbed")
app.add_typer(train.app, name="train")
app.add_typer(merge.app, name="merge")
app.add_typer(detect.app, name="detect")
app.command("eval")(evaluate.eval_command)
app.command("report")(evaluate.report_command)
app.command("distill")(distill.distill_command)
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
    log_file: Path | None = typer.Option(
        None,
        "--log-file",
        help="Write the full detail (every training log, stage message, library warning) here.",
    ),
) -> None:
    """polyglot command line."""
    if log_file is not None:
        if log_file.is_dir():
            fail(f"--log-file {log_file}: is a folder, expected a file")
        log_to_file(log_file)
        logger.info("polyglot %s: %s", __version__, " ".join(sys.argv[1:]))


@app.command()
@friendly_errors
def quickstart(
    out: str = typer.Option("runs/quickstart", "--out", help="Folder for the results."),
    testbed_dir: str | None = typer.Option(
        None, "--testbed", help="Testbed folder (default runs/testbed, or runs/testbed-tiny)."
    ),
    tiny: bool = typer.Option(
        False, "--tiny", help="Tiny world and model: the whole path in well under a minute."
    ),
    fresh: bool = typer.Option(
        False,
        "--fresh",
        help="Train the testbed's tokenizer and base here instead of using the shipped ones, and "
        "rerun every stage.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = output.QUIET,
) -> None:
    """The whole pipeline: packs and extraction checks, the testbed (world built here; the
    shipped tokenizer and base model, or trained here with --fresh), the base model evaluated on
    every testbed language and on a slice of real MGSM, one fine-tuning stage (polyglot train
    on the best CoT schema in one low-resource language), and OUT/report.html. Rerunning reuses
    finished stages."""

    if not quiet:
        languages.print_pack_table()
    summary = run_quickstart(
        out,
        testbed_dir=testbed_dir,
        tiny=tiny,
        fresh=fresh,
        progress=progress and not quiet,
        log=output.stage_messages(quiet),
    )
    # one row per stage, one column per language: readable in an 80-column terminal
    table = Table(title="polyglot quickstart: accuracy per stage (%)")
    table.add_column("stage · benchmark", ratio=1)
    for lang in summary["languages"]:
        table.add_column(lang, justify="right")
    table.add_column("gap", justify="right", style="bold")
    for row in summary["stages"]:
        table.add_row(
            f"{row['model']} · {row['benchmark']}",
            *(pct(row["per_language"].get(lang)) for lang in summary["languages"]),
            points(row["gap_points"]),
        )
    console.print(table)
    console.print(f"report: {out}/report.html", markup=False)

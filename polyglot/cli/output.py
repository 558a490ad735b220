"""What commands print: stage messages (hidden by --quiet, always in the --log-file)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

from polyglot.progress import logger
from polyglot.report.format import pct

console = Console(highlight=False)

QUIET = typer.Option(
    False, "--quiet", "-q", help="No progress bars or stage messages (the --log-file keeps them)."
)


def stage_messages(quiet: bool) -> Callable[[str], None]:
    """A ``log`` function for library calls: to the terminal unless quiet, to the log always."""

    def log(message: str) -> None:
        logger.info(message)
        if not quiet:
            console.print(f"[bold]{escape(message)}[/]")

    return log


def eval_tables(console, figures: dict | None, what: str, *, fidelity: bool = False) -> None:
    """One table per benchmark of a trained or distilled model's accuracy (Wilson 95%), and
    the share of its CoT in the language with ``fidelity``."""
    from rich.markup import escape
    from rich.table import Table

    for bench, languages in (figures or {}).items():
        table = Table(title=escape(f"{bench}: accuracy of {what} (Wilson 95%)"))
        columns = ["language", "accuracy", "95% interval"] + (
            ["CoT in language"] if fidelity else []
        )
        for column in columns:
            table.add_column(column, justify="right")
        for lang, row in languages.items():
            low, high = row["ci95"]
            cells = [lang, pct(row["accuracy"]), f"{pct(low)}–{pct(high)}"]
            table.add_row(*cells, *([pct(row.get("fidelity"))] if fidelity else []))
        console.print(table)

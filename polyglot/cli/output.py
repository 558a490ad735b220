"""What commands print: stage messages (hidden by --quiet, always in the --log-file)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

from polyglot.progress import logger

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

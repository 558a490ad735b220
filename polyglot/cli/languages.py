"""``polyglot languages``: list the language packs, or show one."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from polyglot.cli.errors import friendly_errors
from polyglot.packs import all_packs, load_pack

app = typer.Typer(help="List language packs (languages/*.yaml) or show one.", no_args_is_help=False)
console = Console()


@app.callback(invoke_without_command=True)
@friendly_errors
def languages(ctx: typer.Context) -> None:
    """List every language pack as a table."""
    if ctx.invoked_subcommand is None:
        print_pack_table()


def print_pack_table() -> None:
    table = Table(title=f"{len(all_packs())} language packs (languages/*.yaml)")
    for column in ("code", "name", "12345.5 written", "answer cue"):
        table.add_column(column, no_wrap=True)
    for code, pack in all_packs().items():
        table.add_row(
            code,
            f"{pack.name} ({pack.native_name})",
            pack.render_number(12345.5),
            pack.render_answer(18),
        )
    console.print(table)


@app.command()
@friendly_errors
def show(code: str = typer.Argument(..., help="ISO 639-1 code, e.g. ko.")) -> None:
    """Print one pack: scripts, number format, prompt strings, cues and a lexicon sample."""
    pack = load_pack(code)
    table = Table(title=f"{pack.name} ({pack.native_name}) [{pack.code}]", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    numbers = pack.numbers
    rows = {
        "scripts": ", ".join(pack.scripts),
        "space-delimited": str(pack.space_delimited),
        "sentence terminators": " ".join(repr(t) for t in pack.sentence_terminators),
        "digits": numbers.digits,
        "decimal separator": repr(numbers.decimal_separator),
        "thousands separators": " ".join(repr(s) for s in numbers.thousands_separators),
        "grouping": str(numbers.grouping),
        "1234567.5 as written": pack.render_number(1234567.5),
        **{f"prompt: {k}": v for k, v in pack.prompts.model_dump().items()},
        "answer cues": " | ".join(pack.answer_cues),
        "fastText label": " ".join([pack.fasttext_label, *pack.fasttext_aliases]),
        "lexicon": f"{len(pack.lexicon)} entries, e.g. "
        + ", ".join(f"{en}={tr}" for en, tr in list(pack.lexicon.items())[:6]),
    }
    if pack.detection.confusable_with:
        rows["told apart from"] = ", ".join(pack.detection.confusable_with)
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)

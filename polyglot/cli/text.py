"""``polyglot text``: debug one string: its final answer, or its language."""

from __future__ import annotations

import typer

from polyglot.cli.errors import friendly_errors
from polyglot.detect import detect_language, language_shares
from polyglot.packs import load_pack
from polyglot.text.answers import extract_answer

app = typer.Typer(
    help="Debug one string: extract its answer or detect its language.", no_args_is_help=True
)


@app.command()
@friendly_errors
def answer(
    text: str = typer.Argument(..., help="A model output, e.g. 'Die Antwort lautet 1.000.'"),
    lang: str = typer.Option(
        "en", "--lang", "-l", help="Language whose cues and number format apply."
    ),
) -> None:
    """Print the final numeric answer in TEXT and the rule that found it (exit 1 if none)."""

    found = extract_answer(text, load_pack(lang))
    if not found.found:
        typer.echo(f"no answer ({found.reason})")
        raise typer.Exit(1)
    typer.echo(f"{found.display_value()}\trule={found.rule}\tmatched={found.span!r}")


@app.command("lang")
@friendly_errors
def lang_(
    text: str = typer.Argument(..., help="Any text."),
    sentences: bool = typer.Option(False, "--sentences", help="Also show each language's share."),
) -> None:
    """Print the detected language of TEXT and its score."""

    detection = detect_language(text)
    typer.echo(f"{detection.lang}\tscore={detection.score:.3f}\tmethod={detection.method}")
    if sentences:
        for code, share in language_shares(text).items():
            typer.echo(f"  {code}\t{share:.1%}")

"""``polyglot testbed``: build the synthetic world, its tokenizer and the base model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyglot.cli.config import OVERRIDES, settings_from, with_default
from polyglot.cli.errors import friendly_errors
from polyglot.cli.output import QUIET, stage_messages
from polyglot.config import merge_overrides, validate_model
from polyglot.testbed.build import TestbedConfig, build_testbed, tiny_config

app = typer.Typer(
    help="The built-in testbed: a synthetic multilingual world and tiny models.",
    no_args_is_help=True,
)
console = Console(highlight=False)


@app.command()
@friendly_errors
def build(
    overrides: list[str] = OVERRIDES,
    config_file: Path | None = typer.Option(
        None, "--config", "-c", help="A testbed config YAML (world: ..., model: ...)."
    ),
    out: Path = typer.Option(Path("runs/testbed"), "--out", "-o", help="Testbed folder."),
    tiny: bool = typer.Option(
        False, "--tiny", help="A tiny world and model, in seconds (for tests)."
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Rebuild every stage."),
    shipped: bool = typer.Option(
        False,
        "--shipped",
        help="Take the tokenizer and base model shipped with polyglot (built once, the same on "
        "every machine; what the quickstart uses) instead of training them here.",
    ),
    languages: str | None = typer.Option(
        None,
        "--languages",
        "-l",
        help=with_default("Comma-separated; must include en.", TestbedConfig, "world.languages"),
    ),
    steps: int | None = typer.Option(
        None,
        "--steps",
        help=with_default("Base-model training steps.", TestbedConfig, "model.steps"),
    ),
    problems: int | None = typer.Option(
        None,
        "--problems",
        help=with_default("Training problems in the world.", TestbedConfig, "world.train"),
    ),
    seed: int | None = typer.Option(
        None, "--seed", help=with_default("World and model seed.", TestbedConfig, "world.seed")
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    quiet: bool = QUIET,
) -> None:
    """Write OUT/world (parallel train/dev/test problems with English, native and mixed CoTs, and
    general text per language, translation pairs included), OUT/tokenizer (sentencepiece, HF
    format) and OUT/base (a tiny Llama pretrained on all languages' general text, English math
    and native-CoT math at graded shares, so its gap to English is graded). With --shipped the
    tokenizer and base are the ones polyglot ships (the same on every machine). Finished stages
    are reused on a rerun."""

    listed = [code.strip() for code in languages.split(",") if code.strip()] if languages else None
    flags = {"world.languages": listed, "model.steps": steps, "world.train": problems,
             "world.seed": seed, "model.seed": seed}  # fmt: skip
    values, source = settings_from(config_file, overrides, flags)
    start = (tiny_config() if tiny else TestbedConfig()).model_dump(mode="json")
    config = validate_model(merge_overrides(start, values), TestbedConfig, source=source)
    state = build_testbed(
        out,
        config,
        fresh=fresh,
        shipped=shipped,
        progress=progress and not quiet,
        log=stage_messages(quiet),
    )
    table = Table(title=escape(f"testbed in {out}"))
    table.add_column("stage")
    table.add_column("result")
    for stage, info in state["stages"].items():
        table.add_row(stage, ", ".join(f"{k}: {v}" for k, v in info.items() if v is not None))
    console.print(table)
    console.print(
        f"evaluate it: polyglot eval --model {out}/base --benchmark testbed "
        f"(set POLYGLOT_TESTBED_DIR={out} if not runs/testbed)",
        markup=False,
    )

"""``polyglot detect``: understanding-failure detectors for selective translation."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from polyglot.cli.errors import friendly_errors
from polyglot.strategies.selective.calibrate import train_detectors

app = typer.Typer(
    help="Understanding-failure detectors (selective translation): calibrate them on a model, "
    "train the probe, judge each on held-out items.",
    no_args_is_help=True,
)
console = Console(highlight=False)


@app.command()
@friendly_errors
def train(
    model: str = typer.Option(..., "--model", "-m", help="The model the detectors watch."),
    benchmark: str = typer.Option(
        "testbed", "--benchmark", help="A parallel benchmark with English (its reference)."
    ),
    languages: str = typer.Option("all", "--languages", "-l", help="Comma-separated."),
    data: str = typer.Option(
        None,
        "--data",
        help="Calibration items instead of the benchmark's ({lang} in the path); keep them "
        "apart from the items you will evaluate, e.g. runs/testbed/world/train/{lang}.jsonl.",
    ),
    limit: int = typer.Option(None, "--limit", help="The first N items per language."),
    max_new_tokens: int = typer.Option(160, "--max-new-tokens"),
    device: str = typer.Option("auto", "--device"),
    adapter: str = typer.Option(
        None, "--adapter", help="A PEFT adapter on the model (the probe records its fingerprint)."
    ),
    revision: str = typer.Option(None, "--revision", help="Hub revision of the model."),
    mode: str = typer.Option(
        "native-cot", "--mode", help="Prompting, as in `polyglot eval`: direct, native-cot, en-cot."
    ),
    shots: int = typer.Option(0, "--shots", help="Few-shot examples, as in `polyglot eval`."),
    chat_template: bool = typer.Option(
        False, "--chat-template/--plain", help="Wrap prompts in the chat template."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo the calibration runs made with other settings."
    ),
    probe: str = typer.Option(
        "logistic", "--probe", help="logistic (default) or mlp (one hidden layer of 64 units)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seeds the splits and the probe."),
    out: str = typer.Option(..., "--out", "-o", help="Folder for the probe and its report."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run the model on calibration items natively and with the reference English, label each
    (1: wrong natively, right when understood; 0: right natively; wrong both ways: left out),
    train a class-weighted logistic probe on the last hidden state (early stopping on a
    validation split), and judge every detector (confidence, confidence-min, prompt-nll,
    self-reflection, language-drift, probe) on held-out items: balanced accuracy, F1, PR-AUC, ROC-AUC."""

    langs = languages if languages == "all" else [x.strip() for x in languages.split(",")]
    meta = train_detectors(
        model, out, benchmark=benchmark, languages=langs, data=data, limit=limit,
        max_new_tokens=max_new_tokens, device=device, adapter=adapter, revision=revision,
        mode=mode, shots=shots, chat_template=chat_template, seed=seed, probe_kind=probe, overwrite=overwrite,
        progress=progress,
        log=lambda m: console.print(m, markup=False),
    )  # fmt: skip
    table = Table(title=f"detectors on {meta['splits']['held_out']} held-out items")
    for column in ("detector", "balanced acc.", "F1", "PR-AUC", "ROC-AUC", "flagged %"):
        table.add_column(column, justify="right")
    for name, r in meta["detectors"].items():
        table.add_row(
            name, f"{r['balanced_accuracy']:.3f}", f"{r['f1']:.3f}",
            "–" if r["pr_auc"] is None else f"{r['pr_auc']:.3f}",
            "–" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}", f"{100 * r['flag_rate']:.1f}",
        )  # fmt: skip
    console.print(table)
    console.print(f"probe: {out} (use --detector probe:{out})", markup=False)

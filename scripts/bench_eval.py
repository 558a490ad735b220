"""Throughput of `polyglot eval` (hf backend) against EleutherAI's lm-evaluation-harness.

Same tiny local model, same MGSM items (the TSVs in ../shared/data/mgsm), same prompt text
(native-CoT, 0-shot, the language pack's labels), same stop strings and max new tokens,
greedy, on the CPU. lm-eval reads the TSVs through a task YAML this script writes. Reports
items/s for both, the ratio, both accuracies, and the share of items where the two produced
the same text.

    pip install -e '.[bench]'      # lm-eval[hf]
    python scripts/bench_eval.py --model runs/testbed/base --languages en,de,sw,th,bn --limit 20

Without --model it builds a random tiny model (4 layers) so the script runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch


def _tiny_model(root: Path) -> Path:
    from polyglot.testbed.model import TinyModelSpec, random_checkpoint

    return random_checkpoint(root, TinyModelSpec(layers=4, hidden=128, intermediate=352))


def _task_yaml(lang: str, tsv: Path, limit: int, max_new_tokens: int) -> str:
    from polyglot.packs import load_pack

    pack = load_pack(lang)
    prompt = (
        f"{pack.prompts.question} {{{{question}}}}\n{pack.prompts.step_by_step_answer} "
        f"{pack.prompts.think_step_by_step}"
    )
    until = [f"\n{pack.prompts.question}", "\n\n"]
    return "\n".join(
        [
            f"task: bench_mgsm_{lang}",
            "dataset_path: csv",
            "dataset_kwargs:",
            f"  data_files: {{test: {json.dumps(str(tsv))}}}",
            '  sep: "\\t"',
            "  column_names: [question, answer]",
            "  quoting: 3",
            "test_split: test",
            "output_type: generate_until",
            f"doc_to_text: {json.dumps(prompt, ensure_ascii=False)}",
            'doc_to_target: "{{answer}}"',
            "generation_kwargs:",
            f"  until: {json.dumps(until, ensure_ascii=False)}",
            "  do_sample: false",
            f"  max_gen_toks: {max_new_tokens}",
            "metric_list:",
            "  - metric: exact_match",
            "    aggregation: mean",
            "    higher_is_better: true",
            "filter_list:",
            "  - name: flexible-extract",
            "    filter:",
            "      - function: regex",
            "        group_select: -1",
            '        regex_pattern: "(-?[$0-9.,]{2,})|(-?[0-9]+)"',
            "      - function: take_first",
            "",
        ]
    )


def run_lm_eval(
    model: Path,
    languages: list[str],
    data: Path,
    limit: int,
    max_new_tokens: int,
    batch_size: int,
    work: Path,
) -> tuple[float, dict[str, list[str]], dict[str, float]]:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tasks_dir = work / "lm_eval_tasks"
    tasks_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        (tasks_dir / f"bench_mgsm_{lang}.yaml").write_text(
            _task_yaml(lang, data / f"mgsm_{lang}.tsv", limit, max_new_tokens), encoding="utf-8"
        )
    started = time.perf_counter()
    out = simple_evaluate(
        model="hf",
        model_args=f"pretrained={model},dtype=float32,device=cpu",
        tasks=[f"bench_mgsm_{lang}" for lang in languages],
        task_manager=TaskManager(include_path=str(tasks_dir)),
        batch_size=batch_size,
        limit=limit,
        log_samples=True,
    )
    seconds = time.perf_counter() - started
    outputs = {
        lang: [
            s["resps"][0][0]
            for s in sorted(out["samples"][f"bench_mgsm_{lang}"], key=lambda s: s["doc_id"])
        ]
        for lang in languages
    }
    accuracy = {
        lang: out["results"][f"bench_mgsm_{lang}"]["exact_match,flexible-extract"]
        for lang in languages
    }
    return seconds, outputs, accuracy


def run_polyglot(
    model: Path, languages: list[str], limit: int, max_new_tokens: int, work: Path
) -> tuple[float, dict[str, list[str]], dict[str, float]]:
    from polyglot.evaluate import EvalConfig, evaluate
    from polyglot.evaluate.records import read_records

    out = work / "polyglot_run"
    started = time.perf_counter()
    result = evaluate(
        EvalConfig(
            model=str(model),
            benchmark="mgsm",
            languages=languages,
            limit=limit,
            max_new_tokens=max_new_tokens,
            mode="native-cot",
            device="cpu",
            dtype="float32",
            out=str(out),
            overwrite=True,
            progress=False,
        )
    )
    seconds = time.perf_counter() - started
    records = read_records(out / "generations.jsonl")
    outputs = {lang: [records[f"{lang}/{i}"]["output"] for i in range(limit)] for lang in languages}
    accuracy = {lang: result.results["languages"][lang]["accuracy"] for lang in languages}
    return seconds, outputs, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", type=Path, help="checkpoint directory (default: a random tiny model)"
    )
    parser.add_argument("--languages", default="en,de,sw,th,bn")
    parser.add_argument("--limit", type=int, default=20, help="items per language")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument(
        "--lm-eval-batch-sizes",
        default="1,32",
        help="lm-eval batch sizes to measure (1 is its default)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each system; the fastest one counts"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from polyglot.resources import data_dir

    languages = args.languages.split(",")
    # Pay every import before the clocks start, so neither side is charged for them.
    import lm_eval.models.huggingface  # noqa: F401
    import transformers  # noqa: F401

    from polyglot.detect.language_id import detect_language

    detect_language("warm up the fastText model")
    work = Path(tempfile.mkdtemp(prefix="bench_eval_"))
    try:
        model = args.model or _tiny_model(work)
        # transformers imports a model's modules lazily, on first load: pay that here too,
        # or whichever system runs first is charged seconds of imports the other is not.
        from transformers import AutoModelForCausalLM, AutoTokenizer

        AutoModelForCausalLM.from_pretrained(model)
        AutoTokenizer.from_pretrained(model)
        items = args.limit * len(languages)

        def fastest(run):
            results = [run() for _ in range(args.repeats)]
            return min(results, key=lambda r: r[0])

        ours_s, ours_out, ours_acc = fastest(
            lambda: run_polyglot(model, languages, args.limit, args.max_new_tokens, work)
        )
        rows = [("polyglot hf", ours_s, ours_acc, 1.0)]
        for batch in [int(b) for b in args.lm_eval_batch_sizes.split(",")]:
            theirs_s, theirs_out, theirs_acc = fastest(
                lambda batch=batch: run_lm_eval(
                    model,
                    languages,
                    data_dir() / "mgsm",
                    args.limit,
                    args.max_new_tokens,
                    batch,
                    work,
                )
            )
            same = (
                sum(
                    a.strip() == b.strip()
                    for lang in languages
                    for a, b in zip(ours_out[lang], theirs_out[lang], strict=True)
                )
                / items
            )
            rows.append((f"lm-eval hf, batch {batch}", theirs_s, theirs_acc, same))
        print(
            f"\nmodel {model}; {len(languages)} languages x {args.limit} MGSM items = {items}; "
            f"max_new_tokens {args.max_new_tokens}; {args.threads} CPU threads; "
            f"fastest of {args.repeats} runs each\n"
        )
        print(
            "| system | seconds | items/s | polyglot speed-up | accuracy (mean over languages) | same output as polyglot |"
        )
        print("|---|---|---|---|---|---|")
        for name, seconds, acc, same in rows:
            mean_acc = sum(acc.values()) / len(acc)
            print(
                f"| {name} | {seconds:.1f} | {items / seconds:.2f} | {seconds / ours_s:.2f}x | "
                f"{100 * mean_acc:.1f}% | {100 * same:.0f}% |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The selective-translation figures on the testbed (docs/strategies.md).

    python scripts/selective_table.py [--model runs/testbed/base] [--out runs/strategies]
                                      [--calibration-limit 200]

1. `polyglot detect train` on calibration items of the train split (disjoint from the test
   split evaluated after): labels, the probe, every detector judged on held-out items;
2. `polyglot eval` on the test split (200 items per language): native, translate-all with the
   reference, and selective with the probe at its calibrated threshold and with each signal
   detector at the budget the probe used (same share translated: a fair comparison);
3. per language: accuracy of each, the translation rate, the oracle share (wrong natively and
   right from the reference: what a perfect detector translates) and the share of
   translate-all's gain recovered; and the accuracy-vs-translation-rate curve of the probe,
   swept over thresholds from the native and translate-all outcomes (no extra generation;
   `polyglot.strategies.selective.curve`, as `polyglot report` draws it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def records(folder: Path) -> dict[str, dict]:
    lines = (folder / "generations.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["key"]: r for r in map(json.loads, lines)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/testbed/base")
    parser.add_argument("--out", type=Path, default=Path("runs/strategies"))
    parser.add_argument("--calibration-limit", type=int, default=200)
    args = parser.parse_args()

    from polyglot.evaluate import EvalConfig, evaluate
    from polyglot.strategies.selective.calibrate import train_detectors

    languages = ["de", "sw", "ko", "th", "bn"]
    probe_dir = args.out / "probe"
    if (probe_dir / "probe.json").is_file():
        meta = json.loads((probe_dir / "probe.json").read_text())
    else:
        meta = train_detectors(
            args.model, probe_dir, languages=languages, limit=args.calibration_limit,
            data="runs/testbed/world/train/{lang}.jsonl", progress=False, log=lambda m: None,
        )  # fmt: skip
    common = {"model": args.model, "benchmark": "testbed", "languages": "all",
              "max_new_tokens": 160, "progress": False}  # fmt: skip
    native = evaluate(EvalConfig(**common, out=str(args.out / "native")))
    full = evaluate(EvalConfig(**common, strategy="translate-all", translator="reference",
                               out=str(args.out / "translate-all-reference")))  # fmt: skip
    probe_run = evaluate(EvalConfig(**common, strategy="selective", translator="reference",
                                    detector=f"probe:{probe_dir}",
                                    out=str(args.out / "selective-probe")))  # fmt: skip
    n, t = records(native.out), records(full.out)
    foreign = [k for k in n if n[k]["lang"] != "en"]
    used = sum(r["route"] == "translated" for r in records(probe_run.out).values()) / len(foreign)
    runs = {"probe": probe_run}
    for name in ("confidence", "prompt-nll", "self-reflection", "language-drift"):
        runs[name] = evaluate(
            EvalConfig(**common, strategy="selective", translator="reference", detector=name,
                       budget=round(used, 4), out=str(args.out / f"selective-{name}"))
        )  # fmt: skip

    print("Detectors on the held-out calibration items "
          f"({meta['splits']['held_out']} items; thresholds from the others):\n")  # fmt: skip
    print("| detector | balanced acc. | F1 | PR-AUC | ROC-AUC |")
    print("|---|---|---|---|---|")
    for name, r in meta["detectors"].items():
        print(f"| {name} | {r['balanced_accuracy']:.3f} | {r['f1']:.3f} | {r['pr_auc']:.3f} | "
              f"{r['roc_auc']:.3f} |")  # fmt: skip
    print("\nTest split, 200 items per language (accuracy; translated share):\n")
    header = "| language | native | translate-all | oracle share | "
    header += " | ".join(f"selective, {name}" for name in runs) + " | gain recovered (probe) |"
    print(header)
    print("|---|" + "---|" * (4 + len(runs)))
    totals = {"native": 0, "full": 0, "probe": 0, "oracle": 0, "translated": 0, "n": 0}
    for lang in languages:
        keys = [k for k in foreign if n[k]["lang"] == lang]
        native_acc = sum(n[k]["correct"] for k in keys) / len(keys)
        full_acc = sum(t[k]["correct"] for k in keys) / len(keys)
        oracle = sum((not n[k]["correct"]) and t[k]["correct"] for k in keys) / len(keys)
        cells = []
        for run in runs.values():
            table = run.results["languages"][lang]
            rate = table["translation"]["rate"]
            cells.append(f"{100 * table['accuracy']:.1f}% ({100 * rate:.0f}%)")
        probe_acc = runs["probe"].results["languages"][lang]["accuracy"]
        gain = full_acc - native_acc
        recovered = f"{100 * (probe_acc - native_acc) / gain:.0f}%" if gain > 0.005 else "–"
        print(f"| {lang} | {100 * native_acc:.1f}% | {100 * full_acc:.1f}% | "
              f"{100 * oracle:.1f}% | " + " | ".join(cells) + f" | {recovered} |")  # fmt: skip
        probe_rate = runs["probe"].results["languages"][lang]["translation"]["rate"]
        for key, value in (("native", native_acc), ("full", full_acc), ("probe", probe_acc),
                           ("oracle", oracle), ("translated", probe_rate)):  # fmt: skip
            totals[key] += value * len(keys)
        totals["n"] += len(keys)
    m = {k: v / totals["n"] for k, v in totals.items() if k != "n"}
    recovered = (m["probe"] - m["native"]) / (m["full"] - m["native"])
    print(f"\nAll gap languages: native {100 * m['native']:.1f}%, translate-all "
          f"{100 * m['full']:.1f}%, selective (probe) {100 * m['probe']:.1f}% translating "
          f"{100 * m['translated']:.1f}% (oracle share {100 * m['oracle']:.1f}%; "
          f"{m['translated'] / m['oracle']:.2f}x): {100 * recovered:.1f}% of the gain")  # fmt: skip

    print("\nSelective (probe) with noisier translators: the gain follows translation quality"
          " (accuracy over all gap languages; translated share):\n")  # fmt: skip
    print("| translator | chrF | translate-all | selective, probe | gain recovered |")
    print("|---|---|---|---|---|")
    for spec in ("reference", "noisy-reference:0.1", "noisy-reference:0.2"):
        name = spec.replace(":", "-")
        noisy_full = evaluate(EvalConfig(**common, strategy="translate-all", translator=spec,
                                         out=str(args.out / f"translate-all-{name}")))  # fmt: skip
        noisy_sel = (
            probe_run if spec == "reference" else
            evaluate(EvalConfig(**common, strategy="selective", translator=spec,
                                detector=f"probe:{probe_dir}",
                                out=str(args.out / f"selective-probe-{name}")))
        )  # fmt: skip
        f, s_ = records(noisy_full.out), records(noisy_sel.out)
        acc_full = sum(f[k]["correct"] for k in foreign) / len(foreign)
        acc_sel = sum(s_[k]["correct"] for k in foreign) / len(foreign)
        rate = sum(s_[k]["route"] == "translated" for k in foreign) / len(foreign)
        chrf = [noisy_full.results["languages"][lang]["translation"]["chrf"] for lang in languages]
        gain = acc_full - m["native"]
        recovered = f"{100 * (acc_sel - m['native']) / gain:.0f}%" if gain > 0.005 else "–"
        print(f"| {spec} | {min(chrf):.0f}–{max(chrf):.0f} | {100 * acc_full:.1f}% | "
              f"{100 * acc_sel:.1f}% ({100 * rate:.1f}%) | {recovered} |")  # fmt: skip

    from polyglot.strategies.selective.curve import selective_curve

    curve = selective_curve(probe_run.out, t)["all"]
    print("\nThe probe's accuracy-vs-translation-rate curve (all gap languages):")
    for rate in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
        point = min(curve["curve"], key=lambda p: abs(p[0] - rate))
        print(f"  {100 * point[0]:.0f}% translated: {100 * point[1]:.1f}%")
    print(f"  95% of translate-all's gain first reached at {100 * curve['rate_for_95']:.1f}% "
          "translated")  # fmt: skip


if __name__ == "__main__":
    main()

"""``polyglot quickstart``: the whole pipeline in one command, stage by stage.

1. foundation: the language packs, and answer extraction and language ID on real MGSM;
2. testbed: build the synthetic world and take the shipped tokenizer and base model (or, with
   ``fresh``, train them here);
3. evaluate the base model on every testbed language (test split);
4. evaluate it on a slice of real MGSM (it scores near zero there; the point is that the same
   path runs);
5. fine-tune the base (``polyglot train``) on the CoT schema that did best in
   ``scripts/schema_table.py``, in one low-resource language, and evaluate it everywhere;
6. layer swapping (``polyglot merge run``) in the same language: a math expert and a language
   expert trained from the base with the shipped recipes, merged by the swap the per-layer
   analysis suggests, each evaluated everywhere;
7. selective translation: the base with every non-English item translated (the reference
   English), and with only the items the probe flags (``polyglot detect train`` on train-split
   items, then ``--strategy selective``);
8. cross-lingual distillation in the same language: the base reading English teaches the base
   reading the language, at the sequence level (its right English answers) and at the token
   level (its next-token distributions on the gold English reasoning; ``polyglot distill``);
9. write ``report.html`` / ``summary.json``: one before/after table.

Every stage's output is reused on a rerun; ``fresh`` rebuilds everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from polyglot.config import ConfigError, validate_model
from polyglot.data.benchmarks import load_spec
from polyglot.distill.recipe import DistillRecipe
from polyglot.distill.run import distill
from polyglot.evaluate import EvalConfig, evaluate
from polyglot.files import check_output_dir, read_json, write_atomic, write_json
from polyglot.merge.recipe import MergeRecipe
from polyglot.merge.run import run_merge_recipe
from polyglot.provenance import fingerprint, make_card, write_card
from polyglot.quickstart.foundation import check_foundation
from polyglot.report import quickstart_page
from polyglot.resources import shipped_dir
from polyglot.strategies.selective.calibrate import train_detectors
from polyglot.testbed.build import TestbedConfig, build_testbed, tiny_config
from polyglot.train.finetune import train
from polyglot.train.recipe import TrainRecipe

MGSM_SLICE = {"full": 10, "tiny": 2}
# The fine-tuning stage: the schema that did best in scripts/schema_table.py
# (docs/training.md), on one low-resource language of the graded base
FINETUNE = {
    "full": {"schema": "english-cot", "language": "sw", "budget": 400, "steps": 300},
    "tiny": {"schema": "english-cot", "language": "sw", "budget": 20, "steps": 4},
}
# The layer-swap stage: the shipped expert recipes (configs/train), shortened for --tiny
LAYER_SWAP = {
    "full": {"language": "sw", "math": [], "expert": [], "all_languages": True},
    "tiny": {"language": "sw", "math": ["training.steps=4"], "expert": ["training.epochs=0.05"],
             "all_languages": False},
}  # fmt: skip
# The selective-translation stage: calibration items from the train split (disjoint from the
# test items evaluated); --tiny has no model good enough to calibrate, so a budget there
SELECTIVE = {
    "full": {"calibration": 200, "detector": "probe", "budget": None},
    "tiny": {"calibration": 0, "detector": "confidence", "budget": 0.5},
}
# The distillation stage: cross-lingual self-distillation in one language, the two levels
# measured in scripts/distill_table.py (docs/distillation.md)
DISTILL = {
    "full": {"language": "sw", "items": 400, "steps": 120, "max_new_tokens": 256,
             "teacher_answers": True},
    # --tiny's base writes no answer to learn from: its sequence level reads the gold CoT
    "tiny": {"language": "sw", "items": 8, "steps": 2, "max_new_tokens": 32,
             "teacher_answers": False},
}  # fmt: skip
ENGLISH_BAR = 0.9  # English accuracy a testbed base reaches once past the jump


def quickstart(
    out_dir: str | Path = "runs/quickstart",
    *,
    testbed_dir: str | Path | None = None,
    tiny: bool = False,
    fresh: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    config: TestbedConfig | None = None,
) -> dict:
    out = check_output_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = "tiny" if tiny else "full"
    testbed = Path(testbed_dir or ("runs/testbed-tiny" if tiny else "runs/testbed"))
    config = config or (tiny_config() if tiny else TestbedConfig())

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 1)
        clock = now

    log("[1/9] foundation: language packs, answer extraction and language ID on MGSM")
    foundation = check_foundation(out)
    lap("foundation")

    log(f"[2/9] testbed: world, tokenizer and base model in {testbed}")
    state = build_testbed(
        testbed, config, fresh=fresh, shipped=not fresh and not tiny, progress=progress, log=log
    )
    base = testbed / "base"
    lap("testbed")
    languages = config.world.languages

    common = dict(
        model=str(base),
        mode="native-cot",
        shots=0,
        max_new_tokens=160,
        progress=progress,
        overwrite=fresh,
        device="auto",
    )
    backends: dict = {}  # both evaluations share one loaded model
    log("[3/9] evaluating the base model on every testbed language")
    testbed_run = _evaluate(
        EvalConfig(
            **common,
            benchmark="testbed",
            languages=languages,
            data=f"{testbed}/world/{{split}}/{{lang}}.jsonl",
            out=str(out / "base-testbed"),
        ),
        backends,
    )
    lap("eval testbed")
    english = testbed_run.results["languages"].get("en", {}).get("accuracy")
    fresh_base = not tiny and not state["stages"]["base"].get("shipped")
    if fresh_base and english is not None and english < ENGLISH_BAR:
        log(
            f"note: this base reached {english:.1%} in English (the shipped base: above "
            f"{ENGLISH_BAR:.0%}): its training ended before the jump to copying the "
            "question's sentences, which depends on the seed and the CPU. Run without --fresh "
            "to use the shipped base, or train a longer one elsewhere (`polyglot testbed build "
            "--fresh --steps 3600 --out runs/testbed-long`) and evaluate it there."
        )
    mgsm_languages = [lang for lang in languages if lang in load_spec("mgsm").languages]
    log(f"[4/9] evaluating the base model on a slice of real MGSM ({', '.join(mgsm_languages)})")
    mgsm_run = _evaluate(
        EvalConfig(
            **common,
            benchmark="mgsm",
            languages=mgsm_languages,
            limit=MGSM_SLICE[size],
            out=str(out / "base-mgsm"),
        ),
        backends,
    )

    lap("eval mgsm")
    tune = FINETUNE[size]
    log(
        f"[5/9] fine-tuning the base model on {tune['schema']} data in {tune['language']} "
        f"({tune['budget']} examples, {tune['steps']} steps) and evaluating it"
    )
    tuned_run = _finetune(testbed, languages, out, tune, fresh=fresh, progress=progress, log=log)
    lap("fine-tune")
    swap = LAYER_SWAP[size]
    log(
        f"[6/9] layer swap in {swap['language']}: a math expert and a {swap['language']} language "
        "expert, merged by the suggested swap, each evaluated"
    )
    swap_rows = _layer_swap(testbed, languages, out, swap, fresh=fresh, progress=progress, log=log)
    lap("layer swap")
    log("[7/9] selective translation: translate-all, and only what the probe flags")
    selective_rows = _selective(testbed, languages, out, SELECTIVE[size], fresh=fresh,
                                progress=progress, log=log)  # fmt: skip
    lap("selective translation")
    plan = DISTILL[size]
    log(f"[8/9] distillation in {plan['language']}: the base reading English teaches the base "
        f"reading {plan['language']} (sequence level, token level)")  # fmt: skip
    distill_rows = _distill(testbed, languages, out, plan, fresh=fresh, progress=progress, log=log)
    lap("distillation")
    log("[9/9] writing the report")
    rows = [
        _row("base model", "testbed", testbed_run.out, testbed_run.results),
        _row("base model", "MGSM slice", mgsm_run.out, mgsm_run.results),
        _row(
            f"+ {tune['schema']} SFT ({tune['language']}, {tune['budget']} ex.)",
            "testbed",
            tuned_run,
            read_json(tuned_run / "results.json", "eval results"),
        ),
        *swap_rows,
        *selective_rows,
        *distill_rows,
    ]
    summary = {
        "schema": "polyglot.quickstart/1",
        "size": size,
        "testbed": str(testbed),
        "testbed_build": state["stages"],
        "languages": languages,
        "stages": rows,
        "seconds": seconds,
        "foundation": {"packs": len(foundation["packs"]), "benchmark": foundation["benchmark"]},
    }
    write_card(
        out,
        make_card(
            "quickstart",
            {"size": size, "testbed": json.loads(json.dumps(config.model_dump()))},
            inputs={
                "testbed": {
                    stage: info.get("fingerprint") for stage, info in state["stages"].items()
                },
                "runs": {row["benchmark"]: row["run"] for row in rows},
            },
        ),
    )
    write_json(out / "summary.json", summary)
    html, markdown = quickstart_page(summary, testbed_run.results, out)
    write_atomic(out / "report.html", html)
    write_atomic(out / "report.md", markdown)
    return summary


def _finetune(
    testbed: Path, languages: list[str], out: Path, tune: dict, *, fresh: bool, progress: bool, log
) -> Path:
    """``polyglot train`` of the base on one schema and language; returns its eval run."""

    folder = out / f"finetune-{tune['schema']}-{tune['language']}"
    recipe = validate_model(
        {
            "base": str(testbed / "base"),
            "data": [
                {
                    "build": {
                        "source": "testbed",
                        "languages": [tune["language"]],
                        "schema": tune["schema"],
                        "limit": tune["budget"] * 3,
                        "band": [0.2, 0.8],
                    },
                    "limit": tune["budget"],
                },
                {  # English replay: the same as every cell of the schema table
                    "path": f"{testbed}/world/train/en.jsonl",
                    "response_field": "cot_en",
                    "limit": tune["budget"] // 2,
                },
            ],
            "method": "lora",
            "training": {"steps": tune["steps"], "batch_size": 8, "learning_rate": 5e-4},
            "eval": {
                "benchmarks": [
                    {
                        "name": "testbed",
                        "languages": languages,
                        "data": f"{testbed}/world/{{split}}/{{lang}}.jsonl",
                    }
                ],
                "max_new_tokens": 160,
            },
            "out": str(folder),
        },
        TrainRecipe,
        source="quickstart",
    )
    import os

    previous = os.environ.get("POLYGLOT_TESTBED_DIR")
    os.environ["POLYGLOT_TESTBED_DIR"] = str(testbed)  # the data build reads this testbed
    try:
        train(recipe, overwrite=fresh, progress=progress, log=log)
    finally:
        if previous is None:
            os.environ.pop("POLYGLOT_TESTBED_DIR", None)
        else:
            os.environ["POLYGLOT_TESTBED_DIR"] = previous
    return folder / "eval" / "testbed"


def _layer_swap(
    testbed: Path, languages: list[str], out: Path, swap: dict, *, fresh: bool, progress: bool, log
) -> list[dict]:
    """``polyglot merge run`` of the shipped expert recipes on this testbed; the quickstart rows
    of the math expert, the language expert and the suggested swap."""

    lang = swap["language"]
    recipes = shipped_dir("configs") / "train"
    base = str(testbed / "base")
    recipe = validate_model(
        {
            "base": base,
            "experts": {
                "math": {
                    "train": str(recipes / "math-expert.yaml"),
                    "overrides": [
                        f"base={base}",
                        f"data.0.path={testbed}/world/train/en.jsonl",
                        *swap["math"],
                    ],
                },
                "language": {
                    "train": str(recipes / "language-expert.yaml"),
                    "overrides": [
                        f"base={base}",
                        f"data.0.path={testbed}/world/general/{lang}.jsonl",
                        *swap["expert"],
                    ],
                },
            },  # fmt: skip
            "merges": [{"method": "layer-swap", "bottom": "suggested", "top": "suggested"}],
            "eval": {
                "benchmark": "testbed",
                "languages": languages if swap["all_languages"] else ["en", lang],
                "data": f"{testbed}/world/{{split}}/{{lang}}.jsonl",
                "max_new_tokens": 160,
                "device": "auto",
            },
            "out": str(out / f"layer-swap-{lang}"),
        },
        MergeRecipe,
        source="quickstart",
    )
    summary = run_merge_recipe(recipe, overwrite=fresh, progress=progress, log=log)
    swap_name = summary["suggested_swap"]
    suggestion = summary["suggestion"]
    labels = {
        "math-expert": "math expert (English math CoT)",
        "language-expert": f"language expert ({lang} text)",
        swap_name: f"layer swap, suggested b={suggestion['bottom']} u={suggestion['top']} ({lang})",
    }
    rows = []
    for name, label in labels.items():
        run = Path(summary["out"]) / "eval" / name
        rows.append(_row(label, "testbed", run, read_json(run / "results.json", "eval results")))
    return rows


def _selective(
    testbed: Path, languages: list[str], out: Path, plan: dict, *, fresh: bool, progress: bool, log
) -> list[dict]:
    """translate-all with the reference English, and selective translation with the probe
    calibrated on train-split items (a budget with --tiny); their quickstart rows."""

    common = dict(model=str(testbed / "base"), benchmark="testbed", languages=languages,
                  data=f"{testbed}/world/{{split}}/{{lang}}.jsonl", max_new_tokens=160,
                  progress=progress, overwrite=fresh, device="auto")  # fmt: skip
    backends: dict = {}  # one model load for both runs
    full = _evaluate(
        EvalConfig(**common, strategy="translate-all", translator="reference",
                   out=str(out / "translate-all")),
        backends,
    )  # fmt: skip
    detector, budget = plan["detector"], plan["budget"]
    if detector == "probe":
        probe = out / "probe"
        meta = probe / "probe.json"
        recorded = read_json(meta, "probe metadata") if meta.is_file() else {}
        stale = (recorded.get("model_identity") or {}).get("fingerprint") != fingerprint(
            testbed / "base"
        )
        if fresh or stale:
            import shutil

            shutil.rmtree(probe, ignore_errors=True)
            train_detectors(
                str(testbed / "base"), probe, languages=[x for x in languages if x != "en"],
                data=f"{testbed}/world/train/{{lang}}.jsonl", limit=plan["calibration"],
                progress=progress, log=log,
            )  # fmt: skip
        detector = f"probe:{probe}"
    selective = _evaluate(
        EvalConfig(**common, strategy="selective", translator="reference", detector=detector,
                   budget=budget, out=str(out / "selective")),
        backends,
    )  # fmt: skip
    rates = [
        (r.get("translation") or {}).get("rate")
        for lang, r in selective.results["languages"].items()
        if lang != "en"
    ]
    rate = sum(x for x in rates if x is not None) / max(1, len(rates))
    name = "probe" if plan["detector"] == "probe" else f"{detector}, budget {budget:g}"
    return [
        _row("translate-all (reference English)", "testbed", full.out, full.results),
        _row(f"selective translation ({name}; {100 * rate:.0f}% translated)", "testbed",
             selective.out, selective.results),
    ]  # fmt: skip


def _distill(
    testbed: Path, languages: list[str], out: Path, plan: dict, *, fresh: bool, progress: bool, log
) -> list[dict]:
    """``polyglot distill`` of the base into itself across languages, at both levels; the
    quickstart rows of the two students."""

    lang, base = plan["language"], str(testbed / "base")
    variants = {
        "sequence": ("sequence-level KD", {"level": "sequence", "data": {
            "response_field": None if plan["teacher_answers"] else "cot_en"}}),
        "token": ("token-level KD, forward KL", {"level": "token"}),
    }  # fmt: skip
    rows = []
    for name, (label, change) in variants.items():
        data = {"path": f"{testbed}/world/train/{{lang}}.jsonl", "languages": [lang],
                "limit": plan["items"], "response_field": "cot_en", **change.get("data", {})}  # fmt: skip
        recipe = validate_model(
            {
                "teacher": base, "student": base, "level": change["level"], "data": data,
                "sequence": {"max_new_tokens": plan["max_new_tokens"]},
                "training": {"steps": plan["steps"], "batch_size": 8, "learning_rate": 5e-4,
                             "max_length": 384},
                "eval": {"benchmarks": [{"name": "testbed", "languages": languages,
                                         "data": f"{testbed}/world/{{split}}/{{lang}}.jsonl"}],
                         "max_new_tokens": 160},
                "out": str(out / f"distill-{name}-{lang}"),
            },
            DistillRecipe,
            source="quickstart",
        )  # fmt: skip
        distill(recipe, overwrite=fresh, progress=progress, log=log)
        run = Path(recipe.out) / "eval" / "testbed"
        rows.append(_row(f"+ {label} ({lang}, teacher: the base in English)", "testbed", run,
                         read_json(run / "results.json", "eval results")))  # fmt: skip
    return rows


def _row(model: str, benchmark: str, run: Path, results: dict) -> dict:
    return {
        "model": model,
        "benchmark": benchmark,
        "run": str(run),
        "english": results["summary"]["english_accuracy"],
        "others": results["summary"]["mean_accuracy_non_english"],
        "gap_points": results["summary"]["mean_gap_points"],
        "fidelity": results["summary"]["mean_target_fidelity_non_english"],
        "per_language": {lang: r["accuracy"] for lang, r in results["languages"].items()},
    }


def _evaluate(config: EvalConfig, backends: dict):
    """``evaluate``, with the quickstart's own flag in its refusals (--fresh, not --overwrite)."""
    try:
        return evaluate(config, backends)
    except ConfigError as err:
        raise ConfigError(str(err).replace("--overwrite", "--fresh")) from None

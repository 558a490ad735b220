"""``polyglot quickstart``: the whole pipeline in one command, stage by stage.

Stage 1 (foundation): the language packs, and answer extraction and language ID checked on
real MGSM data. Results go to ``runs/quickstart/``; later stages add the testbed, evaluation
and training.
"""

from __future__ import annotations

import json
from pathlib import Path

from polyglot.data.benchmarks import load_benchmark
from polyglot.packs import all_packs
from polyglot.text.check import LanguageCheck, check_extraction


def quickstart(out_dir: str | Path = "runs/quickstart", benchmark: str = "mgsm") -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    packs = all_packs()
    dataset = load_benchmark(benchmark)
    checks: list[LanguageCheck] = check_extraction(dataset)
    result = {
        "packs": sorted(packs),
        "benchmark": dataset.name,
        "extraction": [c.to_dict() for c in checks],
    }
    tmp = out / "extraction.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out / "extraction.json")
    return result

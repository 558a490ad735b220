"""Throughput of `polyglot data build` without a teacher: rendering plus every filter.

    python scripts/bench_data_build.py [--testbed runs/testbed] [--items 4000] [--workers 2]

Builds the mixed schema for five languages from the testbed's train split (the testbed must
exist: `polyglot quickstart` or `polyglot testbed build --shipped`), after a small warm-up build
(fastText, number-word tables), and prints items per second: the loop over items (rendering,
answer, cue, length, degenerate, language-share band, 13-gram decontamination against MGSM,
PolyMath and the testbed test split, MinHash near-duplicates), and the whole call (reading the
source and indexing the benchmarks included).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed", default="runs/testbed")
    parser.add_argument("--items", type=int, default=4000, help="items per language")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    os.environ["POLYGLOT_TESTBED_DIR"] = args.testbed

    from polyglot.data.build import DataBuildConfig, build_dataset

    languages = ["de", "sw", "ko", "th", "bn"]
    root = tempfile.mkdtemp()
    try:
        warm = DataBuildConfig(languages=languages, limit=50, band=(0.2, 0.8), out=f"{root}/warm")
        build_dataset(warm, progress=False, log=lambda m: None)
        config = DataBuildConfig(
            languages=languages, limit=args.items, band=(0.2, 0.8), out=f"{root}/run"
        )
        started = time.perf_counter()
        summary = build_dataset(config, progress=False, workers=args.workers, log=lambda m: None)
        whole = time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    items = sum(c["items"] for c in summary["languages"].values())
    print(
        f"{items} items, {summary['examples']} kept, {args.workers} worker(s), {os.cpu_count()} cores"
    )
    print(f"loop over items: {summary['items_per_second']:.0f} items/s")
    print(f"whole call: {items / whole:.0f} items/s ({whole:.1f} s)")


if __name__ == "__main__":
    main()

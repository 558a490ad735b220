"""The merging table (docs/merging.md) from finished `polyglot merge run` folders.

    python scripts/merge_table.py runs/merge/testbed-sw runs/merge/testbed-ko runs/merge/testbed-th

One row per recipe's target language (and one for English, from the first recipe): accuracy
with its 95% Wilson interval for the base, both experts, soup, TIES, task arithmetic, the best
layer swap (highest target accuracy among the swaps, chosen on the test items: optimistic) and
the swap the per-layer analysis suggested.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [
    ("base", "base"),
    ("math-expert", "math expert"),
    ("language-expert", "language expert"),
    ("soup", "soup"),
    ("ties", "TIES"),
    ("task-arithmetic", "task arithmetic"),
]


def cell(entry: dict | None, bold: bool = False) -> str:
    if not entry:
        return "–"
    low, high = entry["ci95"]
    value = f"{100 * entry['accuracy']:.1f}%"
    return f"{'**' + value + '**' if bold else value} ({100 * low:.1f}–{100 * high:.1f})"


def main() -> None:
    folders = [Path(p) for p in sys.argv[1:]]
    if not folders:
        sys.exit(__doc__)
    headers = [label for _, label in COLUMNS] + ["best swap", "suggested swap"]
    print("| language | " + " | ".join(headers) + " |")
    print("|---|" + "---|" * len(headers))
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        table = summary["accuracy"]
        target = next(lang for lang in summary["languages"] if lang != "en")
        best, suggested = summary["best_swap"], summary["suggested_swap"]
        base = table["base"][target]["accuracy"]
        cells = [cell(table.get(name, {}).get(target)) for name, _ in COLUMNS]
        for name in (best, suggested):
            label = name.removeprefix("swap-suggested-").removeprefix("swap-")
            entry = table.get(name, {}).get(target)
            cells.append(f"{cell(entry, entry and entry['accuracy'] > base)} `{label}`")
        print(f"| {target} | " + " | ".join(cells) + " |")
    first = json.loads((folders[0] / "summary.json").read_text())
    table = first["accuracy"]
    cells = [cell(table.get(name, {}).get("en")) for name, _ in COLUMNS]
    for name in (first["best_swap"], first["suggested_swap"]):
        cells.append(cell(table.get(name, {}).get("en")))
    print(f"| en ({folders[0].name}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Gap attribution (Kang et al., 2025): of the items a model solves in English but not in
language L, how many it solves once it is given the English understanding of the question
(understanding failures), and how many it still fails (reasoning or generation failures).

It needs a native run and a run of the same model and items with the reference translation
(``polyglot eval --strategy translate-all --translator reference``); ``polyglot report NATIVE
UNDERSTOOD`` shows it when the second run is one."""

from __future__ import annotations

PARTS = [("understanding", "understanding failures"), ("reasoning", "other failures")]


def gap_attribution(native: dict[str, dict], understood: dict[str, dict]) -> dict[str, dict]:
    """Per language (English aside): ``gap`` items (right in English, wrong natively, present in
    both runs), how many the understood run gets right (``understanding``) and the rest
    (``reasoning``), with their shares of the gap."""
    english = {r["id"]: bool(r["correct"]) for r in native.values() if r["lang"] == "en"}
    table: dict[str, dict] = {}
    for key, record in native.items():
        lang = record["lang"]
        if lang == "en" or key not in understood:
            continue
        row = table.setdefault(lang, {"gap": 0, "understanding": 0, "reasoning": 0})
        if english.get(record["id"]) and not record["correct"]:
            row["gap"] += 1
            row["understanding" if understood[key]["correct"] else "reasoning"] += 1
    for row in table.values():
        gap = row["gap"]
        row["understanding_share"] = round(row["understanding"] / gap, 4) if gap else None
        row["reasoning_share"] = round(row["reasoning"] / gap, 4) if gap else None
    return table


def understood_run(results: dict) -> bool:
    """Whether an eval run gave every non-English item its reference English."""
    config = results.get("run", {}).get("config", {})
    return config.get("strategy") == "translate-all" and config.get("translator") == "reference"

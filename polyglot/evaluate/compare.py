"""Comparing evaluation runs: accuracy per language side by side, and each run against the
first on the items they share (exact McNemar and paired-bootstrap p-values), written with its
report pages (``polyglot.report`` renders them)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.evaluate.cost import run_cost
from polyglot.evaluate.metrics import mcnemar_exact, paired_bootstrap
from polyglot.evaluate.records import read_records
from polyglot.files import check_output_dir, read_json, write_atomic, write_json
from polyglot.provenance import make_card, read_card, write_card
from polyglot.report import comparison_page
from polyglot.strategies.selective.attribution import gap_attribution, understood_run
from polyglot.strategies.selective.curve import matches, same_generation, selective_curve

COMPARISON_SCHEMA = "polyglot.eval.comparison/1"


def _load_run(path: Path) -> tuple[dict, dict[str, dict]]:
    results_file = path / "results.json"
    if path.is_file():
        raise ConfigError(f"{path}: is a file; pass the run folder")
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run folder")
    if not results_file.exists():
        raise ConfigError(f"{path}: no results.json (not a finished polyglot eval run)")
    results = read_json(results_file, "results file")
    if not isinstance(results, dict) or not isinstance(results.get("languages"), dict):
        raise ConfigError(f"{results_file}: damaged results file (no 'languages')")
    return results, read_records(path / "generations.jsonl")


def compare_runs(paths: list[str | Path], *, seed: int = 0) -> dict:
    """Accuracy of each run per language, and each run against the first on the shared items."""
    if len(paths) < 1:
        raise ConfigError("give at least one run folder")
    runs = [(Path(p), *_load_run(Path(p))) for p in paths]
    names = _unique_names([p for p, _, _ in runs])
    languages = list(dict.fromkeys(lang for _, r, _ in runs for lang in r["languages"]))
    table = {
        lang: {
            name: r["languages"][lang]["accuracy"] if lang in r["languages"] else None
            for name, (_, r, _) in zip(names, runs, strict=True)
        }
        for lang in languages
    }
    pairs = []
    base_name, (_, _, base_records) = names[0], runs[0]
    for name, (_, _, records) in zip(names[1:], runs[1:], strict=True):
        for lang in languages:
            keys = sorted(k for k, r in base_records.items() if r["lang"] == lang and k in records)
            if not keys:
                continue
            a = [bool(base_records[k]["correct"]) for k in keys]
            b = [bool(records[k]["correct"]) for k in keys]
            diff, p_boot = paired_bootstrap(a, b, seed=seed)
            pairs.append(
                {
                    "baseline": base_name,
                    "run": name,
                    "lang": lang,
                    "n": len(keys),
                    "baseline_accuracy": round(sum(a) / len(a), 4),
                    "run_accuracy": round(sum(b) / len(b), 4),
                    "difference_points": round(100 * diff, 2),
                    "mcnemar_p": round(mcnemar_exact(a, b), 4),
                    "bootstrap_p": round(p_boot, 4),
                }
            )
    return {
        "schema": COMPARISON_SCHEMA,
        "runs": {name: str(p) for name, (p, _, _) in zip(names, runs, strict=True)},
        "identities": {
            name: {
                "fingerprint": r["run"].get("model", {}).get("fingerprint"),
                "dataset_hash": r["run"].get("dataset_hash"),
            }
            for name, (_, r, _) in zip(names, runs, strict=True)
        },
        "summary": {name: r["summary"] for name, (_, r, _) in zip(names, runs, strict=True)},
        "accuracy": table,
        "intervals": {
            lang: {
                name: (r["languages"].get(lang) or {}).get("ci95")
                for name, (_, r, _) in zip(names, runs, strict=True)
            }
            for lang in languages
        },
        "fidelity": {
            lang: {
                name: (r["languages"].get(lang) or {}).get("fidelity")
                for name, (_, r, _) in zip(names, runs, strict=True)
            }
            for lang in languages
        },
        "paired": pairs,
        "attribution": _attribution(runs, names),
        "translations": _translations(runs, names),
        "cost": {
            name: r.get("cost") or run_cost(path)  # runs finished before costs were recorded
            for name, (path, r, _) in zip(names, runs, strict=True)
        },
        "selective": _selective(runs, names),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _attribution(runs, names) -> dict:
    """Gap attribution for each run that gave the reference English, against a native run of
    the same model among the compared ones (the first such, which must have English)."""

    native = [
        (results, records)
        for (_, results, records) in runs
        if results["run"].get("config", {}).get("strategy", "native") == "native"
        and "en" in results.get("languages", {})  # "right in English" needs the English items
    ]
    found = {}
    for name, (_, results, records) in zip(names, runs, strict=True):
        if not understood_run(results):
            continue
        for base_results, base_records in native:  # the same model, prompted the same way
            if same_generation(base_results, results):
                found[name] = gap_attribution(base_records, records)
                break
    return found


def _translations(runs, names) -> dict:
    """Per run that translated: per language, the share translated, the chrF of its
    translations and its accuracy gain over the first run (points)."""
    base = runs[0][1]["languages"]
    found = {}
    for name, (_, results, _) in zip(names, runs, strict=True):
        table = {}
        for lang, row in results["languages"].items():
            figures = row.get("translation")
            if not figures or lang == "en":
                continue
            before = (base.get(lang) or {}).get("accuracy")
            gain = None if before is None else round(100 * (row["accuracy"] - before), 2)
            table[lang] = {**figures, "gain_points": gain}
        if table:
            found[name] = table
    return found


def _selective(runs, names) -> dict:
    """The accuracy-vs-translation-rate curve of each selective run that has its translate-all
    counterpart (same model and translator) among the compared runs."""

    found = {}
    for name, (path, results, _) in zip(names, runs, strict=True):
        if results["run"].get("config", {}).get("strategy") != "selective":
            continue
        for other, (_, other_results, other_records) in zip(names, runs, strict=True):
            if matches(results, other_results):
                try:
                    table = selective_curve(path, other_records)
                except ConfigError:
                    continue  # no items in common, or the folder lost its scores
                found[name] = {"translate_all": other, "languages": table}
                break
    return found


def _unique_names(paths: list[Path]) -> list[str]:
    names = []
    for p in paths:
        name = p.name or str(p)
        while name in names:
            name = f"{p.parent.name}/{name}"
        names.append(name)
    return names


def write_comparison(comparison: dict, out: str | Path, sections: list[dict] | None = None) -> Path:
    """``comparison.json``, ``.md`` and ``.html`` in ``out``; ``sections``: more of the page
    (``{"title", "text", "charts"}``), e.g. a merge grid's heatmaps."""

    out = check_output_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    held = read_card(out)
    if (out / "run.json").exists() or (held and held.get("kind") != "comparison"):
        raise ConfigError(f"--out {out} holds another polyglot output; choose another folder")
    write_card(
        out,
        make_card("comparison", {"runs": comparison["runs"]}, inputs=comparison["identities"]),
    )
    write_json(out / "comparison.json", comparison)
    html, markdown = comparison_page(comparison, sections or [])
    write_atomic(out / "comparison.md", markdown)
    write_atomic(out / "comparison.html", html)
    return out

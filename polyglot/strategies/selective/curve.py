"""The accuracy-vs-translation-rate curve of a selective run: one threshold on the detector's
scores swept over every value it takes, each item then answered from its native attempt (below
the threshold) or from a translate-all run with the same translator (above it) — no extra
generation. Per language and over all non-English items, with the oracle share (the items wrong
natively and right from the translation: what a perfect detector translates), the run's own
operating point and the lowest rate that recovers 95% of translate-all's gain."""

from __future__ import annotations

from pathlib import Path

from polyglot.config import ConfigError
from polyglot.evaluate.config import STRATEGY_DEFAULTS
from polyglot.evaluate.records import read_records
from polyglot.files import read_jsonl_objects

ALL = "all"
SHARE_OF_GAIN = 0.95


def read_scores(run: Path) -> dict[str, float]:

    path = run / "scores.jsonl"
    if not path.is_file():
        raise ConfigError(f"{run}: no scores.jsonl (not a selective run)")
    rows = [record for _, record in read_jsonl_objects(path, skipped=[])]
    return {r["key"]: float(r["score"]) for r in rows[1:] if "key" in r and "score" in r}


def same_generation(a: dict, b: dict, *, also: tuple[str, ...] = ()) -> bool:
    """Whether two runs' results (``results.json``) generated the same way — the same model
    (fingerprint) and every generation setting (prompting, tokens, sampling, seed, data) —
    whatever their strategies, languages and item subsets; and the same ``also`` settings."""

    # batching and where it ran do not change greedy outputs (tested for the hf backend)
    ignored = (
        set(STRATEGY_DEFAULTS) | {"languages", "limit", "batch_size", "batch_tokens", "device"}
    ) - set(also)
    config_a, config_b = a["run"].get("config", {}), b["run"].get("config", {})
    keys = (set(config_a) | set(config_b)) - ignored
    defaults = dict(STRATEGY_DEFAULTS)
    return all(
        config_a.get(k, defaults.get(k)) == config_b.get(k, defaults.get(k)) for k in keys
    ) and a["run"].get("model", {}).get("fingerprint") == b["run"].get("model", {}).get(
        "fingerprint"
    )


def matches(selective: dict, translate_all: dict) -> bool:
    """Whether ``translate_all``'s results are the translate-all counterpart of the selective
    run ``selective``'s: generated the same way, with the same translator entering the same
    way."""
    return translate_all["run"].get("config", {}).get(
        "strategy"
    ) == "translate-all" and same_generation(
        selective, translate_all, also=("translator", "inject")
    )


def selective_curve(run: Path, translated: dict[str, dict], *, max_points: int = 101) -> dict:
    """The curve of the selective run folder ``run`` against the translate-all ``translated``
    records (by key); see the module docstring."""
    scores = read_scores(run)
    native = read_records(run / "native" / "generations.jsonl")
    routed = read_records(run / "generations.jsonl")
    keys = sorted(k for k in scores if k in native and k in translated)
    if not keys:
        raise ConfigError(f"{run}: no item in common with the translate-all run")
    langs = sorted({native[k]["lang"] for k in keys})
    groups = {lang: [k for k in keys if native[k]["lang"] == lang] for lang in langs}
    groups[ALL] = keys
    # the highest scores are translated first; ties are translated together
    order = sorted(keys, key=lambda k: (-scores[k], k))
    correct_native = {k: bool(native[k]["correct"]) for k in keys}
    correct_translated = {k: bool(translated[k]["correct"]) for k in keys}
    steps = []  # (index after which the threshold falls) at every change of score
    for i in range(len(order) + 1):
        if i in (0, len(order)) or scores[order[i - 1]] != scores[order[i]]:
            steps.append(i)
    chosen: set[str] = set()
    points = {group: [] for group in groups}
    done = 0
    for i in steps:
        chosen.update(order[done:i])
        done = i
        for group, members in groups.items():
            n = len(members)
            translated_count = sum(k in chosen for k in members)
            right = sum(
                correct_translated[k] if k in chosen else correct_native[k] for k in members
            )
            points[group].append((translated_count / n, right / n))
    table = {}
    for group, members in groups.items():
        n = len(members)
        base = sum(correct_native[k] for k in members) / n
        full = sum(correct_translated[k] for k in members) / n
        oracle = sum(correct_translated[k] and not correct_native[k] for k in members) / n
        gain = full - base
        target = base + SHARE_OF_GAIN * gain
        reaching = (
            next((rate for rate, acc in points[group] if acc >= target - 1e-12), None)
            if gain > 0
            else None
        )
        flagged = [k for k in members if routed.get(k, {}).get("route") == "translated"]
        accuracy = sum(bool(routed[k]["correct"]) for k in members if k in routed) / n
        table[group] = {
            "n": n,
            "native": round(base, 4),
            "translate_all": round(full, 4),
            "oracle_share": round(oracle, 4),
            "selective": {"rate": round(len(flagged) / n, 4), "accuracy": round(accuracy, 4)},
            "rate_for_95": None if reaching is None else round(reaching, 4),
            "curve": _thin(points[group], max_points),
        }
    return table


def _thin(points: list[tuple[float, float]], count: int) -> list[list[float]]:
    """At most ``count`` points, the first and last kept."""
    if len(points) > count:
        step = (len(points) - 1) / (count - 1)
        points = [points[round(i * step)] for i in range(count)]
    return [[round(x, 4), round(y, 4)] for x, y in points]

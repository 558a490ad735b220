"""What a run cost: every generation it made and the tokens they took, sub-runs (a selective
run's native and translated attempts, CLC's pivots) and the model's own translations (``self``,
``clp``, an instruction or MT model: ``translations*.jsonl`` rows with ``new_tokens``) and
a selective run's detector passes (one teacher-forced pass per scored attempt, two more for
self-reflection's answers, none for language drift) included. A strategy folder's own ``generations.jsonl`` holds copies of its sub-runs' records
and is not counted twice."""

from __future__ import annotations

from pathlib import Path

from polyglot.files import read_jsonl_objects

SUB_RUNS = ("native", "translated", "pivots")


def run_cost(folder: str | Path) -> dict[str, int]:
    folder = Path(folder)
    cost = {"generations": 0, "new_tokens": 0, "prompt_tokens": 0, "translations": 0,
            "translation_tokens": 0, "detector_passes": 0}  # fmt: skip
    strategy_folder = any((folder / name).is_dir() for name in SUB_RUNS)
    for path in sorted(folder.rglob("generations.jsonl")):
        if strategy_folder and path.parent == folder:
            continue  # the routed or voted copies of the sub-runs' records
        for _, record in read_jsonl_objects(path, skipped=[]):
            tokens = record.get("new_tokens", 0)
            cost["generations"] += len(tokens) if isinstance(tokens, list) else 1
            cost["new_tokens"] += sum(tokens) if isinstance(tokens, list) else int(tokens or 0)
            cost["prompt_tokens"] += int(record.get("prompt_tokens") or 0)
    for path in sorted(folder.rglob("translations*.jsonl")):
        used = _used_keys(path.parent)  # a cache may hold items this run no longer uses
        for _, record in read_jsonl_objects(path, skipped=[]):
            if "new_tokens" in record and (used is None or record.get("key") in used):
                cost["translations"] += 1
                cost["translation_tokens"] += int(record["new_tokens"])
    scores = folder / "scores.jsonl"
    if scores.is_file():  # selective: the detector's teacher-forced passes over the attempts
        rows = [record for _, record in read_jsonl_objects(scores, skipped=[])]
        detector = ((rows[0] if rows else {}).get("identity") or {}).get("detector") or ""
        per_item = {"language-drift": 0, "self-reflection": 3}.get(detector, 1)
        cost["detector_passes"] = per_item * max(len(rows) - 1, 0)
    return cost


def _used_keys(folder: Path) -> set[str] | None:
    """The keys whose translations the run in ``folder`` used: its translated records, or for
    a CLC pivot (``pivots/<lang>/<pivot>/``) the source items its run solved; None: unknown."""
    generations = folder / "generations.jsonl"
    if generations.is_file():
        rows = [r for _, r in read_jsonl_objects(generations, skipped=[])]
        return {r["key"] for r in rows if r.get("translated")}
    pivot_run = folder / "run" / "generations.jsonl"
    if pivot_run.is_file() and folder.parent.parent.name == "pivots":
        source = folder.parent.name
        return {f"{source}/{r['id']}" for _, r in read_jsonl_objects(pivot_run, skipped=[])}
    return None

"""``generations.jsonl``: one JSON record per evaluated item, appended as batches finish.

Appends are flushed and fsynced per batch; a line cut off by a kill is dropped on the next
open (and the file truncated to the last whole record), so a resumed run never reads half a
record and never loses a whole one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_records(path: str | Path, *, repair: bool = False) -> dict[str, dict]:
    """Records by key. ``repair`` truncates a trailing partial line left by a killed run."""
    path = Path(path)
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    data = path.read_bytes()
    good_end = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        end = good_end + len(line) + 1
        if not line.strip():
            good_end = min(end, len(data))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if end > len(data):  # the last line, cut off mid-write
                break
            raise ValueError(f"{path}:{number}: not a JSON record (file damaged?)") from None
        if end > len(data):  # a whole JSON object but no newline: also unfinished
            break
        records[record["key"]] = record
        good_end = end
    if repair and good_end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(good_end)
    return records


def append_records(path: str | Path, records: list[dict]) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: str | Path, text: str) -> None:
    """Write via a temporary file and rename, so readers see the old or the new file, never half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: str | Path, value) -> None:
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n")

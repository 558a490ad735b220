"""``generations.jsonl``: one JSON record per evaluated item, appended as batches finish.

Appends are flushed and fsynced per batch (``polyglot.files.append_jsonl``); a line cut off by
a kill is dropped on the next open (and the file truncated to the last whole record), so a
resumed run never reads half a record and never loses a whole one. Damage anywhere else is an
error naming the line: the run cannot be trusted, and only ``--overwrite`` starts it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import append_jsonl


def read_records(
    path: str | Path, *, repair: bool = False, required: tuple[str, ...] = ("key",)
) -> dict[str, dict]:
    """Records by key. ``repair`` truncates a trailing partial line left by a killed run;
    a record without one of the ``required`` fields is damage."""
    path = Path(path)
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, expected the run's generations file")
    data = path.read_bytes()
    good_end = 0
    for number, line in enumerate(data.split(b"\n"), 1):
        end = good_end + len(line) + 1
        if not line.strip():
            good_end = min(end, len(data))
            continue
        try:
            record = json.loads(line)
            key = record["key"]
            if any(field not in record for field in required):
                raise KeyError
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError):
            if end > len(data):  # the last line, cut off mid-write
                break
            raise ConfigError(
                f"{path}:{number}: damaged record (not a JSON object with "
                f"{', '.join(repr(f) for f in required)}); rerun `polyglot eval` with "
                "--overwrite to start the run again"
            ) from None
        if end > len(data):  # a whole JSON object but no newline: also unfinished
            break
        records[key] = record
        good_end = end
    if repair and good_end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(good_end)
    return records


def append_records(path: str | Path, records: list[dict]) -> None:
    append_jsonl(path, records)

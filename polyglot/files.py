"""Files every command writes and reads: atomic writes, JSON, and append-only JSONL.

Results and artifacts are files a person can open, and a killed command must never leave one
half written: whole files go through a temporary file and a rename, and JSONL records are
appended, flushed and fsynced. Reading a damaged file raises ``ConfigError`` naming the file
(and the line), never a bare decoding error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from polyglot.config import ConfigError, read_text


def write_atomic(path: str | Path, text: str) -> None:
    """Write via a temporary file and rename, so readers see the old or the new file, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # two writers never share one
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json(path: str | Path, value: Any) -> None:
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def write_lines(path: str | Path, lines: list[str]) -> None:
    """A text file of ``lines`` (one per line), written atomically."""
    write_atomic(path, "".join(line + "\n" for line in lines))


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """``json.load`` with errors that name the file, and a hint when it is damaged."""
    path = Path(path)
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path}: damaged {what} (invalid JSON at line {err.lineno}, column {err.colno})"
        ) from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Every record of a JSONL file; a bad line raises ``ConfigError`` with ``file:line``."""
    path = Path(path)
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}:{number}: invalid JSON: {err.msg}") from None
    return records


def read_jsonl_objects(
    path: str | Path, skipped: list[str] | None = None
) -> list[tuple[int, dict]]:
    """(line number, record) for every line of a JSONL data file whose record is a JSON object.
    A malformed line raises ``ConfigError`` naming ``file:line`` (and ``--skip-bad``); with
    ``skipped``, it is noted there as ``file:line`` and skipped instead."""
    path = Path(path)
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                problem = None if isinstance(record, dict) else "not a JSON object"
            except json.JSONDecodeError as err:
                problem = f"invalid JSON: {err.msg}"
            if problem is None:
                records.append((number, record))
            elif skipped is not None:
                skipped.append(f"{path}:{number}")
            else:
                raise ConfigError(f"{path}:{number}: {problem}; fix it or pass --skip-bad")
    return records


def append_jsonl(path: str | Path, records: list[dict]) -> None:
    """Append ``records`` as JSON lines, flushed and fsynced before returning."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as a folder to write into: refuse a file standing where the folder should be."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: is a file, expected a folder (choose another {flag})")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{flag} {path}: {parent} is a file, not a folder")
    return path

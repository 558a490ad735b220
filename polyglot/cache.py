"""The identity-keyed record cache: what a run computed per item, kept in a JSONL file so that
a rerun (or a resumed run) computes only what is missing.

The file's first line names what made the records (``{header: identity}``: a translator, a
teacher and its settings, a detector over one native run); each following line is one item's
record, ``{"key", "source", ...}``, where ``source`` is a digest of the input it was made from
(an item whose text changed since is made again). Records are appended as they are made, so a
kill loses the records in flight at most; a line cut by a kill is skipped, and closed before
the next append. A file made by another identity is refused (``OutputRefused``: ``--overwrite``
replaces it) or, for scratch, started again. A cache that serves several identities at once (a
data build's teacher traces under each teacher setting asked for) keeps the identity in every
record instead (``per_record``) and returns only this one's.

Translations (``translations.jsonl``), a data build's teacher traces (``teacher.jsonl``) and a
selective run's detector scores (``scores.jsonl``) are such caches.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from polyglot.files import append_jsonl, read_jsonl_objects
from polyglot.outputs import OutputRefused


def digest(*parts: str) -> str:
    """A short digest of what a record was made from."""
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]


class RecordCache:
    """``path``'s records made by ``identity`` (see the module docstring).

    ``other``: what to do with a file made by another identity: ``"refuse"`` (an
    ``OutputRefused`` naming both), ``"replace"`` (start it again). ``per_record``: the
    identity is in every record (under ``header``), other identities' records stay."""

    def __init__(self, path: str | Path, identity: dict, *, header: str = "identity",
                 other: str = "refuse", per_record: bool = False,
                 what: str = "records") -> None:  # fmt: skip
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity))  # as it reads back
        self.header, self.what, self.per_record = header, what, per_record
        self.records: dict[str, dict] = {}
        if not self.path.is_file():
            return
        rows = [record for _, record in read_jsonl_objects(self.path, skipped=[])]
        if per_record:
            self.records = {
                r["key"]: r for r in rows if "key" in r and r.get(header) == self.identity
            }
            return
        head = rows[0] if rows else {}
        if head.get(header) != self.identity:
            if other != "replace":
                raise OutputRefused(
                    f"{self.path} holds {what} made by another {header} "
                    f"({head.get(header)}); choose another --out or pass --overwrite",
                    folder=self.path.parent,
                    overwrite_helps=True,
                )
            self.path.unlink()
            return
        self.records = {r["key"]: r for r in rows[1:] if "key" in r}

    def get(self, key: str, source: str | None = None) -> dict | None:
        """The record of ``key`` when it was made from ``source`` (any, when None)."""
        record = self.records.get(key)
        if record is None or (source is not None and record.get("source") != source):
            return None
        return record

    def add(self, records: list[dict]) -> None:
        """Append ``records`` (each with its ``key``) and keep them."""
        if not records:
            return
        if self.per_record:
            records = [{**r, self.header: self.identity} for r in records]
        if not self.path.is_file() and not self.per_record:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_jsonl(self.path, [{self.header: self.identity}])
        elif self.path.is_file() and not _ends_a_line(self.path):
            # a line cut by a kill: closed first
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("\n")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.path, records)
        self.records.update((r["key"], r) for r in records)

    def clear(self) -> None:
        """Forget every record (the file starts again at the next ``add``)."""
        self.path.unlink(missing_ok=True)
        self.records = {}


def _ends_a_line(path: Path) -> bool:
    """Whether the file is empty or its last byte ends a line (read from the end only)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        if handle.tell() == 0:
            return True
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"

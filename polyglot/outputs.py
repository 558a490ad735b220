"""The output-folder protocol: how every polyglot command takes the folder it writes.

A command *claims* its folder with the kind of output it makes (``eval-run``, ``trained-model``,
``merged-model``, ``dataset``, …) and the identity of what it would write there (its settings and
the fingerprints of its inputs). The claim answers one of:

- ``fresh``: nothing of this command's kind is there (or ``overwrite`` was asked): start;
- ``resume``: the same output, unfinished: go on from what is there;
- ``reuse``: the same output, finished: return it as is;

or raises ``OutputRefused``, which names what differs and says whether ``--overwrite`` would
help (another run of the same kind: yes; a model checkpoint, another command's output, a
folder being written by another process: no). Callers decide by ``err.overwrite_helps``, never
by the message's words.

A claim holds the folder's lock until it is released (or the process ends): a second process
that claims the same folder is refused with one line naming the holder. The lock is a file
beside the folder (``.<name>.lock``, removed on release), so the folder's own content (what
fingerprints and tree hashes read) never holds it; an advisory ``flock``, so a killed holder
never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from polyglot.config import ConfigError
from polyglot.files import check_output_dir
from polyglot.provenance import CARD_JSON, now, read_card

State = Literal["fresh", "resume", "reuse"]
CHECKPOINT_FILES = ("config.json", "adapter_config.json")


class OutputRefused(ConfigError):
    """A folder this command may not write. ``differences``: what differs from the output that
    is there; ``overwrite_helps``: whether ``--overwrite`` would make the folder this
    command's."""

    def __init__(
        self,
        message: str,
        *,
        folder: Path,
        overwrite_helps: bool,
        differences: Iterable[str] = (),
    ) -> None:
        super().__init__(message)
        self.folder = folder
        self.overwrite_helps = overwrite_helps
        self.differences = list(differences)


class FolderBusy(OutputRefused):
    """Another process holds the folder's lock."""


# ---------------------------------------------------------------------------------- the lock

_held: dict[str, list] = {}  # lock path -> [open file, depth]: a process may re-claim its own


def lock_path(folder: Path) -> Path:
    folder = Path(os.path.realpath(folder))  # one lock whatever the spelling (links, ..)
    return folder.parent / f".{folder.name}.lock"


def is_lock(name: str) -> bool:
    """A lock of a folder beside it (a sub-run's, inside its parent's output): not content."""
    return name.startswith(".") and name.endswith(".lock")


def _holder(path: Path) -> str:
    try:
        who = json.loads(path.read_text(encoding="utf-8"))
        return f"process {who['pid']} ({who['command']}, since {who['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@dataclass
class FolderLock:
    """One writer per folder: held from ``hold`` until ``release`` (re-entrant in a process)."""

    path: Path
    released: bool = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        entry = _held.get(str(self.path))
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[str(self.path)]
            self.path.unlink(missing_ok=True)  # while still held: no folder is left with one
            entry[0].close()  # closing the file drops the flock

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def hold(folder: str | Path) -> FolderLock:
    """Take ``folder``'s lock or raise ``FolderBusy`` naming the process that has it."""
    folder = Path(folder)
    path = lock_path(folder)
    entry = _held.get(str(path))
    if entry is not None:
        entry[1] += 1
        return FolderLock(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise FolderBusy(
                f"{folder} is being written by {_holder(path)}; wait for it to finish, or "
                "choose another --out",
                folder=folder,
                overwrite_helps=False,
            ) from None
        # the holder before us may have removed the file as it let go: lock the one in place
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    handle.seek(0)
    handle.truncate()
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    handle.write(json.dumps({"pid": os.getpid(), "command": command[:200], "since": now()}))
    handle.flush()
    _held[str(path)] = [handle, 1]
    return FolderLock(path)


# --------------------------------------------------------------------------------- the claim


@dataclass
class Claim:
    """A folder taken by a command: its state, the card found there, and the held lock."""

    folder: Path
    state: State
    previous: dict | None
    lock: FolderLock = field(repr=False)

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def identity_differences(previous: dict, identity: dict, prefix: str = "") -> list[str]:
    """Where two identities differ, as ``key old -> new`` (dotted keys for nested ones)."""
    changed = []
    for key in sorted(set(previous) | set(identity), key=str):
        old, new = previous.get(key), identity.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed += identity_differences(old, new, f"{prefix}{key}.")
        else:
            changed.append(f"{prefix}{key} {_short(old)} -> {_short(new)}")
    return changed


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def named(kind: str) -> str:
    """``eval-run`` → ``an eval run``."""
    words = kind.replace("-", " ")
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


def claim(
    folder: str | Path,
    kind: str,
    identity: dict | None = None,
    *,
    overwrite: bool = False,
    card: str = CARD_JSON,
    record: Callable[[Path], dict | None] | None = None,
    complete: Callable[[Path], bool] | None = None,
    differences: Callable[[dict], list[str]] | None = None,
    scratch: Iterable[str] = (),
    ours: Iterable[str] = (),
    beside_others: bool = False,
    flag: str = "--out",
    reuse_on_overwrite: bool = False,
    lock: bool = True,
) -> Claim:
    """Take ``folder`` for an output of ``kind`` whose identity is ``identity`` (compared with
    the card's ``identity`` entry, or by ``differences(card)`` when given); see the module
    docstring.

    ``record(folder)``: reads the folder's record of what made it when that is not a JSON card
    (a trained model's ``recipe.yaml``), with its ``kind``; ``complete(folder)``: whether the output there is finished (default: it has its card);
    ``scratch``: names a run writes before its card (a folder holding only those is fresh);
    ``ours``: names only this kind writes (a folder with one of them but no card is this
    command's, damaged or from an older polyglot: ``overwrite`` starts it again);
    ``beside_others``: files of no polyglot output (no card, no checkpoint) may stay beside
    this output, which only ever writes and clears its own names (an eval run);
    ``reuse_on_overwrite``: a finished identical output is reused even with ``overwrite``
    (a merge: overwrite only replaces a different one); ``lock=False``: decide without taking
    the lock (a helper process of a distributed run, whose main process holds it).
    """
    folder = check_output_dir(folder, flag)
    held = hold(folder) if lock else FolderLock(lock_path(folder), released=True)
    try:
        state, previous = _decide(
            folder,
            kind,
            identity,
            overwrite=overwrite,
            card=card,
            record=record,
            complete=complete,
            differences=differences,
            scratch=set(scratch),
            ours=tuple(ours),
            beside_others=beside_others,
            flag=flag,
            reuse_on_overwrite=reuse_on_overwrite,
        )
    except BaseException:
        held.release()
        raise
    return Claim(folder, state, previous, held)


def _decide(folder, kind, identity, *, overwrite, card, record, complete, differences, scratch, ours,
            beside_others, flag, reuse_on_overwrite) -> tuple[State, dict | None]:  # fmt: skip
    names = [c.name for c in folder.iterdir() if not is_lock(c.name)] if folder.is_dir() else []
    if all(name in scratch for name in names):
        return "fresh", None
    try:
        previous = record(folder) if record is not None else read_card(folder, card)
    except ConfigError as err:
        if overwrite:
            return "fresh", None
        raise OutputRefused(
            f"{err}; pass --overwrite to start it again, or choose another {flag}",
            folder=folder,
            overwrite_helps=True,
        ) from None
    source = "its record" if record is not None else card
    if previous is None and (record is not None or card != CARD_JSON):
        other = read_card(folder)  # another command's output (a card.json where a run.json goes)
        if other is not None:
            previous, source = other, CARD_JSON
    if previous is None and any((folder / name).exists() for name in ours):
        if overwrite:
            return "fresh", None
        raise OutputRefused(
            f"{folder} holds {named(kind)}'s files but no {card} (damaged, or made by an older "
            f"polyglot); pass --overwrite to start it again, or choose another {flag}",
            folder=folder,
            overwrite_helps=True,
        )
    if previous is None:
        other = _other_output(folder)
        if other is not None:  # another command's output, recorded its own way
            raise OutputRefused(
                f"{folder} holds {named(other[0])} ({other[1]}), not {named(kind)}; choose "
                f"another {flag}",
                folder=folder,
                overwrite_helps=False,
            )
        checkpoint = any((folder / name).exists() for name in CHECKPOINT_FILES)
        if beside_others and not checkpoint:
            return "fresh", None
        what = "a model checkpoint" if checkpoint else "files not made by polyglot"
        raise OutputRefused(
            f"{folder} holds {what}, not {named(kind)}; choose another {flag}",
            folder=folder,
            overwrite_helps=False,
        )
    # a card of this command's own file without a kind: an older polyglot's (its identity decides)
    if previous.get("kind") != kind and not (previous.get("kind") is None and source == card):
        other = named(str(previous.get("kind", "polyglot-output")))
        raise OutputRefused(
            f"{folder} holds {other} ({source}), not {named(kind)}; choose another {flag}",
            folder=folder,
            overwrite_helps=False,
        )
    done = complete(folder) if complete is not None else True
    changed = (
        differences(previous)
        if differences is not None
        else identity_differences(previous.get("identity") or {}, identity or {})
    )
    if changed:
        if overwrite:
            return "fresh", previous
        state = "a finished" if done else "an unfinished"
        raise OutputRefused(
            f"{folder} holds {state} {kind.replace('-', ' ')} that differs from this one: "
            f"{'; '.join(changed[:4])}. Pass --overwrite to replace it, or choose another {flag}",
            folder=folder,
            overwrite_helps=True,
            differences=changed,
        )
    if overwrite and not (done and reuse_on_overwrite):
        return "fresh", previous
    return ("reuse" if done else "resume"), previous


# where each kind of output records what made it, when that is not card.json
RECORDS = {"run.json": "eval-run", "recipe.yaml": "trained-model", "testbed.json": "testbed"}


def _other_output(folder: Path) -> tuple[str, str] | None:
    """(kind, record file) of another command's output in ``folder``, if it holds one."""
    for name, kind in RECORDS.items():
        if (folder / name).is_file():
            try:
                found = read_card(folder, name) if name.endswith(".json") else None
            except ConfigError:
                found = None
            return str((found or {}).get("kind") or kind), name
    return None

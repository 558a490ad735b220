"""Writing a safetensors file tensor by tensor, so that a merge holds one tensor in memory, not
a shard: the header (every tensor's name, dtype, shape and byte range) is known before any data
is written, a tensor taken whole from an input file is copied byte for byte inside the kernel
(``os.copy_file_range``, without passing through Python), and a blended tensor is computed and
written on its own.

The format (https://huggingface.co/docs/safetensors): 8 bytes little-endian header length, the
JSON header padded with spaces to a multiple of 8, then the tensors' bytes back to back."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from polyglot.config import ConfigError

_COPY_CHUNK = 64 << 20


@dataclass(frozen=True)
class Entry:
    """Where a tensor's bytes are in a safetensors file."""

    path: Path
    dtype: str  # the format's code: F32, BF16, ...
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in the file
    end: int


def read_header(path: str | Path) -> tuple[dict[str, Entry], dict]:
    """The entries of a safetensors file by tensor name, and its ``__metadata__``."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if length > 100 << 20:
                raise ValueError(f"header of {length} bytes")
            header = json.loads(handle.read(length))
    except (OSError, ValueError, struct.error) as err:
        raise ConfigError(f"{path}: damaged safetensors file ({err})") from None
    base = 8 + length
    size = path.stat().st_size
    entries = {}
    try:
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            if base + end > size:
                raise ConfigError(f"{path}: damaged safetensors file (truncated at tensor {name})")
            entries[name] = Entry(
                path, info["dtype"], tuple(info["shape"]), base + start, base + end
            )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{path}: damaged safetensors header ({err})") from None
    # in the order of the data (as the file's writer laid it out, aligned for each dtype)
    ordered = dict(sorted(entries.items(), key=lambda item: item[1].start))
    return ordered, header.get("__metadata__") or {}


Source = Entry | Callable[[], bytes | memoryview]


def write_streamed(
    path: str | Path,
    tensors: list[tuple[str, str, tuple[int, ...], int, Source]],
    metadata: dict | None = None,
) -> None:
    """Write ``(name, dtype code, shape, byte count, source)`` tensors to ``path`` in the given
    order: an ``Entry`` source is copied from its file, a callable gives the bytes."""
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, dtype, shape, nbytes, _ in tensors:
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + nbytes],
        }
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with Path(path).open("wb", buffering=0) as out:  # unbuffered: copies move the offset
        _write_all(out, struct.pack("<Q", len(encoded)) + encoded)
        for name, _, _, nbytes, source in tensors:
            if isinstance(source, Entry):
                _copy_range(source, out, nbytes)
            else:
                data = memoryview(source())
                if data.nbytes != nbytes:
                    raise RuntimeError(f"{name}: {data.nbytes} bytes, expected {nbytes}")
                _write_all(out, data)


def _write_all(out, data) -> None:
    view = memoryview(data).cast("B")
    while view.nbytes:
        written = out.write(view)
        view = view[written:]


def _copy_range(entry: Entry, out, nbytes: int) -> None:
    if entry.end - entry.start != nbytes:
        raise RuntimeError(
            f"{entry.path}: tensor of {entry.end - entry.start} bytes, expected {nbytes}"
        )
    with entry.path.open("rb") as source:
        position, left = entry.start, nbytes
        try:
            while left:
                copied = os.copy_file_range(source.fileno(), out.fileno(), left, position)
                if copied == 0:
                    raise OSError("short copy")
                position += copied
                left -= copied
            return
        except (AttributeError, OSError):  # no copy_file_range here (not Linux, other fs)
            out.seek(0, os.SEEK_END)
            source.seek(position)
        while left:
            chunk = source.read(min(left, _COPY_CHUNK))
            if not chunk:
                raise ConfigError(f"{entry.path}: damaged safetensors file (truncated)")
            _write_all(out, chunk)
            left -= len(chunk)

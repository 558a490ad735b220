"""What a full-file model fingerprint costs: seconds per GB to hash, and for a cached lookup.

    python scripts/bench_fingerprint.py [--gib 2] [--shards 1] [--dir /tmp]

Writes a checkpoint-like folder (config.json and weight files of random bytes), then times
``polyglot.provenance.fingerprint`` the first time (every byte read and hashed with sha256) and
the second time (the digest comes from the cache, keyed by path, size, mtime and inode), next to
a plain read of the same file (the I/O floor). The file was just written, so it is read from the
page cache: a cold disk adds its own read time.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size of the weight file (GiB)")
    parser.add_argument("--shards", type=int, default=1, help="split the weights over N files")
    parser.add_argument("--dir", type=Path, default=None, help="where to write it (a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        os.environ["POLYGLOT_CACHE_DIR"] = str(Path(tmp) / "cache")
        from polyglot.provenance import fingerprint

        model = Path(tmp) / "model"
        model.mkdir()
        (model / "config.json").write_text('{"model_type": "llama"}\n')
        size = int(args.gib * (1 << 30)) // args.shards
        chunk = os.urandom(64 << 20)
        shards = [model / f"model-{i:05d}.safetensors" for i in range(args.shards)]
        for shard in shards:
            with shard.open("wb") as handle:
                for start in range(0, size, len(chunk)):
                    handle.write(chunk[: min(len(chunk), size - start)])
        gb = size * args.shards / 1e9

        started = time.perf_counter()
        buffer = bytearray(8 << 20)
        for shard in shards:
            with shard.open("rb", buffering=0) as handle:
                while handle.readinto(buffer):
                    pass
        read = time.perf_counter() - started

        started = time.perf_counter()
        first = fingerprint(model)
        hashed = time.perf_counter() - started

        started = time.perf_counter()
        again = fingerprint(model)
        cached = time.perf_counter() - started
        assert first == again

        print(f"weights: {gb:.2f} GB in {args.shards} file(s), {os.cpu_count()} CPU cores")
        print(f"plain read:           {read:7.3f} s  ({read / gb:.3f} s/GB)")
        print(f"fingerprint, first:   {hashed:7.3f} s  ({hashed / gb:.3f} s/GB)")
        print(f"fingerprint, cached:  {cached * 1000:7.2f} ms")


if __name__ == "__main__":
    main()

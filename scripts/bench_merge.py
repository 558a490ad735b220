"""Native layer swap vs mergekit on a ~0.5B-parameter checkpoint: wall time and peak RSS.

    python scripts/bench_merge.py [--work /tmp/bench-merge] [--dtype bfloat16] [--repeats 2]

Writes two randomly initialised "experts" of one 24-layer Llama config (hidden 1024, MLP
4096, vocab 32000: 0.47B parameters) in 500 MB shards, then, each in a fresh process, runs the
same layer swap (bottom 5, top 2; once pure, once with 1 transition layer) natively and through
mergekit's Python API on the emitted recipe, and copies one expert's files as the floor (the
same bytes read and written). Each is run ``--repeats`` times (the files are in the page cache
after the first run); the best time and the peak RSS (the process' ``ru_maxrss``, which counts
the Python interpreter with torch imported) are printed, with the largest shard's size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

SHARD_BYTES = 500 * 1000 * 1000

RUNNER = r"""
import json, resource, shutil, sys, time
from pathlib import Path
kind, work, transition = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
out = work / f"out-{kind}"
shutil.rmtree(out, ignore_errors=True)
import torch  # imported before the clock, in every case alike
start = time.perf_counter()
if kind == "copy":
    out.mkdir()
    for f in (work / "math").iterdir():
        shutil.copyfile(f, out / f.name)
elif kind == "native":
    from polyglot.merge import layer_swap
    layer_swap(work / "math", work / "language", out, bottom=5, top=2, transition=transition)
else:
    from polyglot.merge import layer_swap
    layer_swap(work / "math", work / "language", out, bottom=5, top=2, transition=transition,
               engine="mergekit")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_experts(work: Path, dtype: str) -> None:
    """Two random experts of one config, sharded."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=32000, hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
        num_attention_heads=16, num_key_value_heads=16, tie_word_embeddings=False,
        torch_dtype=dtype, architectures=["LlamaForCausalLM"],
    )  # fmt: skip
    with torch.device("meta"):
        shapes = {n: p.shape for n, p in LlamaForCausalLM(config).named_parameters()}
    torch_dtype = getattr(torch, dtype)
    for seed, role in enumerate(("math", "language")):
        folder = work / role
        if (folder / "model.safetensors.index.json").is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        config.save_pretrained(folder)
        generator = torch.Generator().manual_seed(seed)
        shards, current, size = [], {}, 0
        for name, shape in shapes.items():
            tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch_dtype)
            nbytes = tensor.numel() * tensor.element_size()
            if current and size + nbytes > SHARD_BYTES:
                shards.append(current)
                current, size = {}, 0
            current[name] = tensor
            size += nbytes
        shards.append(current)
        weight_map, total = {}, 0
        for i, tensors in enumerate(shards, 1):
            file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(tensors, str(folder / file), metadata={"format": "pt"})
            for name, t in tensors.items():
                weight_map[name] = file
                total += t.numel() * t.element_size()
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        del shards, current


def measure(kind: str, work: Path, transition: int, repeats: int) -> dict:
    best: dict | None = None
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", RUNNER, kind, str(work), str(transition)],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        if best is None or figures["seconds"] < best["seconds"]:
            best = {**figures, "peak_rss_mb": max(figures["peak_rss_mb"], (best or {}).get(
                "peak_rss_mb", 0))}  # fmt: skip
        shutil.rmtree(work / f"out-{kind}", ignore_errors=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-merge"))
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.make_only:
        make_experts(args.work, args.dtype)
        return
    started = time.perf_counter()
    # in a process of its own: the peak RSS of a child survives its exec, so the measured
    # processes are started from this small one, which never holds a model
    subprocess.run(
        [sys.executable, __file__, "--make-only", "--work", str(args.work), "--dtype", args.dtype],
        check=True,
    )
    shard = max(p.stat().st_size for p in (args.work / "math").glob("*.safetensors"))
    total = sum(p.stat().st_size for p in (args.work / "math").glob("*.safetensors"))
    print(f"experts ready in {time.perf_counter() - started:.0f} s: {total / 1e9:.2f} GB each "
          f"({args.dtype}), largest shard {shard / 2**20:.0f} MiB")  # fmt: skip
    copy = measure("copy", args.work, 0, args.repeats)
    print(
        f"floor (copy the files): {copy['seconds']:.2f} s, peak RSS {copy['peak_rss_mb']:.0f} MiB"
    )
    for transition in (0, 1):
        native = measure("native", args.work, transition, args.repeats)
        mergekit = measure("mergekit", args.work, transition, args.repeats)
        print(
            f"swap b5 u2 t{transition}: native {native['seconds']:.2f} s "
            f"(peak RSS {native['peak_rss_mb']:.0f} MiB = "
            f"{native['peak_rss_mb'] * 2**20 / shard:.2f}x the largest shard), "
            f"mergekit {mergekit['seconds']:.2f} s (peak RSS {mergekit['peak_rss_mb']:.0f} MiB); "
            f"native {mergekit['seconds'] / native['seconds']:.1f}x faster"
        )


if __name__ == "__main__":
    main()

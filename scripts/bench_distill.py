"""Speed of a token-level distillation step on the CPU: the teacher run on the fly vs its
top-k log-probabilities precomputed to disk (polyglot/distill/teacher_cache.py).

    python scripts/bench_distill.py [--steps 6] [--k 64] [--threads 2]

Random Llama models built here (no download): a teacher of 8 layers × 512 and a student of 4
layers × 256, one 32k vocabulary; batches of 8 pairs, 96-token prompts and 128-token
responses. Each step is DistillTrainer's real ``compute_loss`` plus the backward pass; the
figure is response tokens per second over the steps after a warm-up step, and the cache's size
(k × response tokens) against what full teacher logits would take. The cache's one-time
computation is timed apart.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments

    from polyglot.distill.batches import DistillCollator
    from polyglot.distill.recipe import DistillRecipe, ParallelData
    from polyglot.distill.teacher_cache import build_cache
    from polyglot.distill.trainer import DistillConfig, DistillTrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab, batch, prompt, response = 32000, 8, 96, 128

    def model(layers: int, hidden: int):
        config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 3,
                             num_hidden_layers=layers, num_attention_heads=8,
                             num_key_value_heads=4, max_position_embeddings=512)  # fmt: skip
        return LlamaForCausalLM(config)

    teacher, student = model(8, 512).eval(), model(4, 256)
    pairs = batch * (args.steps + 1)
    columns = {"student_ids": [], "student_labels": [], "teacher_ids": [], "teacher_labels": [],
               "index": list(range(pairs))}  # fmt: skip
    for _ in range(pairs):
        answer = torch.randint(5, vocab, (response,)).tolist()
        for side in ("student", "teacher"):
            ask = torch.randint(5, vocab, (prompt,)).tolist()
            columns[f"{side}_ids"].append(ask + answer)
            columns[f"{side}_labels"].append([-100] * prompt + answer)
    collate = DistillCollator(0)
    batches = [
        collate([{k: columns[k][i] for k in columns} for i in range(s * batch, (s + 1) * batch)])
        for s in range(args.steps + 1)
    ]
    data = ParallelData(languages=["sw"])
    settings = DistillRecipe(teacher="t", student="s", data=data)
    trainer_class = DistillTrainer
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        cache = build_cache(teacher, columns, k=args.k, temperature=1.0, vocab=vocab, pad_id=0,
                            folder=Path(folder), identity={}, log=lambda m: None)  # fmt: skip
        cache_seconds = time.perf_counter() - started
        for name, kwargs in (("online teacher", {"teacher": teacher}),
                             (f"precomputed top-{args.k}", {"cache": cache})):  # fmt: skip
            trainer = trainer_class(
                model=student,
                args=TrainingArguments(output_dir=folder, report_to=[], use_cpu=True),
                settings=DistillConfig.from_recipe(settings), vocab=vocab, pad_id=0, eos_id=2, **kwargs,
            )  # fmt: skip
            seconds = 0.0
            for step, inputs in enumerate(batches):
                started = time.perf_counter()
                loss = trainer.compute_loss(student, inputs)
                loss.backward()
                student.zero_grad()
                if step:  # the first step warms up
                    seconds += time.perf_counter() - started
            figures[name] = batch * response * args.steps / seconds
        tokens = pairs * response
        cache_mib = (cache.values.numel() * 4 + cache.indices.numel() * 4) / 2**20
        full_mib = tokens * vocab * 4 / 2**20
    print(f"CPU threads {args.threads}; teacher 8x512, student 4x256, vocab {vocab}; batches of "
          f"{batch} pairs, {response} response tokens each\n")  # fmt: skip
    print("| teacher logits | response tokens/s |")
    print("|---|---|")
    for name, rate in figures.items():
        print(f"| {name} | {rate:.0f} |")
    speedup = figures[f"precomputed top-{args.k}"] / figures["online teacher"]
    print(f"\nprecomputed / online: {speedup:.2f}x; the cache: {cache_mib:.1f} MiB for {tokens} "
          f"tokens (full logits: {full_mib:.0f} MiB), computed once in {cache_seconds:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()

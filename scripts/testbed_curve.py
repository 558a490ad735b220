"""English accuracy of a testbed base model *during* training: the learning curve behind the
docs/testbed.md's "what it took" and seed tables. Reuses the world and tokenizer of a built
testbed and trains a fresh base model with the given settings, evaluating greedy native-CoT answers on the
first test items every N steps (evaluation time is not counted in the printed train seconds).

    python scripts/testbed_curve.py --testbed runs/testbed --seed 1 --every 240
    python scripts/testbed_curve.py --batch-size 4 --steps 3360 --seed 1 --every 480
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--testbed", type=Path, default=Path("runs/testbed"))
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--intermediate", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--kv-heads", type=int)
    parser.add_argument("--packing", choices=["stream", "documents"])
    parser.add_argument("--seed", type=int, default=0, help="model init and data order")
    parser.add_argument("--every", type=int, default=240, help="evaluate every N steps")
    parser.add_argument("--items", type=int, default=100, help="English test items per point")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's own choice, as `testbed build` runs; setting it, "
        "even to the same number, changes the masked attention's arithmetic under "
        "--packing documents, and with it the run)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from transformers import AutoTokenizer, TrainerCallback

    from polyglot.data.benchmarks import Example
    from polyglot.data.prompts import build_prompt, render_prompt
    from polyglot.files import read_jsonl
    from polyglot.testbed.build import ModelConfig, pretraining_texts
    from polyglot.testbed.model import build_tiny_model
    from polyglot.text.answers import extract_answer, is_correct
    from polyglot.train import train_causal_lm

    world = args.testbed / "world"
    if not (world / "manifest.json").exists():
        parser.error(f"no testbed world in {args.testbed}: run `polyglot testbed build` first")
    overrides = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "hidden": args.hidden,
        "intermediate": args.intermediate,
        "heads": args.heads,
        "kv_heads": args.kv_heads,
        "packing": args.packing,
    }
    config = ModelConfig(seed=args.seed, **{k: v for k, v in overrides.items() if v is not None})
    tokenizer = AutoTokenizer.from_pretrained(args.testbed / "tokenizer")
    tokenizer.padding_side = "left"
    test = read_jsonl(world / "test" / "en.jsonl")[: args.items]
    prompts = [
        render_prompt(
            build_prompt(Example(r["id"], "en", r["question"], "0", 0.0), None, "native-cot", 0)
        )
        for r in test
    ]

    def accuracy(model) -> float:
        model.eval()
        right = 0
        with torch.inference_mode():
            for i in range(0, len(prompts), 50):
                enc = tokenizer(prompts[i : i + 50], return_tensors="pt", padding=True)
                out = model.generate(
                    **enc, max_new_tokens=120, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
                for j, row in enumerate(out[:, enc.input_ids.shape[1] :]):
                    text = tokenizer.decode(row, skip_special_tokens=True).split("\n")[0]
                    right += is_correct(extract_answer(text, "en"), test[i + j]["answer"])
        model.train()
        return right / len(prompts)

    class Curve(TrainerCallback):
        def __init__(self):
            self.start, self.evaluating = time.perf_counter(), 0.0

        def on_step_end(self, _args, state, _control, model=None, **_kwargs):
            if state.global_step % args.every and state.global_step != config.steps:
                return
            began = time.perf_counter()
            trained = began - self.start - self.evaluating
            acc = accuracy(model)
            self.evaluating += time.perf_counter() - began
            print(
                f"step {state.global_step:5d}  English {acc:6.1%}  train {trained:5.0f} s",
                flush=True,
            )

    model = build_tiny_model(tokenizer, config.spec(), seed=config.seed)
    print(config.model_dump())
    with tempfile.TemporaryDirectory() as out:
        texts = pretraining_texts(
            world, json.loads((world / "manifest.json").read_text())["languages"]
        )
        train_causal_lm(
            model,
            tokenizer,
            texts,
            config.training(),
            Path(out),
            progress=False,
            callbacks=[Curve()],
        )


if __name__ == "__main__":
    main()

"""``polyglot testbed build``: the world, its tokenizer and a base model, as ordinary files.

Layout of a testbed folder (default ``runs/testbed``)::

    world/{train,dev,test}/<lang>.jsonl   parallel problems with three CoTs each
    world/general/<lang>.jsonl            general (non-math) text per language
    world/manifest.json                   the world config and counts
    tokenizer/                            sentencepiece, in Hugging Face format
    base/                                 LlamaForCausalLM checkpoint (+ tokenizer)
    testbed.json                          the build config; stages are reused when it matches

The base model is pretrained on every language's general text plus English math only, so,
like real LLMs, it reasons well in English and worse elsewhere.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from polyglot.config import ConfigError, StrictModel
from polyglot.evaluate.records import write_json
from polyglot.testbed.model import TinyModelSpec
from polyglot.testbed.world import DEFAULT_LANGUAGES, load_templates, render, sample_problem

SPLITS = ("train", "dev", "test")


class WorldConfig(StrictModel):
    languages: list[str] = list(DEFAULT_LANGUAGES)
    seed: int = 0
    train: int = 10000
    dev: int = 50
    test: int = 200
    general_documents: int = 300  # per language
    max_value: int = 99
    # Share of the mixed CoT's letters in the question's language (fastText, by sentence):
    # the band the generator is checked against.
    mixed_band: tuple[float, float] = (0.25, 0.9)

    @model_validator(mode="after")
    def _english_first(self) -> WorldConfig:
        if "en" not in self.languages:
            raise ValueError("the testbed needs 'en' (the base model learns math in English)")
        for lang in self.languages:
            load_templates(lang)
        return self


class ModelConfig(StrictModel):
    vocab_size: int = 3000
    # the architecture; defaults are TinyModelSpec's
    layers: int = TinyModelSpec.layers
    hidden: int = TinyModelSpec.hidden
    intermediate: int = TinyModelSpec.intermediate
    heads: int = TinyModelSpec.heads
    kv_heads: int = TinyModelSpec.kv_heads
    max_length: int = 256  # training block length (tokens; texts are packed)
    # "stream": texts joined and cut every max_length tokens (about half the math texts are cut
    # across two blocks); "documents": whole texts, each attending only to itself (README: more
    # seeds reached the jump in curve runs, but the default build landed at 34.5%, so not the
    # default)
    packing: Literal["stream", "documents"] = "stream"
    # 1680 steps of 8 blocks fit the 10-minute quickstart on 2 CPU cores. Small batches learn
    # this world far faster per token than large ones (32 x 420, the same tokens: under 10%
    # English). The jump to ~95% comes when the model learns to copy the question's sentences,
    # and when it comes depends on the seed: 95.5% with seed 0, 17.5% with seed 1 (README).
    steps: int = 1680
    batch_size: int = 8
    learning_rate: float = 3e-3
    warmup_ratio: float = 0.05
    seed: int = 0

    def spec(self) -> TinyModelSpec:
        return TinyModelSpec(
            layers=self.layers,
            hidden=self.hidden,
            intermediate=self.intermediate,
            heads=self.heads,
            kv_heads=self.kv_heads,
        )


class TestbedConfig(StrictModel):
    world: WorldConfig = WorldConfig()
    model: ModelConfig = ModelConfig()


def tiny_config() -> TestbedConfig:
    """For tests and `--tiny`: the same pipeline in seconds (the model learns little)."""
    return TestbedConfig(
        world=WorldConfig(train=200, dev=8, test=12, general_documents=40),
        model=ModelConfig(
            vocab_size=1500,
            layers=6,
            hidden=48,
            intermediate=96,
            heads=2,
            kv_heads=1,
            steps=30,
            batch_size=16,
            max_length=128,
        ),
    )


# -- the world -------------------------------------------------------------------------------


def build_world(out: str | Path, config: WorldConfig) -> dict:
    """Write the parallel splits and the general text; returns the manifest."""
    from polyglot.testbed.world import general_text

    out = Path(out)
    rng = random.Random(config.seed)
    seen: set = set()
    counts = {}
    for split in SPLITS:
        problems = []
        while len(problems) < getattr(config, split):
            problem = sample_problem(rng, f"{split}-{len(problems):05d}", config.max_value)
            if problem.signature() in seen:  # splits never share a problem
                continue
            seen.add(problem.signature())
            problems.append(problem)
        (out / split).mkdir(parents=True, exist_ok=True)
        for lang in config.languages:
            lines = [json.dumps(render(p, lang).to_json(), ensure_ascii=False) for p in problems]
            _write_lines(out / split / f"{lang}.jsonl", lines)
        counts[split] = len(problems)
    (out / "general").mkdir(parents=True, exist_ok=True)
    for lang in config.languages:
        docs = general_text(lang, random.Random(f"{config.seed}-{lang}"), config.general_documents)
        _write_lines(
            out / "general" / f"{lang}.jsonl",
            [json.dumps({"lang": lang, "text": d}, ensure_ascii=False) for d in docs],
        )
    manifest = {"config": config.model_dump(), "counts": counts, "languages": config.languages}
    write_json(out / "manifest.json", manifest)
    return manifest


def _write_lines(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_jsonl(path: str | Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def math_text(question: str, cot: str, lang: str, mode: str = "native-cot") -> str:
    """A problem and its CoT in exactly the prompt format `polyglot eval` uses (0-shot)."""
    from polyglot.data.benchmarks import Example
    from polyglot.data.prompts import build_prompt, render_prompt

    example = Example("x", lang, question, "0", 0.0)
    prompt = build_prompt(example, None, mode, 0)  # type: ignore[arg-type]  # no shots: no dataset
    return f"{render_prompt(prompt)} {cot}"


def pretraining_texts(world: Path, languages: list[str]) -> list[str]:
    """General text in every language plus English math with English CoT."""
    texts = [
        math_text(r["question"], r["cot_en"], "en")
        for r in read_jsonl(world / "train" / "en.jsonl")
    ]
    for lang in languages:
        texts += [r["text"] for r in read_jsonl(world / "general" / f"{lang}.jsonl")]
    return texts


def tokenizer_texts(world: Path, languages: list[str], max_problems: int = 5000) -> list[str]:
    """What the tokenizer learns from: the text the models will see, in the prompt format every
    eval uses (so "Question:" and the other labels become whole tokens in every language)."""
    texts = []
    for lang in languages:
        for r in read_jsonl(world / "train" / f"{lang}.jsonl")[:max_problems]:
            texts += [math_text(r["question"], r["cot_native"], lang), r["cot_mixed"]]
        texts += [r["text"] for r in read_jsonl(world / "general" / f"{lang}.jsonl")]
    return texts


# -- training --------------------------------------------------------------------------------


def _documents(tokenizer, texts: list[str]) -> list[list[int]]:
    """Every text as one token document: BOS, its tokens, EOS."""
    encoded = tokenizer(list(texts), add_special_tokens=False).input_ids
    return [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] for ids in encoded]


def pack_sequences(tokenizer, texts: list[str], length: int, seed: int = 0) -> list[list[int]]:
    """Shuffle the texts, join them and cut the stream into blocks of ``length`` tokens
    (standard LM pretraining: no padding, every token is trained on)."""
    docs = _documents(tokenizer, texts)
    random.Random(seed).shuffle(docs)
    stream = [token for doc in docs for token in doc]
    return [stream[i : i + length] for i in range(0, len(stream) - length + 1, length)]


def pack_documents(tokenizer, texts: list[str], length: int, seed: int = 0) -> list[list[int]]:
    """Pack whole documents (BOS text EOS) into blocks of at most ``length`` tokens, best fit
    decreasing, then shuffle the blocks. No document is cut across blocks: cutting one (as
    fixed-length stream chunking does to about half of the ~125-token math texts in 256-token
    blocks) trains the model to restate question sentences it cannot see, i.e. to invent them.
    A document longer than ``length`` is split into ``length`` pieces."""
    import bisect

    docs = [
        doc[i : i + length]
        for doc in _documents(tokenizer, texts)
        for i in range(0, len(doc), length)
    ]
    docs.sort(key=len, reverse=True)
    blocks: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, block index), sorted
    for doc in docs:
        at = bisect.bisect_left(free, (len(doc), -1))
        if at < len(free):
            room, index = free.pop(at)
        else:
            room, index = length, len(blocks)
            blocks.append([])
        blocks[index] += doc
        if room - len(doc) > 0:
            bisect.insort(free, (room - len(doc), index))
    rng = random.Random(seed)
    rng.shuffle(blocks)
    return blocks


class DocumentCollator:
    """Batches packed blocks so that every document trains as if it were alone, as it is prompted
    at evaluation: position ids restart at each document's BOS and no attention mask is passed,
    from which transformers builds a block-diagonal causal mask (one block per document; see
    ``transformers.masking_utils.find_packed_sequence_indices``). Short blocks are right-padded
    with pad tokens that are not trained on."""

    def __init__(self, bos_token_id: int, pad_token_id: int):
        self.bos, self.pad = bos_token_id, pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        ids, positions, labels = [], [], []
        for feature in features:
            block = list(feature["input_ids"])
            start, pos = 0, []
            for i, token in enumerate(block):
                if token == self.bos:
                    start = i
                pos.append(i - start)
            fill = longest - len(block)
            ids.append(block + [self.pad] * fill)
            positions.append(pos + list(range(fill)))  # the padding is a "document" of its own
            labels.append(block + [-100] * fill)
        return {
            "input_ids": torch.tensor(ids),
            "position_ids": torch.tensor(positions),
            "labels": torch.tensor(labels),
        }


def train_causal_lm(
    model,
    tokenizer,
    texts: list[str],
    config: ModelConfig,
    out: Path,
    *,
    progress: bool = True,
    callbacks: list | None = None,
) -> dict:
    """Causal-LM training on ``texts`` with transformers' Trainer (plus any Trainer
    ``callbacks``); saves to ``out``."""
    import torch
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    if config.packing == "stream":
        pack, collator = pack_sequences, DataCollatorForLanguageModeling(tokenizer, mlm=False)
    else:
        pack, collator = (
            pack_documents,
            DocumentCollator(tokenizer.bos_token_id, tokenizer.pad_token_id),
        )
    dataset = Dataset.from_dict(
        {"input_ids": pack(tokenizer, texts, config.max_length, config.seed)}
    )
    args = TrainingArguments(
        output_dir=str(out / "_trainer"),
        max_steps=config.steps,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=max(1, int(config.warmup_ratio * config.steps)),
        lr_scheduler_type="cosine",
        weight_decay=0.01,
        logging_steps=max(1, config.steps // 10),
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        disable_tqdm=not progress,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        callbacks=callbacks,
    )
    # (Trainer sets config.use_cache = False; with a cache, transformers would not build the
    # per-document mask from the position ids)
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / "_trainer", ignore_errors=True)
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    return {
        "steps": config.steps,
        "seconds": round(seconds, 1),
        "final_loss": round(losses[-1], 4) if losses else None,
        "train_loss": round(output.training_loss, 4),
        "sequences": len(dataset),
    }


# -- the whole build -------------------------------------------------------------------------


def build_testbed(
    out: str | Path = "runs/testbed",
    config: TestbedConfig | None = None,
    *,
    fresh: bool = False,
    progress: bool = True,
    log=print,
) -> dict:
    """Build (or reuse) the world, the tokenizer and the base model in ``out``."""
    from polyglot.testbed.model import build_tiny_model, parameter_count
    from polyglot.testbed.tokenizer import train_tokenizer

    config = config or TestbedConfig()
    out = Path(out)
    state_file = out / "testbed.json"
    if fresh and out.exists():
        for name in ("world", "tokenizer", "base", "testbed.json"):
            target = out / name
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(
                missing_ok=True
            )
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    wanted = json.loads(json.dumps(config.model_dump()))  # as it reads back from JSON
    if state and state.get("config") != wanted:
        raise ConfigError(
            f"{out} holds a testbed built with another config; pass --fresh to rebuild it, "
            "or choose another --out"
        )
    state.setdefault("config", wanted)
    state.setdefault("stages", {})
    out.mkdir(parents=True, exist_ok=True)

    def done(stage: str, info: dict) -> None:
        state["stages"][stage] = info
        write_json(state_file, state)

    world = out / "world"
    if "world" not in state["stages"]:
        log("building the world ...")
        manifest = build_world(world, config.world)
        done("world", manifest["counts"])
    if "tokenizer" not in state["stages"]:
        log("training the tokenizer ...")
        tokenizer = train_tokenizer(
            tokenizer_texts(world, config.world.languages),
            out / "tokenizer",
            vocab_size=config.model.vocab_size,
        )
        done("tokenizer", {"vocab_size": len(tokenizer)})
    if "base" not in state["stages"]:
        from transformers import AutoTokenizer

        log(f"pretraining the base model ({config.model.steps} steps) ...")
        tokenizer = AutoTokenizer.from_pretrained(out / "tokenizer")
        m = config.model
        model = build_tiny_model(tokenizer, m.spec(), seed=m.seed)
        shutil.rmtree(out / "base", ignore_errors=True)
        info = train_causal_lm(
            model,
            tokenizer,
            pretraining_texts(world, config.world.languages),
            m,
            out / "base",
            progress=progress,
        )
        info["parameters"] = parameter_count(model)
        done("base", info)
    return state

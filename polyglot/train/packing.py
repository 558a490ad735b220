"""Packing tokenized texts into training blocks, and the collators that batch them.

``pack_sequences`` (stream packing, for pretraining) joins texts and cuts fixed blocks;
``pack_documents`` (for fine-tuning) puts whole texts into blocks, and ``DocumentCollator`` makes
each text attend only to itself, so every example trains as it is prompted. ``encode_examples``
turns (prompt, response) pairs into token ids and labels that train on the response only;
``PaddingCollator`` batches one example per row (no packing, the fine-tuning default).
"""

from __future__ import annotations

import random


def _documents(tokenizer, texts: list[str]) -> list[list[int]]:
    """Every text as one token document: BOS, its tokens, EOS."""
    encoded = tokenizer(list(texts), add_special_tokens=False).input_ids
    return [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] for ids in encoded]


def encode_examples(
    tokenizer, examples: list[tuple[str, str]], max_length: int | None = None
) -> tuple[list[dict], int]:
    """(prompt, response) pairs as ``{"input_ids", "labels"}``: BOS, the prompt's tokens, the
    response's tokens, EOS, with labels -100 on BOS and the prompt (loss on the response only).
    Prompt and response are tokenized apart, as at generation time (the prompt alone, then what
    the model writes after it). An empty prompt trains on every token (plain text). Examples
    longer than ``max_length`` are cut at the end; returns them and how many were cut."""
    prompts = tokenizer([p for p, _ in examples], add_special_tokens=False).input_ids
    responses = tokenizer([r for _, r in examples], add_special_tokens=False).input_ids
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    encoded, cut = [], 0
    for prompt, response in zip(prompts, responses, strict=True):
        # BOS first, unless the tokenizer has none (Qwen) or the text already starts with it
        # (a chat template that writes it), as the eval backend does
        first = (prompt or response)[:1]
        start = [bos] if bos is not None and first != [bos] else []
        end = [] if response[-1:] == [eos] else [eos]  # a chat template may end with EOS
        ids = [*start, *prompt, *response, *end]
        # plain text (no prompt): every token is a label (the first is never a target)
        labels = [-100] * (len(start) + len(prompt)) + [*response, *end] if prompt else list(ids)
        if max_length and len(ids) > max_length:
            ids, labels, cut = ids[:max_length], labels[:max_length], cut + 1
        encoded.append({"input_ids": ids, "labels": labels})
    return encoded, cut


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
    docs = [{"input_ids": doc, "labels": doc} for doc in _documents(tokenizer, texts)]
    return [block["input_ids"] for block in pack_labelled(docs, length, seed)]


def pack_labelled(docs: list[dict], length: int, seed: int = 0) -> list[dict]:
    """``pack_documents`` for documents with labels (``{"input_ids", "labels"}``): whole
    documents best-fit into blocks of at most ``length`` tokens, blocks shuffled (a document
    longer than ``length`` is split; ``encode_examples(max_length=...)`` cuts them first)."""
    import bisect

    pieces = [
        {"input_ids": d["input_ids"][i : i + length], "labels": d["labels"][i : i + length]}
        for d in docs
        for i in range(0, len(d["input_ids"]), length)
    ]
    pieces.sort(key=lambda d: len(d["input_ids"]), reverse=True)
    blocks: list[dict] = []
    free: list[tuple[int, int]] = []  # (room left, block index), sorted
    for doc in pieces:
        size = len(doc["input_ids"])
        at = bisect.bisect_left(free, (size, -1))
        if at < len(free):
            room, index = free.pop(at)
        else:
            room, index = length, len(blocks)
            blocks.append({"input_ids": [], "labels": []})
        blocks[index]["input_ids"] += doc["input_ids"]
        blocks[index]["labels"] += doc["labels"]
        if room - size > 0:
            bisect.insort(free, (room - size, index))
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
            trained = list(feature.get("labels") or block)
            start, pos = 0, []
            for i, token in enumerate(block):
                if token == self.bos:
                    start = i
                pos.append(i - start)
            fill = longest - len(block)
            ids.append(block + [self.pad] * fill)
            positions.append(pos + list(range(fill)))  # the padding is a "document" of its own
            labels.append(trained + [-100] * fill)
        return {
            "input_ids": torch.tensor(ids),
            "position_ids": torch.tensor(positions),
            "labels": torch.tensor(labels),
        }


class PaddingCollator:
    """One example per row, right-padded with pad tokens that are neither attended to nor
    trained on (the fine-tuning default: no packing)."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        longest = max(len(f["input_ids"]) for f in features)
        ids, mask, labels = [], [], []
        for feature in features:
            block, fill = list(feature["input_ids"]), longest - len(feature["input_ids"])
            ids.append(block + [self.pad] * fill)
            mask.append([1] * len(block) + [0] * fill)
            labels.append(list(feature.get("labels") or block) + [-100] * fill)
        return {
            "input_ids": torch.tensor(ids),
            "attention_mask": torch.tensor(mask),
            "labels": torch.tensor(labels),
        }

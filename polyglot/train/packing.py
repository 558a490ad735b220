"""Packing tokenized texts into training blocks, and the collators that batch them.

``pack_sequences`` (stream packing, for pretraining) joins texts and cuts fixed blocks;
``pack_documents`` (for fine-tuning) puts whole texts into blocks, and ``DocumentCollator`` makes
each text attend only to itself, so every example trains as it is prompted.
"""

from __future__ import annotations

import random


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

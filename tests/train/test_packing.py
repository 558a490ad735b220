"""Pretraining blocks: whole documents (none cut, lost or repeated), each attending only to
itself, and the stream packing that is the default."""

from __future__ import annotations

from collections import Counter

from transformers import AutoTokenizer

from polyglot.train import pack_documents


def _documents(block: list[int], bos: int, eos: int) -> list[tuple[int, ...]]:
    docs, current = [], []
    for token in block:
        current.append(token)
        if token == eos:
            docs.append(tuple(current))
            current = []
    assert not current, "a block ends inside a document"
    assert all(doc[0] == bos for doc in docs), "a block starts inside a document"
    return docs


def test_blocks_hold_whole_documents(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    texts = [f"Tom has {n} apples. " * (1 + n % 5) for n in range(60)]
    blocks = pack_documents(tokenizer, texts, length=64, seed=3)

    expected = Counter(
        (tokenizer.bos_token_id, *ids, tokenizer.eos_token_id)
        for ids in tokenizer(texts, add_special_tokens=False).input_ids
    )
    assert max(map(len, expected)) <= 64
    packed = Counter(
        doc
        for block in blocks
        for doc in _documents(block, tokenizer.bos_token_id, tokenizer.eos_token_id)
    )
    assert packed == expected
    assert all(len(block) <= 64 for block in blocks)
    # best fit: no two blocks could have been one (so at most one is half empty)
    shortest, second = sorted(map(len, blocks))[:2]
    assert shortest + second > 64


def test_a_document_longer_than_a_block_is_split(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    long = "Tom buys 3 more apples and gives 2 to Amina. " * 30
    blocks = pack_documents(tokenizer, [long, "short"], length=32)
    assert all(len(block) <= 32 for block in blocks)
    n = len(tokenizer(long, add_special_tokens=False).input_ids) + 2
    assert (
        sum(map(len, blocks)) == n + len(tokenizer("short", add_special_tokens=False).input_ids) + 2
    )


def test_packing_is_deterministic_by_seed(tiny_model):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    texts = [f"Amina sells {n} cups." for n in range(40)]
    assert pack_documents(tokenizer, texts, 32, seed=1) == pack_documents(
        tokenizer, texts, 32, seed=1
    )
    assert pack_documents(tokenizer, texts, 32, seed=1) != pack_documents(
        tokenizer, texts, 32, seed=2
    )


def test_each_packed_document_trains_as_if_alone(tiny_model):
    """The collator's position ids make transformers mask attention to each document: a
    document's logits inside a packed block equal its logits on its own."""
    import torch
    from transformers import AutoModelForCausalLM

    from polyglot.train import DocumentCollator

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    model.config.use_cache = False  # as train_causal_lm trains
    texts = ["Tom has 3 apples.", "Amina buys 5 more cups and sells 2.", "Juma has 7 pens."]
    blocks = pack_documents(tokenizer, texts, length=128)
    assert len(blocks) == 1
    collate = DocumentCollator(tokenizer.bos_token_id, tokenizer.pad_token_id)
    batch = collate([{"input_ids": blocks[0]}, {"input_ids": blocks[0][:5]}])
    assert batch["labels"][1, 5:].eq(-100).all()
    with torch.no_grad():
        packed = model(**batch).logits[0]
        block = blocks[0]
        start = 0
        for end in [i + 1 for i, t in enumerate(block) if t == tokenizer.eos_token_id]:
            alone = model(input_ids=torch.tensor([block[start:end]])).logits[0]
            torch.testing.assert_close(packed[start:end], alone, rtol=1e-4, atol=1e-4)
            start = end
        # without the document positions the later documents would see the earlier ones
        mixed = model(input_ids=batch["input_ids"][:1]).logits[0]
        assert not torch.allclose(mixed[start - 5 : start], packed[start - 5 : start], atol=1e-3)

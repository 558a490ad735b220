"""The ``self-reflection`` detector (Kang et al., 2025): after the model's native attempt, ask it
in the question's language whether it understood the question (the pack's ``reflection``
question), and compare the likelihoods of the two answers: the score is
P(no) / (P(yes) + P(no)), each answer's probability being that of all its tokens after
prompt + trace + question (one teacher-forced pass per answer, no sampling)."""

from __future__ import annotations

import math

from polyglot.config import ConfigError
from polyglot.packs import load_pack


def reflection_context(record: dict) -> tuple[str, str, str]:
    """The text the answers follow, and the pack's two answers, for an eval record."""

    pack = load_pack(record["lang"])
    if pack.reflection is None:
        raise ConfigError(
            f"--detector self-reflection: the '{pack.code}' language pack has no `reflection` "
            "question (add question, yes and no to its file)"
        )
    output = record.get("output") or ""
    context = f"{record['prompt']}{output}\n\n{pack.reflection.question}\n"
    return context, pack.reflection.yes, pack.reflection.no


def reflection_scores(
    model,
    tokenizer,
    records: list[dict],
    *,
    batch_size: int = 16,
) -> dict[str, float]:
    """P(no) / (P(yes) + P(no)) per record key."""
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = []  # (key, answer index, context ids, answer ids)
    for record in records:
        context, yes, no = reflection_context(record)
        ids = tokenizer(context, add_special_tokens=True).input_ids
        for index, answer in enumerate((yes, no)):
            answer_ids = tokenizer(answer, add_special_tokens=False).input_ids
            rows.append((record["key"], index, ids, answer_ids))
    logprob: dict[tuple[str, int], float] = {}
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        width = max(len(c) + len(a) for _, _, c, a in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (_, _, context, answer) in enumerate(batch):
            ids[i, : len(context) + len(answer)] = torch.tensor(context + answer)
            mask[i, : len(context) + len(answer)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        for i, (key, index, context, answer) in enumerate(batch):
            # the distribution at position j predicts token j + 1
            span = logits[i, len(context) - 1 : len(context) + len(answer) - 1].float()
            targets = torch.tensor(answer, device=device)[:, None]
            logprob[(key, index)] = float(torch.log_softmax(span, dim=-1).gather(1, targets).sum())
    scores = {}
    for record in records:
        yes, no = logprob[(record["key"], 0)], logprob[(record["key"], 1)]
        scores[record["key"]] = 1.0 / (1.0 + math.exp(min(yes - no, 700.0)))  # sigmoid(no - yes)
    return scores

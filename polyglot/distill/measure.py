"""How far a student is from its teacher on the pairs: the mean per-token divergence over every
response token, the teacher reading its prompt and the student its own (what token-level
distillation lowers; reported before and after a run)."""

from __future__ import annotations

from polyglot.distill.batches import pad_rows
from polyglot.distill.divergence import token_divergence
from polyglot.distill.pairs import response_positions


def mean_divergence(teacher, student, columns: dict[str, list], *, vocab: int, pad_id: int,
                    kind: str = "forward-kl", beta: float = 0.5, temperature: float = 1.0,
                    batch_size: int = 8) -> float:  # fmt: skip
    import torch

    device = next(student.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(columns["index"]), batch_size):
        sides = {}
        for side, model in (("teacher", teacher), ("student", student)):
            ids, mask = pad_rows(columns[f"{side}_ids"][start : start + batch_size], pad_id)
            labels, _ = pad_rows(columns[f"{side}_labels"][start : start + batch_size], -100)
            with torch.no_grad():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            sides[side] = logits[:, :-1, :vocab][response_positions(labels.to(device))]
        values = token_divergence(sides["student"], sides["teacher"], kind, beta=beta,
                                  temperature=temperature)  # fmt: skip
        total += float(values.sum())
        count += values.numel()
    return total / max(count, 1)

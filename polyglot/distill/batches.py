"""The batches of a token-level distillation: each pair's student and teacher sequences, padded
on the right (``DistillCollator``), and the prompts inside them."""

from __future__ import annotations


def pad_rows(rows: list[list[int]], value: int):
    import torch

    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return out, mask


def prompts_of(ids, labels) -> list[list[int]]:
    """Each row's prompt: its tokens before the first labelled one (rows are right-padded)."""
    prompts = []
    for row, row_labels in zip(ids.tolist(), labels.tolist(), strict=True):
        first = next((i for i, label in enumerate(row_labels) if label != -100), len(row))
        prompts.append(row[:first])
    return prompts


class DistillCollator:
    """Pads the student and teacher sequences of a batch (right side)."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        batch = {}
        for side in ("student", "teacher"):
            ids, mask = pad_rows([r[f"{side}_ids"] for r in rows], self.pad_id)
            labels, _ = pad_rows([r[f"{side}_labels"] for r in rows], -100)
            batch.update({f"{side}_ids": ids, f"{side}_mask": mask, f"{side}_labels": labels})
        batch["index"] = torch.tensor([r["index"] for r in rows], dtype=torch.long)
        return batch

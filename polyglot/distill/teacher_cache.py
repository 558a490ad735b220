"""The teacher's top-k log-probabilities on every pair's response tokens, computed once and kept
in the output folder (``_teacher_topk/``: ``topk.safetensors`` with ``values`` [tokens, k]
float32, ``indices`` [tokens, k] int32, ``offsets`` [pairs + 1] int64, and ``topk.json``, what
made it). Memory and disk are k × response tokens, not vocabulary × tokens; a rerun, an epoch or
a resume reads it back while the teacher, the pairs, k and the temperature are the same."""

from __future__ import annotations

import json
from pathlib import Path

from polyglot.distill.batches import pad_rows
from polyglot.distill.divergence import teacher_topk
from polyglot.distill.pairs import response_positions
from polyglot.files import write_json

FOLDER = "_teacher_topk"


class TeacherCache:
    def __init__(self, values, indices, offsets):
        self.values, self.indices, self.offsets = values, indices, offsets

    def lookup(self, rows: list[int], device):
        """The top-k of these pairs' response tokens, concatenated in order."""
        import torch

        spans = [(int(self.offsets[r]), int(self.offsets[r + 1])) for r in rows]
        values = torch.cat([self.values[a:b] for a, b in spans]).to(device)
        indices = torch.cat([self.indices[a:b] for a, b in spans]).to(device)
        return values, indices


def build_cache(teacher, columns: dict[str, list], *, k: int, temperature: float, vocab: int,
                pad_id: int, folder: Path, identity: dict, batch_size: int = 8,
                log=print) -> TeacherCache:  # fmt: skip
    """Read ``folder`` when it holds this very cache, else compute it (teacher forward passes
    over the teacher sequences, batched) and write it."""
    import torch
    from safetensors.torch import load_file, save_file

    note = {"identity": identity, "k": k, "temperature": temperature, "vocab": vocab,
            "pairs": len(columns["teacher_ids"])}  # fmt: skip
    note = json.loads(json.dumps(note))
    meta, tensors = folder / "topk.json", folder / "topk.safetensors"
    if meta.is_file() and tensors.is_file():
        try:
            same = json.loads(meta.read_text(encoding="utf-8")) == note
        except (json.JSONDecodeError, UnicodeDecodeError):
            same = False
        if same:
            try:
                found = load_file(str(tensors))
                log(f"teacher top-{k}: reusing {folder}")
                return TeacherCache(found["values"], found["indices"], found["offsets"])
            except Exception:  # noqa: BLE001 - a damaged file is recomputed
                pass
    device = next(teacher.parameters()).device
    order = columns["index"]
    if order != list(range(len(order))):
        raise ValueError("the pairs' index column must be their row numbers")
    chunks_v, chunks_i, lengths = [], [], []
    log(f"teacher top-{k}: {len(order)} pairs -> {folder}")
    for start in range(0, len(order), batch_size):
        ids, mask = pad_rows(columns["teacher_ids"][start : start + batch_size], pad_id)
        labels, _ = pad_rows(columns["teacher_labels"][start : start + batch_size], -100)
        with torch.no_grad():
            logits = teacher(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        logits = logits[:, :-1, :vocab]
        positions = response_positions(labels.to(device))
        for row in range(ids.shape[0]):
            values, indices = teacher_topk(logits[row][positions[row]], k, temperature=temperature)
            chunks_v.append(values.cpu())
            chunks_i.append(indices.to(torch.int32).cpu())
            lengths.append(values.shape[0])
    offsets = [0]
    for length in lengths:  # rows in the dataset's order: ``index`` is the row number
        offsets.append(offsets[-1] + length)
    dense = {"values": torch.cat(chunks_v).contiguous(),
             "indices": torch.cat(chunks_i).contiguous(),
             "offsets": torch.tensor(offsets, dtype=torch.long)}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    save_file(dense, str(tensors))
    write_json(meta, note)
    return TeacherCache(dense["values"], dense["indices"], dense["offsets"])

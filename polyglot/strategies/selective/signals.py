"""What the understanding-failure detectors read from a model's native attempt at an item: one
teacher-forced pass over prompt + generated trace gives

- ``prompt_nll``: the mean negative log-likelihood of the prompt's tokens;
- ``confidence_mean`` / ``confidence_min``: per trace token, minus the mean of the top-20
  log-probabilities of the model's next-token distribution (Kang et al., 2025: a peaked,
  confident distribution scores high), averaged over the trace, and its minimum;
- ``hidden``: the last layer's hidden state at the trace's final token (what the probe reads).
"""

from __future__ import annotations

from collections.abc import Callable

TOP_K = 20


def trace_signals(
    model,
    tokenizer,
    records: list[dict],
    *,
    batch_size: int = 16,
    advance: Callable[[int], None] | None = None,
) -> dict[str, dict]:
    """Signals per record key; ``records`` are eval records (``prompt`` and ``output``)."""
    import torch

    device = next(model.parameters()).device
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    found: dict[str, dict] = {}
    for start in range(0, len(records), batch_size):
        batch = records[start : start + batch_size]
        encoded = []
        for record in batch:
            prompt = tokenizer(record["prompt"], add_special_tokens=True).input_ids
            output = record.get("output") or ""
            spaced = output if not output or output[0].isspace() else " " + output
            trace = tokenizer(spaced, add_special_tokens=False).input_ids if output else []
            encoded.append((prompt, trace))
        width = max(len(p) + len(t) for p, t in encoded)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (prompt, trace) in enumerate(encoded):
            row = prompt + trace
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.no_grad():
            hidden = decoder(input_ids=ids.to(device), attention_mask=mask.to(device))[0]
            for i, (record, (prompt, trace)) in enumerate(zip(batch, encoded, strict=True)):
                end = len(prompt) + len(trace)
                # the distribution at position j predicts token j + 1
                logits = head(hidden[i, : end - 1]).float()
                logprobs = torch.log_softmax(logits, dim=-1)
                targets = ids[i, 1:end].to(device)
                token_lp = logprobs.gather(1, targets[:, None])[:, 0]
                prompt_part = token_lp[: len(prompt) - 1]
                signals = {
                    "prompt_nll": float(-prompt_part.mean()) if len(prompt_part) else 0.0,
                    "hidden": hidden[i, end - 1].float().cpu(),
                    "trace_tokens": len(trace),
                }
                if trace:
                    top = logprobs[len(prompt) - 1 :].topk(min(TOP_K, logprobs.shape[-1])).values
                    confidence = -top.mean(dim=-1)
                    signals["confidence_mean"] = float(confidence.mean())
                    signals["confidence_min"] = float(confidence.min())
                else:  # nothing generated: no confidence to read
                    signals["confidence_mean"] = signals["confidence_min"] = 0.0
                found[record["key"]] = signals
        if advance:
            advance(len(batch))
    return found

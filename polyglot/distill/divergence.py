"""Token-level divergences between a teacher's and a student's next-token distributions.

Every function returns one value per position (shape ``logits.shape[:-1]``); the caller masks
and averages. With temperature T both distributions are softened (logits / T) and the result
is multiplied by T², so that the gradient's scale does not shrink as T grows (Hinton et al.,
2015) — TRL's GKD applies T only to sampling; at T = 1 the two agree exactly.

- ``forward-kl``: KL(teacher ‖ student), mean-seeking (what classic KD minimises);
- ``reverse-kl``: KL(student ‖ teacher), mode-seeking;
- ``jsd`` with β: β·KL(teacher ‖ M) + (1−β)·KL(student ‖ M), M = β·teacher + (1−β)·student
  (generalized JSD, Agarwal et al. 2024, as TRL's GKD defines it: β = 0 is forward KL, β = 1
  reverse KL, and 0 < β < 1 is bounded by −β·log β − (1−β)·log(1−β) ≤ log 2).

``sparse_divergence`` takes the teacher as its top-k log-probabilities (precomputed to disk):
both distributions are collapsed onto the same k + 1 outcomes — the k teacher tokens and "any
other token", whose mass is 1 − Σ top-k for the teacher and 1 − Σ over the same ids for the
student — and the divergence is taken between those. It equals the full divergence when k is
the vocabulary, and is never larger (a divergence cannot grow when outcomes are merged); the
tail is a proper outcome, so the two distributions each sum to one (dropping the tail, or
renormalising the top-k alone, is a known source of wrong KD losses).
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["forward-kl", "reverse-kl", "jsd"]
KINDS = ("forward-kl", "reverse-kl", "jsd")
TAIL_FLOOR = -40.0


def _kl(log_p, log_q):
    """KL(p ‖ q) over the last axis, from log-probabilities (0·log 0 = 0)."""
    import torch

    p = log_p.exp()
    present = p > 0  # masked before the product, so that no 0·inf reaches the gradient
    zero = torch.zeros_like(log_p)
    return (p * (torch.where(present, log_p, zero) - torch.where(present, log_q, zero))).sum(-1)


def _between(log_t, log_s, kind: Kind, beta: float):
    import math

    import torch

    if kind == "forward-kl" or (kind == "jsd" and beta == 0):
        return _kl(log_t, log_s)
    if kind == "reverse-kl" or (kind == "jsd" and beta == 1):
        return _kl(log_s, log_t)
    if kind != "jsd":
        raise ValueError(f"divergence {kind!r}: one of {', '.join(KINDS)}")
    if not 0 < beta < 1:
        raise ValueError(f"jsd beta {beta}: must be in [0, 1]")
    mixture = torch.logsumexp(
        torch.stack([log_t + math.log(beta), log_s + math.log(1 - beta)]), dim=0
    )
    return beta * _kl(log_t, mixture) + (1 - beta) * _kl(log_s, mixture)


def token_divergence(
    student_logits, teacher_logits, kind: Kind = "forward-kl", *, beta: float = 0.5,
    temperature: float = 1.0,
):  # fmt: skip
    """Per-position divergence between full-vocabulary logits (``[..., V]`` each)."""
    import torch

    if temperature <= 0:
        raise ValueError(f"temperature {temperature}: must be > 0")
    log_s = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    log_t = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)
    return _between(log_t, log_s, kind, beta) * temperature**2


def teacher_topk(teacher_logits, k: int, *, temperature: float = 1.0):
    """The teacher's top-k log-probabilities at ``temperature`` and their token ids (what is
    precomputed to disk: k values per position instead of the vocabulary)."""
    import torch

    log_t = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)
    values, indices = log_t.topk(min(k, log_t.shape[-1]), dim=-1)
    return values, indices


def _with_tail(log_top):
    """``[..., k]`` log-probabilities of k outcomes -> ``[..., k + 1]`` with the rest's mass."""
    import torch

    total = torch.logsumexp(log_top, dim=-1, keepdim=True).clamp(max=0.0)
    # log(1 - exp(total)), accurate near 0 and exactly -inf when the top-k hold all the mass
    rest = torch.where(
        total > -0.6931, torch.log(-torch.expm1(total)), torch.log1p(-total.exp())
    )  # fmt: skip
    # floored at e^-40 (4e-18): a top-k holding all the mass in float32 leaves a finite tail
    return torch.cat([log_top, rest.clamp(min=TAIL_FLOOR)], dim=-1)


def sparse_divergence(
    student_logits, teacher_values, teacher_indices, kind: Kind = "forward-kl", *,
    beta: float = 0.5, temperature: float = 1.0,
):  # fmt: skip
    """Per-position divergence with the teacher given as top-k log-probabilities
    (``teacher_values``, at ``temperature``) at ``teacher_indices`` (``[..., k]`` each); see the
    module docstring."""
    import torch

    if temperature <= 0:
        raise ValueError(f"temperature {temperature}: must be > 0")
    log_s = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    indices = teacher_indices.long()
    log_s_top = log_s.gather(-1, indices)
    if indices.shape[-1] >= log_s.shape[-1]:  # the whole vocabulary: no tail
        rest = torch.full_like(log_s_top[..., :1], TAIL_FLOOR)
    else:  # the student's tail from the tokens outside the top-k themselves: exact, and
        # finite even when its top-k mass rounds to 1 (log(1 - 1) would make the gradient NaN)
        rest = log_s.scatter(-1, indices, float("-inf")).logsumexp(-1, keepdim=True)
        rest = rest.clamp(min=TAIL_FLOOR)
    log_t = _with_tail(teacher_values.float())
    return _between(log_t, torch.cat([log_s_top, rest], dim=-1), kind, beta) * temperature**2

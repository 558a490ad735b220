"""The divergences against values computed by hand, their bounds, the temperature's T² scale,
the sparse top-k form with its tail, and TRL's GKD loss on the same logits."""

from __future__ import annotations

import math

import pytest
import torch

from polyglot.distill.divergence import (
    sparse_divergence,
    teacher_topk,
    token_divergence,
)


def _logits(*probs):
    return torch.log(torch.tensor(probs, dtype=torch.float32))


def test_values_by_hand():
    p, q = [0.5, 0.25, 0.25], [0.25, 0.5, 0.25]  # teacher, student
    teacher, student = _logits(*p), _logits(*q)
    forward = sum(a * math.log(a / b) for a, b in zip(p, q, strict=True))
    reverse = sum(b * math.log(b / a) for a, b in zip(p, q, strict=True))
    assert token_divergence(student, teacher, "forward-kl").item() == pytest.approx(forward)
    assert token_divergence(student, teacher, "reverse-kl").item() == pytest.approx(reverse)
    m = [0.5 * a + 0.5 * b for a, b in zip(p, q, strict=True)]
    jsd = 0.5 * sum(a * math.log(a / c) for a, c in zip(p, m, strict=True)) + 0.5 * sum(
        b * math.log(b / c) for b, c in zip(q, m, strict=True)
    )
    assert token_divergence(student, teacher, "jsd", beta=0.5).item() == pytest.approx(jsd)
    # beta 0 and 1 are the two KLs
    assert token_divergence(student, teacher, "jsd", beta=0).item() == pytest.approx(forward)
    assert token_divergence(student, teacher, "jsd", beta=1).item() == pytest.approx(reverse)


def test_zero_on_itself_and_bounded():
    torch.manual_seed(0)
    a, b = torch.randn(64, 30) * 3, torch.randn(64, 30) * 3
    for kind in ("forward-kl", "reverse-kl", "jsd"):
        assert token_divergence(a, a, kind).abs().max().item() < 1e-5
        assert (token_divergence(a, b, kind) >= -1e-6).all()
    for beta in (0.1, 0.5, 0.9):
        bound = -beta * math.log(beta) - (1 - beta) * math.log(1 - beta)
        assert (token_divergence(a, b * 10, "jsd", beta=beta) <= bound + 1e-5).all()
    # disjoint supports reach the bound (log 2 at beta 0.5)
    far = token_divergence(torch.tensor([50.0, -50.0]), torch.tensor([-50.0, 50.0]), "jsd")
    assert far.item() == pytest.approx(math.log(2), abs=1e-4)


def test_temperature_softens_both_and_scales_by_its_square():
    torch.manual_seed(1)
    s, t = torch.randn(5, 20), torch.randn(5, 20)
    plain = token_divergence(s / 2, t / 2, "forward-kl")
    assert torch.allclose(token_divergence(s, t, "forward-kl", temperature=2.0), 4 * plain)


def test_sparse_equals_dense_with_the_whole_vocabulary_and_never_exceeds_it():
    torch.manual_seed(2)
    s, t = torch.randn(4, 7, 40), torch.randn(4, 7, 40) * 2
    for kind in ("forward-kl", "reverse-kl", "jsd"):
        dense = token_divergence(s, t, kind, temperature=1.5)
        values, indices = teacher_topk(t, 40, temperature=1.5)
        full = sparse_divergence(s, values, indices, kind, temperature=1.5)
        assert torch.allclose(full, dense, atol=1e-4), kind
        for k in (1, 5, 20):
            values, indices = teacher_topk(t, k, temperature=1.5)
            part = sparse_divergence(s, values, indices, kind, temperature=1.5)
            assert (part <= dense + 1e-5).all(), (kind, k)


def test_the_tail_is_an_outcome_of_its_own():
    # teacher: top-2 hold 0.5 + 0.3, the tail 0.2; student puts 0.1 + 0.1 there, 0.8 elsewhere
    values = torch.log(torch.tensor([[0.5, 0.3]]))
    indices = torch.tensor([[0, 1]])
    student = torch.log(torch.tensor([[0.1, 0.1, 0.4, 0.4]]))
    expected = 0.5 * math.log(0.5 / 0.1) + 0.3 * math.log(0.3 / 0.1) + 0.2 * math.log(0.2 / 0.8)
    got = sparse_divergence(student, values, indices, "forward-kl").item()
    assert got == pytest.approx(expected, abs=1e-5)
    # renormalising the top-2 alone (0.625, 0.375 vs 0.5, 0.5) would give another value
    wrong = 0.625 * math.log(0.625 / 0.5) + 0.375 * math.log(0.375 / 0.5)
    assert abs(got - wrong) > 0.1


def test_gradients_stay_finite_when_the_top_k_hold_all_the_mass():
    teacher = torch.tensor([[20.0, 20.0, -80.0, -80.0]])
    values, indices = teacher_topk(teacher, 2)
    student = torch.randn(1, 4, requires_grad=True)
    for kind in ("forward-kl", "reverse-kl", "jsd"):
        sparse_divergence(student, values, indices, kind).sum().backward()
        assert torch.isfinite(student.grad).all(), kind
        student.grad = None


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 1.0])
def test_the_same_values_as_trls_gkd_loss(beta):
    gkd = pytest.importorskip("trl.experimental.gkd.gkd_trainer", reason="TRL not installed")
    torch.manual_seed(3)
    s, t = torch.randn(2, 6, 50), torch.randn(2, 6, 50)
    labels = torch.tensor([[-100, -100, 5, 6, 7, 8], [-100, 3, 4, 5, -100, -100]])
    ours_kind = "forward-kl" if beta == 0 else "reverse-kl" if beta == 1 else "jsd"
    ours = token_divergence(s, t, ours_kind, beta=beta)[labels != -100].mean()
    theirs = gkd.GKDTrainer.generalized_jsd_loss(s, t, labels=labels, beta=beta)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    # with a temperature, polyglot scales by T² where TRL does not
    hot = token_divergence(s, t, ours_kind, beta=beta, temperature=2.0)[labels != -100].mean()
    theirs_hot = gkd.GKDTrainer.generalized_jsd_loss(
        s, t, labels=labels, beta=beta, temperature=2.0
    )
    assert hot.item() == pytest.approx(4 * theirs_hot.item(), rel=1e-5)


@pytest.mark.parametrize("k", [3, 50])
def test_gradients_stay_finite_when_the_student_puts_all_its_mass_on_the_top_k(k):
    teacher = torch.randn(4, 50)
    student = torch.zeros(4, 50)
    student[:, :3] = 60.0  # float32 rounds its mass outside these three to nothing
    student.requires_grad_()
    values, indices = teacher_topk(teacher, k)
    for kind in ("forward-kl", "reverse-kl", "jsd"):
        value = sparse_divergence(student, values, indices, kind)
        value.sum().backward()
        assert torch.isfinite(value).all() and torch.isfinite(student.grad).all(), (kind, k)
        student.grad = None

import math

import pytest

from polyglot.evaluate.metrics import (
    accuracy,
    consistency,
    gap_to_english,
    mcnemar_exact,
    paired_bootstrap,
)


def test_accuracy_and_its_interval():
    result = accuracy([True] * 30 + [False] * 10, seed=1)
    assert result.value == 0.75 and result.n == 40
    assert result.low < 0.75 < result.high
    # binomial standard error is about 0.068, so the 95% interval is about +-0.13
    assert 0.55 < result.low < 0.68 and 0.82 < result.high < 0.92
    assert accuracy([True] * 30 + [False] * 10, seed=1) == result  # deterministic
    assert math.isnan(accuracy([]).value)


def test_gap_to_english():
    gap = gap_to_english(0.45, 0.9)
    assert gap.points == pytest.approx(-45.0) and gap.ratio == pytest.approx(0.5)


def test_consistency_by_hand():
    english = [True, True, True, False, False]
    language = [True, False, False, True, False]
    c = consistency(english, language)
    assert (c.both, c.english_only, c.language_only, c.neither) == (0.2, 0.4, 0.2, 0.2)
    with pytest.raises(ValueError, match="differ in length"):
        consistency([True], [True, False])


def test_mcnemar_exact_by_hand():
    # 6 items only a solves, 1 only b solves: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 16/128
    a = [True] * 6 + [False] + [True] * 5
    b = [False] * 6 + [True] + [True] * 5
    assert mcnemar_exact(a, b) == pytest.approx(0.125)
    assert mcnemar_exact(a, a) == 1.0


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    a = [False] * 40 + [True] * 60
    b = [True] * 40 + [True] * 60
    diff, p = paired_bootstrap(a, b, seed=0)
    assert diff == pytest.approx(0.4) and p < 0.01
    diff, p = paired_bootstrap(a, a, seed=0)
    assert diff == 0 and p == 1.0

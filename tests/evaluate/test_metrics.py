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
    result = accuracy([True] * 30 + [False] * 10)
    assert result.value == 0.75 and result.n == 40
    # Wilson 95% for 30/40, by hand: (0.75 + z^2/80 -+ z*sqrt(0.75*0.25/40 + z^2/6400)) / (1 + z^2/40)
    assert result.low == pytest.approx(0.5980, abs=1e-4)
    assert result.high == pytest.approx(0.8581, abs=1e-4)
    assert math.isnan(accuracy([]).value)


@pytest.mark.parametrize(
    ("correct", "low", "high"),
    [
        (0, 0.0, 0.0188),  # 0 of 200: the upper bound is near 1.9%, not 0
        (200, 0.9812, 1.0),  # 200 of 200: the lower bound is near 98.1%, not 100
        (1, 0.0009, 0.0278),
        (100, 0.4314, 0.5686),
    ],
)
def test_wilson_interval_is_right_at_the_edges(correct, low, high):
    result = accuracy([True] * correct + [False] * (200 - correct))
    assert result.low == pytest.approx(low, abs=1e-4)
    assert result.high == pytest.approx(high, abs=1e-4)
    assert result.low <= result.value <= result.high


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

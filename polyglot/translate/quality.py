"""Translation quality: chrF (sacrebleu) of translations against reference English."""

from __future__ import annotations


def chrf(hypotheses: list[str], references: list[str]) -> float | None:
    """Corpus chrF (0-100) of ``hypotheses`` against ``references``; None when there are none."""
    if not hypotheses:
        return None
    from sacrebleu.metrics import CHRF

    return round(CHRF().corpus_score(hypotheses, [references]).score, 2)

"""How numbers read in every report and terminal table: one helper per kind of number."""

from __future__ import annotations


def pct(share: float | None, digits: int = 1) -> str:
    """0.955 -> '95.5' (the caller adds '%' where the column does not say it)."""
    return "–" if share is None else f"{100 * share:.{digits}f}"


def percent(share: float | None, digits: int = 1) -> str:
    """0.955 -> '95.5%'; '–' when there is no value."""
    return "–" if share is None else f"{pct(share, digits)}%"


def points(value: float | None) -> str:
    """A difference in percentage points, always signed."""
    return "–" if value is None else f"{value:+.1f}"


def number(value: float | None, fmt: str = "{:.3g}") -> str:
    return "–" if value is None else fmt.format(value)


def value(answer: float | None) -> str:
    """An answer: integers without '.0'; 'none' when there is none."""
    if answer is None:
        return "none"
    return str(int(answer)) if float(answer).is_integer() else str(answer)

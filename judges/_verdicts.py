"""Verdicts and how they combine. Every judge's row says which of a pair (gen_a, gen_b) it prefers:

- ``A`` (gen_a), ``B`` (gen_b), ``tie``, or ``invalid`` (no usable answer: counted and shown, left out of
  win-rate denominators, never a loss).
- A judge that sees both presentation orders stores each order's verdict in the pair's own terms
  (``verdict_ab``: gen_a shown first; ``verdict_ba``: gen_b shown first). The pair's outcome is their
  common verdict when they agree, a tie when they disagree (MT-bench's rule), and invalid when either order
  is invalid: an order that could not be read is not evidence for either side.
- Several annotators of one pair (imported humans) are summarised by a unique plurality of their valid votes;
  without one (e.g. one A, one B) the pair is a tie, the same rule as for two orders that disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

VERDICTS = ("A", "B", "tie", "invalid")
DECISIVE = ("A", "B")


def flip(verdict: str | None) -> str | None:
    """The same verdict with the pair's sides swapped."""
    return {"A": "B", "B": "A"}.get(verdict, verdict) if verdict is not None else None


def combine_orders(ab: str | None, ba: str | None) -> str:
    """The outcome of a pair judged in one or both orders."""
    given = [v for v in (ab, ba) if v is not None]
    if not given:
        raise ValueError("a pair needs at least one order's verdict")
    if "invalid" in given:
        return "invalid"
    return given[0] if len(set(given)) == 1 else "tie"


def majority(votes: Iterable[str]) -> str:
    """The unique plurality of the valid votes; a tie without one; invalid when no vote is valid."""
    counts = Counter(v for v in votes if v != "invalid").most_common()
    if not counts:
        return "invalid"
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "tie"
    return counts[0][0]


def first_preferred(verdict: str, first_is_a: bool) -> bool | None:
    """Whether an order's decisive verdict prefers the response shown first; None if not decisive."""
    if verdict not in DECISIVE:
        return None
    return (verdict == "A") == first_is_a


LABELS = {"a": "A", "b": "B", "tie": "tie", "invalid": "invalid"}


def parse_label(value: object, allowed: tuple[str, ...]) -> str | None:
    """A verdict label from a file (case-insensitive), or None if it is not one of ``allowed``."""
    label = LABELS.get(str(value).strip().lower())
    return label if label in allowed else None

"""Paired comparisons of methods over identical prompts, and the length-controlled win rate."""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np


def sign_test(differences: Sequence[float]) -> tuple[float, int, int]:
    """Two-sided exact sign test of per-prompt differences (zeros dropped): (p-value, n positive, n negative)."""
    pos = sum(d > 0 for d in differences)
    neg = sum(d < 0 for d in differences)
    n = pos + neg
    if n == 0:
        return 1.0, 0, 0
    tail = sum(comb(n, i) for i in range(min(pos, neg) + 1)) / 2**n
    return min(1.0, 2 * tail), pos, neg


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone), in the input's order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 50) -> np.ndarray:
    """Weighted logistic regression y ~ sigmoid(a + b x) (y may be 1/2 for a tie); tiny ridge for stability."""
    X = np.stack([np.ones_like(x), x], axis=1)
    beta = np.zeros(2)
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(X @ beta, -30, 30)))
        grad = X.T @ (w * (y - p)) - 1e-6 * beta
        hess = -(X * (w * p * (1 - p))[:, None]).T @ X - 1e-6 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def length_controlled(outcomes: Sequence[tuple[str, str, float]], *, level: float = 0.95) -> dict[str, float]:
    """The win rate predicted at equal length. ``outcomes`` are (prompt, verdict, length difference) with
    verdict A / B / tie (invalid dropped) and the difference (method minus opponent, tokens). Fits
    P(win) = sigmoid(a + b * tanh(diff / sd(diff))), as AlpacaEval 2's length control does without its
    per-instruction term, and reports sigmoid(a). The interval is sigmoid(a +- z * se), with a
    cluster-robust (sandwich) standard error over prompts: one fit, so it stays fast on 100k judgments.
    When the outcomes are separated (e.g. every longer output won), the likelihood has no finite maximum:
    the result is nan with ``separated`` set, shown as not estimable rather than as 100% [0, 100]. When
    every pair's length difference has the same sign (e.g. every sample shorter than the reference), equal
    length lies outside the data and sigmoid(a) would be an extrapolation: nan with ``outside`` set."""
    rows = [(p, {"A": 1.0, "B": 0.0, "tie": 0.5}[v], d) for p, v, d in outcomes if v in ("A", "B", "tie")]
    nan = float("nan")
    if not rows:
        return {"lc_win_rate": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    position: dict[str, int] = {}
    cluster = np.array([position.setdefault(r[0], len(position)) for r in rows])
    y = np.array([r[1] for r in rows])
    d = np.array([r[2] for r in rows], dtype=float)
    if d.min() > 0 or d.max() < 0:
        return {"lc_win_rate": nan, "ci_low": nan, "ci_high": nan, "n": len(rows), "outside": True}
    x = np.tanh(d / (d.std() or 1.0))
    a, b = _fit_logistic(x, y, np.ones(len(rows)))
    X = np.stack([np.ones_like(x), x], axis=1)
    eta = X @ np.array([a, b])
    if np.abs(eta).max() >= 25:  # separation: no finite maximum, the fit ran off to the clip
        return {"lc_win_rate": nan, "ci_low": nan, "ci_high": nan, "n": len(rows), "separated": True}
    p = 1 / (1 + np.exp(-np.clip(eta, -30, 30)))
    bread = (X * (p * (1 - p))[:, None]).T @ X + 1e-6 * np.eye(2)
    scores = np.zeros((len(position), 2))
    np.add.at(scores, cluster, X * (y - p)[:, None])
    g = len(position)
    meat = scores.T @ scores * (g / (g - 1) if g > 1 else 1.0)
    inv = np.linalg.inv(bread)
    se = float(np.sqrt(max((inv @ meat @ inv)[0, 0], 0.0)))
    z = 1.959963984540054 if level == 0.95 else _z(level)
    sig = lambda t: float(1 / (1 + np.exp(-t)))  # noqa: E731
    return {"lc_win_rate": sig(a), "ci_low": sig(a - z * se), "ci_high": sig(a + z * se), "n": len(rows),
            "length_coef": float(b)}


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)

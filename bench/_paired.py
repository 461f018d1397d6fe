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


def length_controlled(outcomes: Sequence[tuple[str, str, float]], *, n_boot: int = 500, seed: int = 0,
                      level: float = 0.95) -> dict[str, float]:
    """The win rate predicted at equal length. ``outcomes`` are (prompt, verdict, length difference) with
    verdict A / B / tie (invalid dropped) and the difference (method minus opponent, tokens). Fits
    P(win) = sigmoid(a + b * tanh(diff / sd(diff))), as AlpacaEval 2's length control does without its
    per-instruction term, and reports sigmoid(a); the interval resamples prompts."""
    rows = [(p, {"A": 1.0, "B": 0.0, "tie": 0.5}[v], d) for p, v, d in outcomes if v in ("A", "B", "tie")]
    nan = float("nan")
    if not rows:
        return {"lc_win_rate": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    prompts = sorted({r[0] for r in rows})
    position = {p: i for i, p in enumerate(prompts)}
    idx = np.array([position[r[0]] for r in rows])
    y = np.array([r[1] for r in rows])
    d = np.array([r[2] for r in rows], dtype=float)
    sd = d.std() or 1.0
    x = np.tanh(d / sd)

    def fit(weights: np.ndarray) -> float:
        a, _ = _fit_logistic(x, y, weights)
        return float(1 / (1 + np.exp(-a)))

    value = fit(np.ones(len(rows)))
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(prompts), np.full(len(prompts), 1 / len(prompts)), size=n_boot)
    boots = np.array([fit(draw[idx].astype(float)) for draw in draws])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return {"lc_win_rate": value, "ci_low": float(lo), "ci_high": float(hi), "n": len(rows)}

"""Bradley–Terry ratings from pairwise outcomes, with a bootstrap over prompts.

Model: P(i beats j) = sigmoid(theta_i - theta_j). A tie counts half a win for each side; invalid
outcomes are not games. The baseline's rating is fixed at 0, so theta_i is the log-odds that i beats the
baseline. A weak ridge (``l2``) keeps ratings finite when a player never loses (or never wins) or the
comparison graph is not connected; it is reported with the ratings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_bradley_terry(wins: np.ndarray, baseline: int = 0, l2: float = 1e-3, iters: int = 100) -> np.ndarray:
    """Ratings from ``wins[i, j]`` = (possibly fractional) wins of i over j; Newton's method on the
    penalised log-likelihood, rating of ``baseline`` fixed at 0."""
    w = np.asarray(wins, dtype=float)
    k = len(w)
    free = [i for i in range(k) if i != baseline]
    theta = np.zeros(k)
    games = w + w.T
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))  # P(i beats j)
        grad = (w - games * p).sum(1) - l2 * theta
        hess = games * p * (1 - p)
        h = -np.diag(hess.sum(1)) + hess - l2 * np.eye(k)
        step = np.linalg.solve(h[np.ix_(free, free)], grad[free])
        theta[free] -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return theta


def win_matrices(games: Sequence[tuple[str, int, int, str]], k: int) -> tuple[list[str], np.ndarray]:
    """Per-prompt win matrices [prompts, k * k] from (prompt, i, j, verdict) games; verdict A = i won."""
    prompts = sorted({g[0] for g in games})
    row = {p: n for n, p in enumerate(prompts)}
    out = np.zeros((len(prompts), k, k))
    for prompt, i, j, verdict in games:
        r = row[prompt]
        if verdict == "A":
            out[r, i, j] += 1
        elif verdict == "B":
            out[r, j, i] += 1
        elif verdict == "tie":
            out[r, i, j] += 0.5
            out[r, j, i] += 0.5
    return prompts, out.reshape(len(prompts), k * k)


def bradley_terry(games: Sequence[tuple[str, int, int, str]], k: int, baseline: int = 0, *,
                  groups: Sequence[int] | None = None, n_boot: int = 200, seed: int = 0, level: float = 0.95,
                  l2: float = 1e-3) -> dict[str, np.ndarray]:
    """Ratings with percentile intervals from resampling prompts (seeded, reproducible).

    ``groups[i]`` pools player i into a system (e.g. one method's policies over training seeds); ratings
    are then per system (``baseline`` is a system index) and the bootstrap also resamples each system's
    players with replacement, a two-way bootstrap over prompts and replicas."""
    from bench.stats import replica_weights

    _, per_prompt = win_matrices(games, k)
    members = np.asarray(groups if groups is not None else range(k))
    to_system = np.eye(int(members.max()) + 1 if k else 0)[members]  # [players, systems]

    def fit(wins: np.ndarray) -> np.ndarray:
        return fit_bradley_terry(to_system.T @ wins @ to_system, baseline, l2)

    theta = fit(per_prompt.sum(0).reshape(k, k))
    rng = np.random.default_rng(seed)
    n = len(per_prompt)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_boot) if n else np.zeros((0, 0))
    reps = replica_weights(rng, members, len(weights))  # all ones (and no draws) when nothing is pooled
    boots = np.array([fit((wt @ per_prompt).reshape(k, k) * np.outer(r, r)) for wt, r in zip(weights, reps, strict=True)])
    alpha = (1 - level) / 2
    lo, hi = (np.quantile(boots, [alpha, 1 - alpha], axis=0) if len(boots) else (theta * np.nan, theta * np.nan))
    return {"theta": theta, "ci_low": lo, "ci_high": hi, "standard_error": boots.std(0, ddof=1) if len(boots) > 1
            else theta * np.nan}

"""Exact metrics of a policy on an enumerable task: sums over the whole output space, no sampling.

Every function takes log-probabilities of shape [prompts, outputs] (each row normalised) and averages
over prompts, which the task draws uniformly.
"""

from __future__ import annotations

import numpy as np

METRICS = ("reward", "kl_sft", "objective", "kl_to_star", "kl_from_star")
LABELS = {
    "reward": "E_pi[r]",
    "kl_sft": "KL(pi || pi_sft)",
    "objective": "J = E_pi[r] - beta KL(pi || pi_sft)",
    "kl_to_star": "KL(pi || pi*)",
    "kl_from_star": "KL(pi* || pi)",
}


def kl(logp: np.ndarray, logq: np.ndarray) -> float:
    """KL(p || q), averaged over prompts. Outputs with p = 0 contribute nothing."""
    p = np.exp(logp)
    with np.errstate(invalid="ignore"):
        terms = np.where(p > 0, p * (logp - logq), 0.0)
    # KL >= 0; a policy equal to the target can come out at -1e-16 from rounding.
    return max(0.0, float(terms.sum(axis=-1).mean()))


def expected_reward(logp: np.ndarray, reward: np.ndarray) -> float:
    return float((np.exp(logp) * reward).sum(axis=-1).mean())


def log_normalize(z: np.ndarray) -> np.ndarray:
    """Log-probabilities from unnormalised log-weights, per row."""
    m = z.max(axis=-1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


def evaluate(logp: np.ndarray, sft_logp: np.ndarray, reward: np.ndarray, beta: float) -> dict[str, float]:
    """E_pi[r], KL(pi || pi_sft), J, KL(pi || pi*) and KL(pi* || pi) for pi* ∝ pi_sft exp(r / beta)."""
    star = log_normalize(sft_logp + reward / beta)
    r, k = expected_reward(logp, reward), kl(logp, sft_logp)
    return {"reward": r, "kl_sft": k, "objective": r - beta * k,
            "kl_to_star": kl(logp, star), "kl_from_star": kl(star, logp)}


def best_of_n_logp(base_logp: np.ndarray, reward: np.ndarray, n: int) -> np.ndarray:
    """The exact output distribution of Best-of-N: n independent samples from the base policy, keep
    the one with the highest reward; among outputs tied at the maximum, one is kept uniformly at random.

    For a reward level v with base mass m(v) and F(v) = P(r <= v): P(max = v) = F(v)^n - F(v^-)^n, shared
    among the outputs at level v in proportion to their base probabilities (by symmetry).
    """
    if n < 1:
        raise ValueError(f"Best-of-N needs n >= 1, got {n}")
    out = np.empty_like(base_logp)
    for i in range(base_logp.shape[0]):
        p = np.exp(base_logp[i])
        levels, inverse = np.unique(reward[i], return_inverse=True)
        mass = np.bincount(inverse, weights=p, minlength=len(levels))
        cdf = np.cumsum(mass)
        below = cdf - mass
        level_prob = np.clip(cdf, 0.0, 1.0) ** n - np.clip(below, 0.0, 1.0) ** n
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(mass[inverse] > 0, p / mass[inverse], 0.0)
        q = level_prob[inverse] * share
        q = q / q.sum()
        with np.errstate(divide="ignore"):
            out[i] = np.log(q)
    return out

"""Win rates with counts and a 95% bootstrap confidence interval over prompts.

A win counts 1, a tie 1/2, a loss 0; invalid judgments are counted and shown but left out of the
denominator. Pairs from one prompt are correlated, so the bootstrap resamples prompts (clusters).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import numpy as np

VERDICTS = ("A", "B", "tie", "invalid")


@dataclass(frozen=True)
class WinRate:
    win_rate: float
    ci_low: float
    ci_high: float
    standard_error: float
    n_wins: int
    n_losses: int
    n_ties: int
    n_invalid: int
    n_total: int  # wins + losses + ties (the denominator)
    n_prompts: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _counts(outcomes: Iterable[tuple[str, str, str]]) -> np.ndarray:
    """Verdict counts [prompts, replicas, 4] from (prompt_id, verdict, replica) outcomes."""
    cells: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for prompt_id, verdict, replica in outcomes:
        cells[prompt_id].setdefault(str(replica), [0, 0, 0, 0])[VERDICTS.index(verdict)] += 1
    names = sorted({r for row in cells.values() for r in row})
    return np.array([[row.get(r, (0, 0, 0, 0)) for r in names] for row in cells.values()],
                    dtype=np.int64).reshape(len(cells), len(names), 4)


def _win_rate(counts: np.ndarray, boots: np.ndarray, level: float) -> WinRate:
    wins, losses, ties, invalid = (int(x) for x in counts.sum((0, 1))) if counts.size else (0, 0, 0, 0)
    total = wins + losses + ties
    if total == 0:
        nan = float("nan")
        return WinRate(nan, nan, nan, nan, wins, losses, ties, invalid, 0, len(counts))
    boots = boots[~np.isnan(boots)]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return WinRate((wins + 0.5 * ties) / total, float(lo), float(hi), float(boots.std(ddof=1)), wins, losses, ties,
                   invalid, total, len(counts))


def win_rate(outcomes: Iterable[tuple[str, str]], *, n_boot: int = 2000, seed: int = 0,
             level: float = 0.95) -> WinRate:
    """``outcomes`` are (prompt_id, verdict) with verdict A (the method wins), B, tie or invalid."""
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for prompt_id, verdict in outcomes:  # the report calls this thousands of times: one tight loop
        cells[prompt_id][VERDICTS.index(verdict)] += 1
    per_prompt = np.array(list(cells.values()), dtype=np.int64).reshape(-1, 4)
    counts = per_prompt[:, None, :]
    points = per_prompt[:, 0] + 0.5 * per_prompt[:, 2]
    denoms = per_prompt[:, :3].sum(1)
    if not len(per_prompt):
        return _win_rate(counts, np.zeros(0), level)
    idx = np.random.default_rng(seed).integers(0, len(per_prompt), size=(n_boot, len(per_prompt)))
    num, den = points[idx].sum(1), denoms[idx].sum(1)
    return _win_rate(counts, np.divide(num, den, out=np.full(n_boot, np.nan), where=den > 0), level)


def replica_weights(rng: np.random.Generator, groups: np.ndarray, n_boot: int) -> np.ndarray:
    """[n_boot, len(groups)] multiplicities that resample each group's members with replacement (a group
    of one keeps weight 1): the replica half of a two-way bootstrap."""
    groups = np.asarray(groups)
    out = np.ones((n_boot, len(groups)))
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if len(members) > 1:
            out[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=n_boot)
    return out


def pooled_win_rate(outcomes: Iterable[tuple[str, str, str]], *, n_boot: int = 2000, seed: int = 0,
                    level: float = 0.95) -> WinRate:
    """The win rate of one system observed through several replicas (e.g. a method trained with several
    seeds): ``outcomes`` are (prompt_id, verdict, replica). Counts pool every replica; the interval comes
    from a two-way (pigeonhole) bootstrap that resamples prompts and replicas independently, so it holds
    the variation between replicas as well as between prompts. With very few replicas (3 seeds) the
    replica half of the bootstrap is coarse and tends to be narrow."""
    counts = _counts(outcomes)
    if not len(counts):
        return _win_rate(counts, np.zeros(0), level)
    points = counts[..., 0] + 0.5 * counts[..., 2]  # [prompts, replicas]
    denoms = counts[..., :3].sum(-1)
    rng = np.random.default_rng(seed)
    p, r = points.shape
    wp = rng.multinomial(p, np.full(p, 1 / p), size=n_boot)
    wr = replica_weights(rng, np.zeros(r, dtype=int), n_boot)
    num = np.einsum("bp,br,pr->b", wp, wr, points)
    den = np.einsum("bp,br,pr->b", wp, wr, denoms)
    return _win_rate(counts, np.divide(num, den, out=np.full(n_boot, np.nan), where=den > 0), level)


def verdict_from_scores(score_a: float | None, score_b: float | None) -> str:
    """The reward model's verdict on a pair: the higher score wins; equal scores tie."""
    if score_a is None or score_b is None or np.isnan(score_a) or np.isnan(score_b):
        return "invalid"
    if score_a > score_b:
        return "A"
    if score_b > score_a:
        return "B"
    return "tie"


# Two-sided 95% quantiles of Student's t with 1..30 degrees of freedom (beyond 30: the normal's 1.96).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


@dataclass(frozen=True)
class MeanCI:
    mean: float
    ci_low: float
    ci_high: float
    standard_error: float
    n: int


def mean_ci(values: Iterable[float]) -> MeanCI:
    """Mean with a 95% Student-t interval (e.g. over training seeds); n = 1 gives a zero-width interval."""
    x = np.asarray(list(values), dtype=float)
    if len(x) == 0:
        nan = float("nan")
        return MeanCI(nan, nan, nan, nan, 0)
    m = float(x.mean())
    if len(x) == 1:
        return MeanCI(m, m, m, 0.0, 1)
    se = float(x.std(ddof=1) / np.sqrt(len(x)))
    t = _T975[len(x) - 2] if len(x) - 1 <= len(_T975) else 1.96
    return MeanCI(m, m - t * se, m + t * se, se, len(x))


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% bootstrap interval; ``k`` of ``n`` when it is a share."""

    value: float
    ci_low: float
    ci_high: float
    standard_error: float
    n: int
    k: int | None = None


def cluster_bootstrap(clusters: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], *, n_boot: int = 2000,
                      seed: int = 0, level: float = 0.95) -> tuple[float, float, float, float]:
    """A statistic of summed counts, with a percentile interval from resampling whole clusters (prompts).

    ``clusters`` is [clusters, columns] of counts; ``fn`` maps summed columns ([..., columns]) to the
    statistic and must broadcast over leading axes. Resamples whose statistic is undefined (nan) are
    dropped. Seeded, so the interval is reproducible."""
    clusters = np.asarray(clusters, dtype=float)
    value = float(fn(clusters.sum(0)))
    if len(clusters) == 0:
        return value, float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(clusters), np.full(len(clusters), 1 / len(clusters)), size=n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = np.asarray(fn(weights @ clusters), dtype=float)
    boots = boots[~np.isnan(boots)]
    if len(boots) < 2:
        return value, float("nan"), float("nan"), float("nan")
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return value, float(lo), float(hi), float(boots.std(ddof=1))


def cohen_kappa(confusion: np.ndarray) -> np.ndarray:
    """Cohen's kappa of a k x k confusion matrix (rows: rater 1, columns: rater 2), flattened to k*k columns
    on the last axis, so it broadcasts over bootstrap resamples."""
    c = np.asarray(confusion, dtype=float)
    k = int(round(np.sqrt(c.shape[-1])))
    m = c.reshape(*c.shape[:-1], k, k)
    n = m.sum((-1, -2))
    with np.errstate(divide="ignore", invalid="ignore"):
        po = np.trace(m, axis1=-2, axis2=-1) / n
        pe = (m.sum(-1) * m.sum(-2)).sum(-1) / n**2
        return (po - pe) / (1 - pe)


from bench._bt import bradley_terry, fit_bradley_terry  # noqa: E402  (re-exported)
from bench._paired import holm, length_controlled, sign_test  # noqa: E402

__all__ = ["Estimate", "MeanCI", "WinRate", "bradley_terry", "cluster_bootstrap", "cohen_kappa",
           "fit_bradley_terry", "holm", "length_controlled", "mean_ci", "pooled_win_rate", "replica_weights",
           "sign_test", "verdict_from_scores", "win_rate"]

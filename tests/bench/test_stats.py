import math

import pytest

from bench.stats import pooled_win_rate, replica_weights, verdict_from_scores, win_rate


def test_hand_computed_win_rate_with_ties_and_invalid():
    outcomes = [("p1", "A"), ("p1", "A"), ("p1", "B"), ("p2", "tie"), ("p2", "B"), ("p3", "invalid"), ("p3", "A")]
    wr = win_rate(outcomes, n_boot=500, seed=1)
    # wins 3, losses 2, ties 1 -> (3 + 0.5) / 6; the invalid one is counted but not in the denominator
    assert wr.win_rate == pytest.approx(3.5 / 6)
    assert (wr.n_wins, wr.n_losses, wr.n_ties, wr.n_invalid, wr.n_total, wr.n_prompts) == (3, 2, 1, 1, 6, 3)
    assert wr.ci_low <= wr.win_rate <= wr.ci_high


def test_bootstrap_is_seeded_and_reproducible():
    outcomes = [(f"p{i % 20}", "A" if i % 3 else "B") for i in range(200)]
    a, b = win_rate(outcomes, seed=7), win_rate(outcomes, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)


def test_ci_shrinks_with_more_prompts_and_covers_the_truth():
    small = win_rate([(f"p{i}", "A" if i % 4 else "B") for i in range(20)], seed=0)
    large = win_rate([(f"p{i}", "A" if i % 4 else "B") for i in range(2000)], seed=0)
    assert (large.ci_high - large.ci_low) < (small.ci_high - small.ci_low)
    assert large.ci_low < 0.75 < large.ci_high


def test_clustered_prompts_widen_the_interval():
    # Same 50/50 totals; when each prompt's pairs all agree, prompts are the real sample size.
    independent = win_rate([(f"p{i}", "A" if i % 2 else "B") for i in range(400)], seed=0)
    clustered = win_rate([(f"p{i // 20}", "A" if (i // 20) % 2 else "B") for i in range(400)], seed=0)
    assert (clustered.ci_high - clustered.ci_low) > 2 * (independent.ci_high - independent.ci_low)


def test_no_judgments_gives_nan_not_zero():
    wr = win_rate([("p", "invalid")])
    assert math.isnan(wr.win_rate) and wr.n_invalid == 1 and wr.n_total == 0


def test_pooled_win_rate_counts_every_replica_and_resamples_them():
    # seed s0 wins 3 of 4 on each prompt, seed s1 wins 1 of 4 and ties 1; one invalid judgment
    outcomes = [(f"p{p}", v, "s0") for p in range(30) for v in "AAAB"]
    outcomes += [(f"p{p}", v, "s1") for p in range(30) for v in ("A", "B", "B", "tie")]
    outcomes.append(("p0", "invalid", "s1"))
    wr = pooled_win_rate(outcomes, n_boot=500, seed=2)
    assert (wr.n_wins, wr.n_losses, wr.n_ties, wr.n_invalid, wr.n_total, wr.n_prompts) == (120, 90, 30, 1, 240, 30)
    assert wr.win_rate == pytest.approx((120 + 15) / 240)
    # prompts alone are nearly alike here; the seeds disagree, and only resampling them shows it
    prompts_only = win_rate([o[:2] for o in outcomes], n_boot=500, seed=2)
    assert (wr.ci_high - wr.ci_low) > 3 * (prompts_only.ci_high - prompts_only.ci_low)
    assert wr.ci_low <= wr.win_rate <= wr.ci_high
    assert pooled_win_rate(outcomes, n_boot=500, seed=2) == wr


def test_replica_weights_resample_within_groups():
    import numpy as np

    w = replica_weights(np.random.default_rng(0), np.array([0, 1, 1, 1, 2]), 100)
    assert np.all(w[:, 0] == 1) and np.all(w[:, 4] == 1)  # groups of one are kept as they are
    assert np.all(w[:, 1:4].sum(1) == 3) and len({tuple(r) for r in w[:, 1:4]}) > 3


def test_verdicts_from_scores():
    assert verdict_from_scores(1.0, 0.5) == "A"
    assert verdict_from_scores(0.1, 0.5) == "B"
    assert verdict_from_scores(0.5, 0.5) == "tie"
    assert verdict_from_scores(None, 0.5) == "invalid"
    assert verdict_from_scores(float("nan"), 0.5) == "invalid"


def test_mean_ci_student_t_by_hand():
    from bench.stats import mean_ci

    c = mean_ci([1.0, 2.0, 3.0])  # sd 1, se 1/sqrt(3), t(2) = 4.303
    assert c.mean == 2.0 and c.n == 3
    assert c.ci_high - 2.0 == pytest.approx(4.303 / 3 ** 0.5, abs=1e-9) and c.ci_low == pytest.approx(4 - c.ci_high)
    one = mean_ci([5.0])
    assert (one.ci_low, one.ci_high, one.n) == (5.0, 5.0, 1)

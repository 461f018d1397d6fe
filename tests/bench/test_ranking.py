"""Bradley–Terry, the sign test, Holm's correction and the length-controlled win rate, against scipy and
hand-computed values."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from bench.stats import bradley_terry, fit_bradley_terry, holm, length_controlled, sign_test


def test_two_players_log_odds():
    theta = fit_bradley_terry(np.array([[0, 1], [3, 0]]), baseline=0, l2=0)
    assert theta[1] - theta[0] == pytest.approx(np.log(3))


def test_bradley_terry_matches_scipy_on_three_players():
    wins = np.array([[0, 7, 3.5], [5, 0, 8], [2.5, 4, 0]])

    def nll(free):
        t = np.concatenate([[0.0], free])
        p = 1 / (1 + np.exp(-(t[:, None] - t[None, :])))
        return -(wins * np.log(p)).sum()

    ref = optimize.minimize(nll, np.zeros(2), method="BFGS", options={"gtol": 1e-10}).x
    assert fit_bradley_terry(wins, baseline=0, l2=0)[1:] == pytest.approx(ref, abs=1e-5)


def test_bradley_terry_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    games = [(f"p{i % 30}", int(a), int(b), v) for i, (a, b, v) in enumerate(
        zip(rng.integers(0, 3, 300), rng.integers(0, 3, 300), rng.choice(["A", "B", "tie", "invalid"], 300),
            strict=True)) if a != b]
    first = bradley_terry(games, 3, n_boot=50, seed=3)
    again = bradley_terry(games, 3, n_boot=50, seed=3)
    assert np.array_equal(first["ci_low"], again["ci_low"]) and first["theta"][0] == 0.0
    assert np.all(first["ci_low"][1:] <= first["theta"][1:]) and np.all(first["theta"][1:] <= first["ci_high"][1:])


@pytest.mark.parametrize("diffs", [[1, 1, 1, -1, 0, 2, 3, 1], [1] * 10, [-1, 1], [0.5] * 3 + [-0.2] * 9])
def test_sign_test_matches_scipy(diffs):
    p, pos, neg = sign_test(diffs)
    assert p == pytest.approx(stats.binomtest(pos, pos + neg, 0.5).pvalue)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]) == [0.5]


def test_length_controlled_matches_scipy_logistic_and_removes_a_pure_length_effect():
    rng = np.random.default_rng(1)
    d = rng.normal(0, 20, 400)
    win = rng.random(400) < 1 / (1 + np.exp(-(0.4 + 1.5 * np.tanh(d / d.std()))))
    outcomes = [(f"p{i}", "A" if w else "B", float(x)) for i, (w, x) in enumerate(zip(win, d, strict=True))]
    lc = length_controlled(outcomes)
    x = np.tanh(d / d.std())

    def nll(beta):
        z = beta[0] + beta[1] * x
        return np.sum(np.logaddexp(0, z) - win * z)

    a, _ = optimize.minimize(nll, np.zeros(2), method="BFGS").x
    assert lc["lc_win_rate"] == pytest.approx(1 / (1 + np.exp(-a)), abs=1e-4)
    # a judge swayed only by length, on a method whose outputs tend to be longer: the raw win rate is far
    # from 1/2, the length-controlled one near it
    d2 = rng.normal(8, 20, 2000)
    swayed = rng.random(2000) < 1 / (1 + np.exp(-2 * np.tanh(d2 / d2.std())))
    longer = [(f"q{i}", "A" if w else "B", float(x)) for i, (w, x) in enumerate(zip(swayed, d2, strict=True))]
    raw = swayed.mean()
    lc2 = length_controlled(longer)
    assert raw > 0.55 and abs(lc2["lc_win_rate"] - 0.5) < 0.04 and lc2["ci_low"] < 0.5 < lc2["ci_high"]


def test_length_controlled_interval_agrees_with_a_prompt_bootstrap():
    rng = np.random.default_rng(0)
    rows = []
    for p in range(150):
        effect = rng.normal(0, 1)  # prompts differ: pairs of one prompt are correlated
        for _ in range(6):
            d = rng.normal(3, 15)
            rows.append((f"p{p}", "A" if rng.random() < 1 / (1 + np.exp(-(0.3 + effect + 0.8 * np.tanh(d / 15))))
                         else "B", d))
    lc = length_controlled(rows)
    by_prompt = {}
    for r in rows:
        by_prompt.setdefault(r[0], []).append(r)
    groups = list(by_prompt.values())
    boots = [length_controlled([r for i in rng.integers(0, len(groups), len(groups)) for r in groups[i]])
             ["lc_win_rate"] for _ in range(200)]
    lo, hi = np.quantile(boots, [0.025, 0.975])
    assert lc["ci_low"] == pytest.approx(lo, abs=0.01) and lc["ci_high"] == pytest.approx(hi, abs=0.01)


def test_length_controlled_is_not_estimable_when_length_separates_the_outcomes():
    # every longer output won and every shorter one lost: the logistic likelihood has no finite maximum
    rows = [(f"p{i}", "A" if d > 0 else "B", d) for i, d in enumerate([5.0, 9.0, 2.0, -4.0, -7.0, -1.0, 3.0, -2.0])]
    lc = length_controlled(rows)
    assert lc["separated"] and math.isnan(lc["lc_win_rate"]) and lc["n"] == 8
    rows[0] = ("p0", "B", 5.0)  # one longer output lost: estimable again
    assert not length_controlled(rows).get("separated") and 0 < length_controlled(rows)["lc_win_rate"] < 1


def test_length_controlled_is_not_estimable_when_equal_length_is_outside_the_data():
    # every sample shorter than the reference (as on imdb, where references are long): outcomes are mixed, so
    # the fit converges, but its intercept is an extrapolation to a length difference no pair has
    diffs = [-16, -20, -60, -25, -44, -18, -30, -16, -50, -22, -17, -40]
    rows = [(f"p{i % 8}", v, d) for i, (v, d) in enumerate(zip("AABABBAAABAB", diffs, strict=True))]
    lc = length_controlled(rows)
    assert lc["outside"] and math.isnan(lc["lc_win_rate"]) and lc["n"] == 12
    rows.append(("p0", "B", 3.0))  # one pair on the other side: equal length is inside the data again
    assert not length_controlled(rows).get("outside") and 0 < length_controlled(rows)["lc_win_rate"] < 1


def _replica_games(rates, prompts=40, per_prompt=4, seed=0):
    """Games of replicas 1..len(rates) against player 0; replica r wins with probability rates[r - 1]."""
    rng = np.random.default_rng(seed)
    return [(f"p{p}", r, 0, "A" if rng.random() < rate else "B") for r, rate in enumerate(rates, start=1)
            for p in range(prompts) for _ in range(per_prompt)]


def test_pooled_rating_is_the_fit_of_the_summed_replicas():
    games = _replica_games([0.8, 0.6, 0.7])
    pooled = bradley_terry(games, 4, 0, groups=[0, 1, 1, 1], n_boot=20)
    merged = bradley_terry([(p, min(i, 1), j, v) for p, i, j, v in games], 2, 0, n_boot=20)
    assert pooled["theta"] == pytest.approx(merged["theta"]) and len(pooled["theta"]) == 2


def test_resampling_seeds_widens_the_interval_when_replicas_disagree():
    # one seed's policy nearly always wins, the other nearly always loses: the pooled rating is near 0 either
    # way, but only the two-way bootstrap (prompts and seeds) shows how little one seed says about the method
    games = _replica_games([0.95, 0.05])
    merged = bradley_terry([(p, min(i, 1), j, v) for p, i, j, v in games], 2, 0, n_boot=200, seed=1)
    pooled = bradley_terry(games, 3, 0, groups=[0, 1, 1], n_boot=200, seed=1)
    width = {k: b["ci_high"][1] - b["ci_low"][1] for k, b in (("merged", merged), ("pooled", pooled))}
    assert width["pooled"] > 3 * width["merged"]
    assert abs(pooled["theta"][1]) < 0.3  # the two seeds cancel
    # replicas that agree leave the interval about as it was
    alike = _replica_games([0.7, 0.7])
    a = bradley_terry(alike, 3, 0, groups=[0, 1, 1], n_boot=200, seed=1)
    b = bradley_terry([(p, min(i, 1), j, v) for p, i, j, v in alike], 2, 0, n_boot=200, seed=1)
    assert (a["ci_high"][1] - a["ci_low"][1]) < 1.5 * (b["ci_high"][1] - b["ci_low"][1])

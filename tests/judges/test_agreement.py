"""Agreement statistics on hand-made pairs, checked against hand counts and scikit-learn-free formulas."""

import numpy as np
import pytest

from bench.stats import cluster_bootstrap, cohen_kappa
from judges._agreement import agreement, pair_views


def _row(prompt, a, b, verdict, ab=None, ba=None, annotator=None, text_a="x", text_b="yy"):
    return {"prompt_id": prompt, "gen_a": a, "gen_b": b, "verdict": verdict, "verdict_ab": ab, "verdict_ba": ba,
            "annotator": annotator, "text_a": text_a, "text_b": text_b}


def _stat(rows, name, judge=None):
    return next(r for r in rows if r["statistic"] == name and (judge is None or r["judge"] == judge))


def test_cohen_kappa_by_hand():
    # 2x2: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    cm = np.array([[4, 1], [2, 3]])
    assert cohen_kappa(cm.reshape(-1)) == pytest.approx(0.4)
    assert cohen_kappa(np.eye(3).reshape(-1) * 5) == pytest.approx(1.0)


def test_cluster_bootstrap_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(1)
    clusters = np.stack([rng.integers(0, 3, 50), np.full(50, 3)], axis=1)
    def share(s):
        return s[..., 0] / s[..., 1]
    first = cluster_bootstrap(clusters, share, seed=7)
    assert first == cluster_bootstrap(clusters, share, seed=7)
    value, lo, hi, se = first
    assert value == pytest.approx(clusters[:, 0].sum() / 150)
    assert lo < value < hi and se > 0


def test_views_orient_and_take_the_majority():
    rows = [_row("p", "g1", "g2", "A", annotator="h1"), _row("p", "g2", "g1", "B", annotator="h2"),
            _row("p", "g1", "g2", "B", annotator="h3")]
    (view,) = pair_views(rows).values()
    assert (view.gen_a, view.verdict) == ("g1", "A")  # h2's B on (g2, g1) is an A on (g1, g2)
    assert pair_views(rows, "h3")[("p", "g1", "g2")].verdict == "B"


def test_agreement_counts_by_hand():
    # judge x sees both orders; judge y is a gold label. Four prompts, one pair each.
    x = [_row("p1", "a1", "b1", "A", "A", "A"),            # consistent, right
         _row("p2", "a2", "b2", "tie", "A", "B"),          # inconsistent: tie; first order right
         _row("p3", "a3", "b3", "invalid", "invalid", "B"),  # invalid
         _row("p4", "b4", "a4", "A", "A", "A")]             # stored the other way round: prefers b4
    y = [_row("p1", "a1", "b1", "A"), _row("p2", "a2", "b2", "A"), _row("p3", "a3", "b3", "B"),
         _row("p4", "a4", "b4", "A")]
    rows = agreement(pair_views(x), pair_views(y), ("x", "y"), n_boot=200)
    assert _stat(rows, "agreement")["k"] == 1 and _stat(rows, "agreement")["n"] == 3  # p1 only (p4: b4 vs a4)
    assert _stat(rows, "agreement_without_ties")["n"] == 2
    assert _stat(rows, "invalid_rate", "x")["k"] == 1
    oc = _stat(rows, "order_consistency", "x")
    assert (oc["k"], oc["n"]) == (2, 3)  # p1 and p4 agree, p2 does not, p3 has an invalid order
    first = _stat(rows, "agreement_first_order", "x")
    assert (first["k"], first["n"]) == (2, 3)  # p1, p2 right in their first order; p4 wrong
    second = _stat(rows, "agreement_second_order", "x")
    assert (second["k"], second["n"]) == (2, 4)  # p1 and p3 (its second order is valid: B, as gold)
    assert _stat(rows, "agreement_both_orders", "x")["k"] == 1


def test_position_and_length_bias():
    # Always prefers whatever is shown first: consistent position bias 1, order consistency 0.
    x = [_row(f"p{i}", f"a{i}", f"b{i}", "tie", "A", "B", text_a="short", text_b="much longer") for i in range(6)]
    y = [_row(f"p{i}", f"a{i}", f"b{i}", "B", text_a="short", text_b="much longer") for i in range(6)]
    rows = agreement(pair_views(x), pair_views(y), ("x", "y"), n_boot=200)
    assert _stat(rows, "position_bias", "x")["value"] == 1.0
    assert _stat(rows, "order_consistency", "x")["value"] == 0.0
    assert _stat(rows, "length_bias", "y")["value"] == 1.0
    assert _stat(rows, "tie_rate", "x")["value"] == 1.0

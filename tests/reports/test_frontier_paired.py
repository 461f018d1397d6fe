"""Paired comparisons of two methods' frontier points at the same step, on hand-computed values."""

import math

import pytest

from reports._frontier import paired_steps


def _metrics(r: list[float], kl: list[float] | None) -> dict[str, dict]:
    m = {f"r/p{i}": {"value": v} for i, v in enumerate(r)}
    m.update({f"kl/p{i}": {"value": v} for i, v in enumerate(kl or [])})
    return {**m, "oracle_reward": {"value": sum(r) / len(r)}}


def test_paired_steps_on_hand_values():
    curves = [{"method": "sft", "policy_id": "s", "kind": "sft"}, {"method": "bon", "policy_id": "n", "kind": "bon"},
              {"method": "exo", "policy_id": "e", "kind": "trained"}, {"method": "dpo", "policy_id": "d", "kind": "trained"}]
    found = {
        ("e", 1): _metrics([1.0, 1.1, 1.2], [0.5, 0.6, 0.7]), ("d", 1): _metrics([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ("e", 2): _metrics([1.0, 1.1, 1.2], [-0.1, 0.0, 0.1]), ("d", 2): _metrics([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
        ("e", 3): _metrics([1.0, 2.0, 3.0], None), ("d", 3): _metrics([0.0, 0.0, 0.0], None),
        ("e", 4): {"oracle_reward": {"value": 1.0}}, ("d", 4): {"oracle_reward": {"value": 0.0}},  # no per-prompt
        ("n", 1): _metrics([9.0, 9.0, 9.0], None),  # Best-of-N is not paired by step
    }
    rows = paired_steps(found, curves)
    # matched by position: both have 4 checkpoints; the 4th has no per-prompt means and is left out
    assert [(r["a"], r["b"], r["checkpoint"], r["of"], r["step_a"]) for r in rows] == [
        ("exo", "dpo", 1, 4, 1), ("exo", "dpo", 2, 4, 2), ("exo", "dpo", 3, 4, 3)]
    t2 = 4.303  # t quantile 0.975 with 2 degrees of freedom
    first, second, third = rows
    assert first["reward"].mean == pytest.approx(1.1)
    assert first["reward"].ci_low == pytest.approx(1.1 - t2 * 0.1 / math.sqrt(3), abs=1e-3)
    assert first["kl"].mean == pytest.approx(0.6) and first["kl"].ci_low > 0
    assert first["outcome"] == "exo: more reward at more KL"  # not a frontier difference
    assert second["kl"].ci_low < 0 < second["kl"].ci_high and second["outcome"] == "exo above"
    # differences 1, 2, 3: mean 2, se 1/sqrt(3), interval 2 -+ 4.303 * 0.577 covers 0
    assert third["reward"].ci_low < 0 and third["kl"] is None and third["outcome"] == "not separated"
    assert [(r["n_pos"], r["n_neg"], r["n_prompts"]) for r in rows] == [(3, 0, 3)] * 3
    assert all(r["p"] == pytest.approx(0.25) for r in rows)  # 3 of 3 up: 2 * (1/2)^3
    assert [r["p_holm"] for r in rows] == pytest.approx([0.75, 0.75, 0.75])  # 3 * 0.25, monotone


def test_paired_steps_reads_the_second_method_as_winner():
    curves = [{"method": "a", "policy_id": "a", "kind": "trained"}, {"method": "b", "policy_id": "b", "kind": "trained"}]
    found = {("a", 5): _metrics([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]),
             ("b", 5): _metrics([1.0, 1.2, 0.9, 1.1], [1.0, 1.1, 0.9, 1.0])}
    (row,) = paired_steps(found, curves)
    assert row["reward"].ci_high < 0 and row["outcome"] == "b above"
    assert row["n_pos"] == 0 and row["n_neg"] == 4 and row["p"] == pytest.approx(0.125)


def test_paired_checkpoints_match_by_position_not_step_number():
    curves = [{"method": "ppo", "policy_id": "p", "kind": "trained"},
              {"method": "dpo", "policy_id": "d", "kind": "trained"},
              {"method": "ipo", "policy_id": "i", "kind": "trained"}]
    found = {("p", 4): _metrics([1.0, 2.0], [0.1, 0.2]), ("p", 8): _metrics([1.0, 2.0], [0.1, 0.2]),
             ("d", 8): _metrics([0.0, 1.0], [0.0, 0.0]), ("d", 16): _metrics([0.5, 0.5], [0.0, 0.0]),
             ("i", 3): _metrics([0.0, 0.0], [0.0, 0.0])}  # one checkpoint against two: not compared
    rows = paired_steps(found, curves)
    assert [(r["a"], r["b"], r["checkpoint"], r["step_a"], r["step_b"]) for r in rows] == [
        ("ppo", "dpo", 1, 4, 8), ("ppo", "dpo", 2, 8, 16)]
    assert rows[0]["reward"].mean == pytest.approx(1.0) and rows[1]["reward"].mean == pytest.approx(1.0)

"""The run report's reward-KL frontier: points from the ``metrics`` table, one curve per method."""

from __future__ import annotations

from typing import Any


def _label(kind: str, step: int) -> str:
    return "SFT" if kind == "sft" else f"N={step}" if kind == "bon" else f"step {step}"


def frontier_view(store: Any, plan: dict[str, Any]) -> dict[str, Any] | None:
    """Points (oracle reward and KL with standard errors and n) per method and step, and the SVG chart.
    Each trained method's curve starts at SFT (step 0, KL 0); Best-of-N's runs over N."""
    from reports._svg import line_chart

    f = plan.get("frontier")
    if not f:
        return None
    prefix = f["metric_prefix"]
    found: dict[tuple[str, int], dict[str, dict]] = {}
    for r in store.metrics([c["policy_id"] for c in f["curves"]]):
        if r["name"].startswith(prefix):
            found.setdefault((r["policy_id"], r["step"]), {})[r["name"][len(prefix):]] = r
    sft = next(c for c in f["curves"] if c["kind"] == "sft")
    points, series = [], {}
    for c in f["curves"]:
        steps = sorted(s for pid, s in found if pid == c["policy_id"])
        curve = []
        if c["kind"] == "trained" and (sft["policy_id"], 0) in found:
            curve.append(found[(sft["policy_id"], 0)])
        for s in steps:
            m = found[(c["policy_id"], s)]
            if "oracle_reward" not in m or "kl" not in m:
                continue
            curve.append(m)
            points.append({"method": c["method"], "kind": c["kind"], "label": _label(c["kind"], s),
                           "reward": m["oracle_reward"]["value"], "reward_se": m["oracle_reward"]["stderr"],
                           "kl": m["kl"]["value"], "kl_se": m["kl"]["stderr"], "n": m["oracle_reward"]["n"]})
        series[c["method"]] = [(m["kl"]["value"], m["oracle_reward"]["value"]) for m in curve
                               if "kl" in m and "oracle_reward" in m]
    chart = line_chart(series, title="oracle reward vs KL(pi || pi_sft)", x_label="KL(pi || pi_sft), nats",
                       y_label="mean oracle reward", markers=True)
    seeds = {m["method"]: m.get("train_seed") for m in plan["methods"]}
    return {**f, "points": points, "chart": chart, "paired": paired_steps(found, f["curves"], seeds)}


def _per_prompt(metrics: dict[str, dict], name: str) -> dict[str, float]:
    return {k[len(name) + 1:]: r["value"] for k, r in metrics.items() if k.startswith(name + "/")}


def _outcome(a: str, b: str, dr: Any, dk: Any | None) -> str:
    """Reading of one paired comparison: a reward difference counts as a frontier difference only when the
    method with more reward did not also spend significantly more KL."""
    if dr.ci_low <= 0 <= dr.ci_high:
        return "not separated"
    winner, sign = (a, 1) if dr.mean > 0 else (b, -1)
    if dk is not None and sign * dk.ci_low > 0 and sign * dk.ci_high > 0:
        return f"{winner}: more reward at more KL"
    return f"{winner} above"


def paired_steps(found: dict[tuple[str, int], dict[str, dict]], curves: list[dict],
                 seeds: dict[str, int | None] | None = None) -> list[dict[str, Any]]:
    """Every two trained methods at each of their checkpoints, matched by position (the i-th of the evenly
    spaced checkpoints of each: the same share of the training budget, whatever a step means to each, e.g.
    PPO rounds against DPO steps): per-prompt differences (first minus second) of mean oracle reward and
    of the KL estimate over identical prompts, each mean with its 95% t-interval over prompts, and the
    exact sign test of the reward differences, Holm-corrected over the table. Two methods with different
    numbers of checkpoints are not compared, nor two trained with different seeds (``train.seeds``: those
    are compared seed by seed, and over seeds in the report's seeds section)."""
    from itertools import combinations

    from bench._paired import holm, sign_test
    from bench.stats import mean_ci

    seeds = seeds or {}
    trained = [c for c in curves if c["kind"] == "trained"]
    steps = {c["policy_id"]: sorted(s for pid, s in found if pid == c["policy_id"]) for c in trained}
    rows = []
    for a, b in combinations(trained, 2):
        sa, sb = steps[a["policy_id"]], steps[b["policy_id"]]
        seed_a, seed_b = seeds.get(a["method"]), seeds.get(b["method"])
        if len(sa) != len(sb) or (seed_a is not None and seed_b is not None and seed_a != seed_b):
            continue
        for i, (s_a, s_b) in enumerate(zip(sa, sb, strict=True)):
            ma, mb = found[(a["policy_id"], s_a)], found[(b["policy_id"], s_b)]
            ra, rb, ka, kb = _per_prompt(ma, "r"), _per_prompt(mb, "r"), _per_prompt(ma, "kl"), _per_prompt(mb, "kl")
            shared = sorted(ra.keys() & rb.keys())
            if len(shared) < 2:
                continue  # points stored before per-prompt means existed: no pairing possible
            d_r = [ra[p] - rb[p] for p in shared]
            dr = mean_ci(d_r)
            dk = mean_ci([ka[p] - kb[p] for p in shared]) if all(p in ka and p in kb for p in shared) else None
            p_value, n_pos, n_neg = sign_test(d_r)
            rows.append({"a": a["method"], "b": b["method"], "checkpoint": i + 1, "of": len(sa), "step_a": s_a,
                         "step_b": s_b, "n_prompts": len(shared), "reward": dr, "kl": dk, "p": p_value,
                         "n_pos": n_pos, "n_neg": n_neg, "outcome": _outcome(a["method"], b["method"], dr, dk)})
    for row, p_holm in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = p_holm
    return rows

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
    return {**f, "points": points, "chart": chart}

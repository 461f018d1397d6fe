"""The exact task's report: the results tables of ``bench.exact._results`` and training curves."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bench.exact import LABELS, METRICS
from bench.exact._results import CONVERGED, contrasts, final_metrics, method_table, round_table
from reports._svg import line_chart, mean_curve

CURVES = (("objective", "J"), ("kl_to_star", "KL(pi || pi*)"), ("kl_sft", "KL(pi || pi_sft)"),
          ("loss", "training loss"), ("reward_accuracy", "implicit-reward accuracy"))


def _all_rounds(store: Any, pid: str | None) -> list[dict[str, Any]]:
    """A policy's training records preceded by those of the rounds it started from (online training)."""
    steps: list[dict[str, Any]] = []
    while pid is not None:
        steps = store.train_steps(pid) + steps
        pid = json.loads(store.policy(pid)["info_json"]).get("based_on")
    return steps


def _curves(store: Any, plan: dict[str, Any], cls: str) -> list[Any]:
    """Training curves averaged over seeds, one line per trained method."""
    runs: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for e in plan["entries"]:
        if e["class"] == cls and e["kind"] == "trained":
            runs[e["method"]].append(_all_rounds(store, e["policy_id"]))
    last_step = max((r[-1]["step"] for rs in runs.values() for r in rs if r), default=1)
    charts = []
    for key, label in CURVES:
        series = {m: mean_curve(rs, key) for m, rs in runs.items()}
        if key == "objective":
            series["pi* (optimum)"] = [(0, plan["star"]["objective"]), (last_step, plan["star"]["objective"])]
        charts.append(line_chart(series, title=f"{label} ({cls}, mean over {len(plan['seeds'])} seeds)",
                                 x_label="training step", y_label=label))
    return charts


def exact_view(store: Any, plan: dict[str, Any]) -> dict[str, Any]:
    final = final_metrics(store, plan["entries"])
    classes = [{"name": cls, "table": method_table(plan, final, cls), "contrasts": contrasts(plan, final, cls),
                "charts": _curves(store, plan, cls),
                "rounds": round_table(store, plan, cls, plan.get("steps"))} for cls in plan["classes"]]
    return {"classes": classes, "metrics": METRICS, "labels": LABELS, "converged": CONVERGED}

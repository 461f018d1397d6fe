"""The exact task's report: the results tables of ``bench.exact._results``, the reward-KL frontier (exact
E_pi[r] against KL(pi || pi_sft)) and training curves."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bench.exact import LABELS, METRICS
from bench.exact._results import CONVERGED, contrasts, final_metrics, method_table, round_table
from reports._svg import line_chart, mean_curve, mean_path

CURVES = (("objective", "J"), ("kl_to_star", "KL(pi || pi*)"), ("kl_sft", "KL(pi || pi_sft)"),
          ("loss", "training loss"), ("reward_accuracy", "implicit-reward accuracy"))


def _all_rounds(store: Any, pid: str | None) -> list[dict[str, Any]]:
    """A policy's training records preceded by those of the rounds it started from (online training)."""
    steps: list[dict[str, Any]] = []
    while pid is not None:
        steps = store.train_steps(pid) + steps
        pid = json.loads(store.policy(pid)["info_json"]).get("based_on")
    return steps


def _runs(store: Any, plan: dict[str, Any], cls: str) -> dict[str, list[list[dict[str, Any]]]]:
    """Each trained method's training records in ``cls``, one list per seed, chained through online rounds."""
    runs: dict[str, list[list[dict[str, Any]]]] = defaultdict(list)
    for e in plan["entries"]:
        if e["class"] == cls and e["kind"] == "trained":
            runs[e["method"]].append(_all_rounds(store, e["policy_id"]))
    return runs


def _curves(plan: dict[str, Any], cls: str, runs: dict[str, list[list[dict[str, Any]]]]) -> list[Any]:
    """Training curves averaged over seeds, one line per trained method."""
    last_step = max((r[-1]["step"] for rs in runs.values() for r in rs if r), default=1)
    charts = []
    for key, label in CURVES:
        series = {m: mean_curve(rs, key) for m, rs in runs.items()}
        if key == "objective":
            series["pi* (optimum)"] = [(0, plan["star"]["objective"]), (last_step, plan["star"]["objective"])]
        charts.append(line_chart(series, title=f"{label} ({cls}, mean over {len(plan['seeds'])} seeds)",
                                 x_label="training step", y_label=label))
    return charts


def _reference_name(row: dict[str, Any]) -> str:
    """``sft (pi_sft)`` for the base policy; a derived one by method and parameters, e.g. ``bon (N=4)``."""
    if row["kind"] == "base":
        return "sft (pi_sft)"
    params = json.loads(row["params_json"] or "{}")
    shown = ", ".join(f"{'N' if k == 'n' else k}={v}" for k, v in params.items())
    return f"{row['method']} ({shown})" if shown else row["method"]


def _reference_points(store: Any, plan: dict[str, Any], final: dict[str, dict[str, float]], cls: str
                      ) -> dict[str, list[tuple[float, float]]]:
    """(KL(pi || pi_sft), E_pi[r]) of the exact distributions: pi_sft, Best-of-N (and any other derived
    policy) at its parameters, pi* and, for a restricted class, pi*'s two projections on it."""
    points: dict[str, list[tuple[float, float]]] = {}
    for pid in dict.fromkeys(e["policy_id"] for e in plan["entries"] if e["class"] == cls and e["kind"] != "trained"):
        m = final.get(pid, {})
        if "kl_sft" not in m or "reward" not in m:
            continue
        points[_reference_name(store.policy(pid))] = [(m["kl_sft"], m["reward"])]
    points["pi* (optimum)"] = [(plan["star"]["kl_sft"], plan["star"]["reward"])]
    for key, label in (("reverse", "argmin KL(pi||pi*)"), ("forward", "argmin KL(pi*||pi)")):
        proj = plan.get("projections", {}).get(cls, {}).get(key)
        if proj:
            points[label] = [(proj["kl_sft"], proj["reward"])]
    return points


def _frontier(store: Any, plan: dict[str, Any], final: dict[str, dict[str, float]], cls: str,
              runs: dict[str, list[list[dict[str, Any]]]]) -> dict[str, Any]:
    """The paper's Figure 2: exact E_pi[r] against KL(pi || pi_sft), one path per trained method through its
    recorded checkpoints (mean over seeds of both coordinates at each step), and the exact reference points."""
    series = {m: mean_path(rs, "kl_sft", "reward") for m, rs in runs.items()}
    series.update(_reference_points(store, plan, final, cls))
    chart = line_chart(series, title=f"E_pi[r] vs KL(pi || pi_sft) ({cls}, mean over {len(plan['seeds'])} seeds)",
                       x_label="KL(pi || pi_sft), nats", y_label="E_pi[r] (exact)", markers=True)
    return {"series": series, "chart": chart}


def exact_view(store: Any, plan: dict[str, Any]) -> dict[str, Any]:
    final = final_metrics(store, plan["entries"])
    classes = []
    for cls in plan["classes"]:
        runs = _runs(store, plan, cls)
        classes.append({"name": cls, "table": method_table(plan, final, cls), "contrasts": contrasts(plan, final, cls),
                        "frontier": _frontier(store, plan, final, cls, runs), "charts": _curves(plan, cls, runs),
                        "rounds": round_table(store, plan, cls, plan.get("steps"))})
    return {"classes": classes, "metrics": METRICS, "labels": LABELS, "converged": CONVERGED}

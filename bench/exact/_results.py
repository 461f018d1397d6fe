"""Results of an exact-task run: exact metrics per method and policy class (mean and 95% interval over
seeds) and the EXO-vs-DPO comparison seed by seed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from bench.exact._metrics import METRICS
from bench.stats import MeanCI, mean_ci

# (mode-seeking, mean-seeking) pairs compared seed by seed, as in the EXO paper's Figures 1 and 3.
CONTRASTS = (("exo", "dpo"), ("exo-rw", "dpo-rw"))
CONVERGED = 0.01  # KL(pi || pi*) below which a tabular policy counts as having reached pi*


def final_metrics(store: Any, entries: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    rows = store.metrics(sorted({e["policy_id"] for e in entries}))
    last: dict[str, int] = {}
    for r in rows:
        last[r["policy_id"]] = max(last.get(r["policy_id"], -1), r["step"])
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r["step"] == last[r["policy_id"]]:
            out[r["policy_id"]][r["name"]] = r["value"]
    return out


def method_table(plan: dict[str, Any], final: dict[str, dict[str, float]], cls: str) -> list[dict[str, Any]]:
    rows = []
    for name in plan["methods"]:
        entries = [e for e in plan["entries"] if e["method"] == name and e["class"] == cls]
        pids = list(dict.fromkeys(e["policy_id"] for e in entries))  # base/derived: one policy for all seeds
        cells = {m: _clamped(m, mean_ci(final[p][m] for p in pids if m in final[p])) for m in METRICS}
        converged = sum(final[p].get("kl_to_star", np.inf) < CONVERGED for p in pids)
        rows.append({"method": name, "setting": plan["settings"][name], "cells": cells, "n": len(pids),
                     "exact": entries[0]["kind"] in ("base", "derived") if entries else True,
                     "converged": converged})
    return rows


def _clamped(metric: str, c: MeanCI) -> MeanCI:
    """A KL is never negative: the t-interval's lower bound is cut at zero."""
    return replace(c, ci_low=max(0.0, c.ci_low)) if metric.startswith("kl") else c


def contrasts(plan: dict[str, Any], final: dict[str, dict[str, float]], cls: str) -> list[dict[str, Any]]:
    if cls == "tabular":  # both can reach pi* there: the claim is convergence, not one beating the other
        return []
    out = []
    for seeking, covering in CONTRASTS:
        if seeking not in plan["methods"] or covering not in plan["methods"]:
            continue
        per_seed = []
        for seed in plan["seeds"]:
            a = next(e for e in plan["entries"] if (e["method"], e["class"], e["seed"]) == (seeking, cls, seed))
            b = next(e for e in plan["entries"] if (e["method"], e["class"], e["seed"]) == (covering, cls, seed))
            fa, fb = final[a["policy_id"]], final[b["policy_id"]]
            per_seed.append({"seed": seed, "j": (fa["objective"], fb["objective"]),
                             "kl": (fa["kl_to_star"], fb["kl_to_star"]),
                             "holds": fa["objective"] > fb["objective"] and fa["kl_to_star"] < fb["kl_to_star"]})
        out.append({"a": seeking, "b": covering, "seeds": per_seed,
                    "n_holds": sum(s["holds"] for s in per_seed), "n": len(per_seed)})
    return out


def exact_results(store: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per (method, policy class, metric), for ``bench results``."""
    final = final_metrics(store, plan["entries"])
    rows = []
    for cls in plan["classes"]:
        for row in method_table(plan, final, cls):
            for metric, c in row["cells"].items():
                rows.append({"method": row["method"], "setting": row["setting"], "class": cls, "metric": metric,
                             "mean": c.mean, "ci_low": c.ci_low, "ci_high": c.ci_high, "n": c.n,
                             "exact": row["exact"]})
    return rows


def round_table(store: Any, plan: dict[str, Any], cls: str, steps: int | None) -> list[dict[str, Any]]:
    """For methods trained online (more than one round): J and KL(pi || pi*) at the end of each round, mean
    and 95% interval over seeds. An online round's metrics continue its starting policy's, so the end of
    round r is step r * ``steps``; round 0 is pi_sft. Plans stored before rounds existed (no ``steps``) have
    no round table."""
    out: list[dict[str, Any]] = []
    if not steps:
        return out
    for name in plan["methods"]:
        pids = [e["policy_id"] for e in plan["entries"] if e["method"] == name and e["class"] == cls
                and e["kind"] == "trained"]
        if not pids:
            continue
        by_step: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for r in store.metrics(pids):
            by_step[r["policy_id"]][r["step"]][r["name"]] = r["value"]
        rounds = min(max(by_step[p]) // steps for p in pids) if all(by_step[p] for p in pids) else 0
        if rounds < 2 or any(r * steps not in by_step[p] for p in pids for r in range(rounds + 1)):
            continue
        rows = [{"round": r, **{m: _clamped(m, mean_ci(by_step[p][r * steps][m] for p in pids))
                                   for m in ("objective", "kl_to_star")}}
                for r in range(rounds + 1)]
        out.append({"method": name, "rounds": rows, "n": len(pids)})
    return out

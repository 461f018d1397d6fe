"""Results over training seeds (``train.seeds``): each trained method's entries ``m``, ``m@s2``, ... are one
policy per seed on the same data, judged like any other method. These tables put a method's per-seed values
side by side with their mean and a 95% Student-t interval over seeds (n = seeds), and compare two methods
seed by seed (the same seed gives both the same batch order), which is the variation a paper's "mean over
k seeds" reports. Intervals over prompts, in the other tables, leave this training variation out.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from bench.stats import mean_ci


def replicas(plan: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Methods trained with several seeds: method -> {training seed: entry name}."""
    out: dict[str, dict[int, str]] = defaultdict(dict)
    for m in plan.get("methods", []):
        if "replica_of" in m:
            out[m["replica_of"]][int(m["train_seed"])] = m["method"]
    return {k: v for k, v in out.items() if len(v) > 1}


def seed_groups(plans: list[dict[str, Any]]) -> dict[str, str]:
    """Policy id -> the policy id of its method's first seed, for every replica in these run plans (a
    method trained with several seeds is one system on the leaderboard)."""
    out: dict[str, str] = {}
    for plan in plans:
        entries = plan.get("methods", [])
        heads = {m["method"]: m["policy_id"] for m in entries}
        for m in entries:
            if "replica_of" in m and m["replica_of"] in heads:
                out[m["policy_id"]] = heads[m["replica_of"]]
    return out


def _index(rows: list[dict[str, Any]]) -> tuple[dict[tuple, dict[str, Any]], list[tuple[str, str]]]:
    """Win-rate rows by (entry, judge, opponent), and the (judge, opponent) pairs they cover."""
    return ({(r["method"], r["judge"], r["opponent"]): r for r in rows},
            sorted({(r["judge"], r["opponent"]) for r in rows}))


def _summary(values: dict[int, float]) -> dict[str, Any]:
    c = mean_ci(values.values())
    return {"per_seed": dict(sorted(values.items())), "mean": c.mean, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "standard_error": c.standard_error, "n_seeds": c.n}


def win_rates_over_seeds(rows: list[dict[str, Any]], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method trained with several seeds, judge and opponent: the win rate of each seed's policy, their
    mean and 95% t-interval over seeds. A seed whose win rate is undefined (nothing valid judged) is left
    out of the mean and named in ``missing``."""
    by_entry, cells = _index(rows)
    out = []
    for method, seeds in replicas(plan).items():
        for judge, opponent in cells:
            found = {s: by_entry.get((name, judge, opponent)) for s, name in seeds.items()}
            values = {s: r["win_rate"] for s, r in found.items() if r and r["n_total"]}
            out.append({"method": method, "judge": judge, "opponent": opponent, **_summary(values),
                        "missing": sorted(set(seeds) - set(values))})
    return out


def contrasts_over_seeds(rows: list[dict[str, Any]], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every two methods trained with the same seeds: the difference of their win rates (first minus
    second), seed by seed, with its mean and 95% t-interval over seeds, per judge and opponent."""
    by_entry, cells = _index(rows)
    reps = replicas(plan)
    out = []
    for a, b in combinations(sorted(reps), 2):
        seeds = sorted(set(reps[a]) & set(reps[b]))
        for judge, opponent in cells:
            diffs = {}
            for s in seeds:
                ra, rb = by_entry.get((reps[a][s], judge, opponent)), by_entry.get((reps[b][s], judge, opponent))
                if ra and rb and ra["n_total"] and rb["n_total"]:
                    diffs[s] = ra["win_rate"] - rb["win_rate"]
            if len(diffs) > 1:
                out.append({"a": a, "b": b, "judge": judge, "opponent": opponent, **_summary(diffs)})
    return out


def frontier_over_seeds(points: list[dict[str, Any]], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Per method trained with several seeds and per checkpoint (the i-th of each seed's evenly spaced
    checkpoints): oracle reward and KL(pi || pi_sft) per seed, mean and 95% t-interval over seeds; and for
    every two such methods the seed-by-seed differences at each checkpoint."""
    reps = replicas(plan)
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in points:
        if p["kind"] == "trained":
            by_method[p["method"]].append(p)
    curves: dict[str, dict[int, list[dict[str, Any]]]] = {
        m: {s: by_method[name] for s, name in seeds.items() if by_method[name]} for m, seeds in reps.items()}
    out = []
    for method, per_seed in curves.items():
        for i in range(min((len(c) for c in per_seed.values()), default=0)):
            out.append({"method": method, "checkpoint": i + 1,
                        "reward": _summary({s: c[i]["reward"] for s, c in per_seed.items()}),
                        "kl": _summary({s: c[i]["kl"] for s, c in per_seed.items()})})
    for a, b in combinations(sorted(curves), 2):
        seeds = sorted(set(curves[a]) & set(curves[b]))
        depth = min((min(len(curves[a][s]), len(curves[b][s])) for s in seeds), default=0)
        for i in range(depth if len(seeds) > 1 else 0):
            out.append({"method": f"{a} − {b}", "checkpoint": i + 1, "difference": True,
                        "reward": _summary({s: curves[a][s][i]["reward"] - curves[b][s][i]["reward"] for s in seeds}),
                        "kl": _summary({s: curves[a][s][i]["kl"] - curves[b][s][i]["kl"] for s in seeds})})
    return out


def rows_over_seeds(rows: list[dict[str, Any]], plan: dict[str, Any], points: list[dict[str, Any]]
                    ) -> list[dict[str, Any]]:
    """The three tables above as flat rows with one set of columns (``bench results --over-seeds``):
    kind (win_rate | win_rate_difference | frontier | frontier_difference), method (``a − b`` for a
    difference), judge, opponent, checkpoint, metric, per-seed values, mean, 95% interval, n_seeds."""
    cols = ("per_seed", "mean", "ci_low", "ci_high", "standard_error", "n_seeds")
    blank = {"kind": None, "method": None, "judge": None, "opponent": None, "checkpoint": None, "metric": None}
    out = [{**blank, "kind": "win_rate", "method": r["method"], "judge": r["judge"], "opponent": r["opponent"],
            "metric": "win_rate", **{k: r[k] for k in cols}} for r in win_rates_over_seeds(rows, plan)]
    out += [{**blank, "kind": "win_rate_difference", "method": f"{r['a']} − {r['b']}", "judge": r["judge"],
             "opponent": r["opponent"], "metric": "win_rate", **{k: r[k] for k in cols}}
            for r in contrasts_over_seeds(rows, plan)]
    for r in frontier_over_seeds(points, plan):
        kind = "frontier_difference" if r.get("difference") else "frontier"
        for metric in ("reward", "kl"):
            out.append({**blank, "kind": kind, "method": r["method"], "checkpoint": r["checkpoint"],
                        "metric": "oracle_reward" if metric == "reward" else "kl",
                        **{k: r[metric][k] for k in cols}})
    return out

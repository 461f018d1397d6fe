"""``bench leaderboard``: Bradley–Terry ratings of every system a judge has compared, across all runs in a
database, with bootstrap intervals over prompts, and each system's win rate against a baseline.

One board per judge (a reward model, an LLM judge, imported humans): mixing judges in one rating would
mix scales. A method plugged in later joins a board by running it on the same task with the same judge:
its matchups against SFT and the reference connect it to every other entry.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import bradley_terry, pooled_win_rate, win_rate


def _judges_for(store: Any, runs: list[tuple[str, dict[str, Any]]], task: str | None, judge: str | None
                ) -> list[tuple[dict[str, Any], str]]:
    """(judge row, task label) pairs to rank, from the runs' (task, plan); imported judges belong to no task."""
    from judges import resolve_judge

    tasks: dict[str, set[str]] = {}
    for run_task, plan in runs:
        for jid in plan.get("judges", []):
            tasks.setdefault(jid, set()).add(run_task)
    candidates = [resolve_judge(store, judge)[0]] if judge else [j for j in store.all_judges() if j["n_judgments"]]
    out = []
    for j in candidates:
        label = ", ".join(sorted(tasks.get(j["id"], set()))) or "imported"
        if task is None or task in tasks.get(j["id"], set()):
            out.append((j, label))
    return out


def _settings(store: Any, policy: dict[str, Any]) -> dict[str, Any]:
    """What shaped a policy, flat: its method's parameters, and its run's training settings, seed and model."""
    out = {k: v for k, v in json.loads(policy.get("params_json") or "{}").items()}
    spec = store.policy_spec(policy["id"]) or {}
    out.update({f"train.{k}": v for k, v in spec.get("train", {}).items() if k != "seeds"})
    out.update({k: spec[k] for k in ("seed", "model") if k in spec})
    return out


def _labels(store: Any, policy_ids: list[str]) -> dict[str, str]:
    """Method names; systems sharing one are told apart by the settings in which they differ (e.g.
    ``dpo (train.lr=2e-05)``), and by their id where those are the same (e.g. two seeds of one method)."""
    rows = {pid: store.policy(pid) or {"id": pid, "method": pid[:12]} for pid in policy_ids}
    by_method: dict[str, list[str]] = {}
    for pid, row in rows.items():
        by_method.setdefault(row["method"], []).append(pid)
    labels = {}
    for method, pids in by_method.items():
        if len(pids) == 1:
            labels[pids[0]] = method
            continue
        settings = {pid: _settings(store, rows[pid]) for pid in pids}
        keys = sorted({k for v in settings.values() for k in v if len({repr(s.get(k)) for s in settings.values()}) > 1})
        named = {pid: ", ".join(f"{k}={settings[pid].get(k)}" for k in keys) for pid in pids}
        taken = Counter(named.values())
        labels.update({pid: f"{method} ({', '.join(x for x in (named[pid], pid[:6]) if x)})"
                       if taken[named[pid]] > 1 or not named[pid] else f"{method} ({named[pid]})" for pid in pids})
    return labels


def _vs_baseline(games: list[tuple], system: dict[str, str], s: str, base: str, seed: int) -> dict | None:
    """System ``s``'s head-to-head win rate against the baseline system (replicas pooled)."""
    flip = {"A": "B", "B": "A"}
    vs = [(g[0], g[3] if system[g[1]] == s else flip.get(g[3], g[3]), g[1] if system[g[1]] == s else g[2])
          for g in games if {system[g[1]], system[g[2]]} == {s, base}]
    if not vs or s == base:
        return None
    pooled = len({v[2] for v in vs}) > 1
    wr = pooled_win_rate(vs, n_boot=1000, seed=seed) if pooled else win_rate([v[:2] for v in vs], n_boot=1000,
                                                                                seed=seed)
    return wr.as_dict()


def board(store: Any, judge: dict[str, Any], task_label: str, *, baseline: str = "sft", n_boot: int = 200,
          seed: int = 0, heads: dict[str, str] | None = None) -> dict[str, Any] | None:
    """One judge's board. ``heads`` maps a replica policy to its method's first seed (one system per
    method over training seeds, ``bench._seeds.seed_groups``); without it every policy is its own system."""
    heads = heads or {}
    games = store.judgment_games(judge["id"])
    valid = [g for g in games if g[3] != "invalid"]
    if not valid:
        return None
    policies = sorted({p for g in games for p in g[1:3]})
    system = {p: heads.get(p, p) for p in policies}
    systems = sorted(set(system.values()))
    members = {s: [p for p in policies if system[p] == s] for s in systems}
    index = {s: i for i, s in enumerate(systems)}
    labels = _labels(store, systems)
    played = Counter(s for g in valid for s in {system[g[1]], system[g[2]]})
    named = [s for s in systems if labels[s].split(" (")[0] == baseline]
    base = max(named, key=lambda s: played[s]) if named else max(systems, key=lambda s: played[s])
    player = {p: i for i, p in enumerate(policies)}
    fit = bradley_terry([(g[0], player[g[1]], player[g[2]], g[3]) for g in valid], len(policies), index[base],
                        groups=[index[system[p]] for p in policies], n_boot=n_boot, seed=seed)
    invalid = Counter(s for g in games if g[3] == "invalid" for s in {system[g[1]], system[g[2]]})
    entries = []
    for s in systems:
        i, n_seeds = index[s], len(members[s])
        entries.append({"system": labels[s] + (f" · {n_seeds} seeds" if n_seeds > 1 else ""), "policy_id": s,
                        "policy_ids": members[s], "n_seeds": n_seeds, "rating": float(fit["theta"][i]) + 0.0,
                        "ci_low": float(fit["ci_low"][i]) + 0.0, "ci_high": float(fit["ci_high"][i]) + 0.0,
                        "p_beats_baseline": float(1 / (1 + np.exp(-fit["theta"][i]))),
                        "n_games": played[s], "n_invalid": invalid[s],
                        "vs_baseline": _vs_baseline(games, system, s, base, seed)})
    entries.sort(key=lambda e: -e["rating"])
    return {"judge": judge["name"], "judge_id": judge["id"], "judge_kind": judge["kind"], "task": task_label,
            "baseline": labels[base], "n_judgments": len(games), "n_invalid": len(games) - len(valid),
            "n_prompts": len({g[0] for g in games}), "n_boot": n_boot, "seed": seed,
            "pooled_seeds": any(e["n_seeds"] > 1 for e in entries), "entries": entries}


def leaderboards(store: Any, *, task: str | None = None, judge: str | None = None, baseline: str = "sft",
                 n_boot: int = 200, seed: int = 0, pool_seeds: bool = True) -> list[dict[str, Any]]:
    from bench._seeds import seed_groups

    runs = [(r["task"], json.loads(r["plan_json"])) for r in store.run_rows() if r["plan_json"]]
    heads = seed_groups([plan for _, plan in runs]) if pool_seeds else {}
    boards = [board(store, j, label, baseline=baseline, n_boot=n_boot, seed=seed, heads=heads)
              for j, label in _judges_for(store, runs, task, judge)]
    return [b for b in boards if b is not None]


def _flat(boards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for b in boards:
        for rank, e in enumerate(b["entries"], start=1):
            wr = e["vs_baseline"] or {}
            rows.append({"task": b["task"], "judge": b["judge"], "rank": rank, "system": e["system"],
                         "rating": e["rating"], "ci_low": e["ci_low"], "ci_high": e["ci_high"],
                         "p_beats_baseline": e["p_beats_baseline"], "baseline": b["baseline"],
                         "win_rate_vs_baseline": wr.get("win_rate"), "win_rate_ci_low": wr.get("ci_low"),
                         "win_rate_ci_high": wr.get("ci_high"), "n_wins": wr.get("n_wins"),
                         "n_losses": wr.get("n_losses"), "n_ties": wr.get("n_ties"), "n_total": wr.get("n_total"),
                         "n_games": e["n_games"], "n_invalid": e["n_invalid"], "n_seeds": e["n_seeds"],
                         "policy_id": e["policy_id"], "policy_ids": " ".join(e["policy_ids"])})
    return rows


def to_csv(boards: list[dict[str, Any]]) -> str:
    rows = _flat(boards)
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(boards: list[dict[str, Any]]) -> str:
    out = []
    for b in boards:
        out.append(f"### {_md_cell(b['task'])} · judge {_md_cell(b['judge'])}\n")
        over = " and training seeds (a method's seeds pooled into one system)" if b["pooled_seeds"] else ""
        out.append(f"Bradley–Terry rating (log-odds of beating {_md_cell(b['baseline'])}), 95% bootstrap CI over "
                   f"{b['n_prompts']} prompts{over}; {b['n_judgments']} judgments, {b['n_invalid']} invalid.\n")
        out.append("| # | system | rating [95% CI] | win rate vs baseline [95% CI] | n (W/L/T) | invalid |")
        out.append("|---|---|---|---|---|---|")
        for rank, e in enumerate(b["entries"], start=1):
            wr = e["vs_baseline"]
            cell = (f"{100 * wr['win_rate']:.1f}% [{100 * wr['ci_low']:.1f}, {100 * wr['ci_high']:.1f}]"
                    if wr and wr["n_total"] else "–")
            counts = f"{wr['n_total']} ({wr['n_wins']}/{wr['n_losses']}/{wr['n_ties']})" if wr else "–"
            out.append(f"| {rank} | {_md_cell(e['system'])} | {e['rating']:+.3f} [{e['ci_low']:+.3f}, "
                       f"{e['ci_high']:+.3f}] | {cell} | {counts} | {e['n_invalid']} |")
        out.append("")
    return "\n".join(out)


def write_leaderboard(store: Any, out: Path, **kw: Any) -> dict[str, Path]:
    """leaderboard.html, .csv and .md under ``out`` (each written whole, then moved into place)."""
    from reports._render import _env

    boards = leaderboards(store, **kw)
    out.mkdir(parents=True, exist_ok=True)
    html = _env().get_template("leaderboard.html.j2").render(boards=boards, db=store.url.split("/")[-1])
    paths = {}
    for ext, text in (("html", html), ("csv", to_csv(boards)), ("md", to_markdown(boards))):
        target = out / f"leaderboard.{ext}"
        tmp = target.with_suffix(f".{ext}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        paths[ext] = target
    return paths

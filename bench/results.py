"""Matchups of a run (every method vs the SFT policy and vs the human reference) and their win rates.

With the reward-model judge, a method with n samples per prompt meets the SFT policy's n samples in
all n x n pairs (n x (n-1) for SFT against itself), and the reference in n pairs, as in the EXO paper.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.hashing import content_key
from bench.stats import WinRate, length_controlled, verdict_from_scores, win_rate

OPPONENTS = ("sft", "reference")
LC_MIN_PAIRS = 30  # below this a length-controlled fit is mostly noise (and often separable): not reported


@dataclass(frozen=True)
class Matchup:
    method: str
    opponent: str
    pairs: tuple[tuple[str, str, str], ...]  # (prompt_id, generation of the method, of the opponent)


def judgment_id(judge_id: str, gen_a: str, gen_b: str) -> str:
    return content_key("judgment", judge_id, gen_a, gen_b)


def _grouped(store: Any, policy_id: str, sampling_key: str, prompt_ids: list[str], n: int) -> dict[str, list[str]]:
    """Generations 0..n-1 of each prompt (other indices, e.g. Best-of-N candidates, are not outputs)."""
    grouped = store.generations_by_prompt(policy_id, sampling_key, prompt_ids, range(n))
    return {p: [g["id"] for g in gens] for p, gens in grouped.items()}


def judge_samples(plan: dict[str, Any], judge_id: str) -> int:
    """How many samples per prompt and side a judge compares (all for the reward model; the LLM judge's
    ``samples``, one by default, as in the EXO paper)."""
    return int(plan.get("judge_samples", {}).get(judge_id, plan["n_samples"]))


def matchups(store: Any, plan: dict[str, Any], prompt_ids: list[str], n: int | None = None) -> list[Matchup]:
    key, n = plan["sampling_key"], n or plan["n_samples"]
    sft = _grouped(store, plan["baseline_policy"], key, prompt_ids, n)
    ref = _grouped(store, plan["reference_policy"], "reference", prompt_ids, 1)
    out = []
    for m in plan["methods"]:
        gens = _grouped(store, m["policy_id"], key, prompt_ids, n)
        same = m["policy_id"] == plan["baseline_policy"]
        vs_sft = tuple((p, a, b) for p in prompt_ids for i, a in enumerate(gens[p]) for j, b in enumerate(sft[p])
                       if not (same and i == j))
        vs_ref = tuple((p, a, b) for p in prompt_ids for a in gens[p] for b in ref[p])
        out += [Matchup(m["method"], "sft", vs_sft), Matchup(m["method"], "reference", vs_ref)]
    return out


def judge_with_llm(store: Any, judge: Any, plan: dict[str, Any], prompt_ids: list[str],
                   prompt_text: dict[str, str]) -> int:
    """The LLM judge's verdicts (both orders) on every matchup pair of its samples; returns new judgments."""
    pairs = sorted({pair for m in matchups(store, plan, prompt_ids, judge_samples(plan, judge.id)) for pair in m.pairs})
    texts = store.generation_texts(sorted({g for _, a, b in pairs for g in (a, b)}))
    return judge.judge_pairs(pairs, texts, prompt_text)


def judge_with_scores(store: Any, judge: Any, plan: dict[str, Any], prompt_ids: list[str]) -> int:
    """Write the reward model's verdict for every matchup pair not judged yet; returns how many."""
    ms = matchups(store, plan, prompt_ids)
    ids = {judgment_id(judge.id, a, b): (p, a, b) for m in ms for p, a, b in m.pairs}
    missing = set(ids) - store.judgment_ids(list(ids))
    if not missing:
        return 0
    gen_ids = sorted({g for jid in missing for g in ids[jid][1:]})
    scores = store.scores(judge.id, gen_ids)
    rows = []
    for jid in sorted(missing):
        p, a, b = ids[jid]
        sa, sb = scores.get(a), scores.get(b)
        rows.append({"id": jid, "judge_id": judge.id, "prompt_id": p, "gen_a": a, "gen_b": b,
                     "verdict": verdict_from_scores(sa, sb), "detail_json": json.dumps({"score_a": sa, "score_b": sb})})
    return store.put_judgments(rows)


@dataclass(frozen=True)
class Judged:
    """A matchup under one judge, with the judgments found for its pairs."""

    judge_id: str
    matchup: Matchup
    rows: list[dict[str, Any]]


def judged_matchups(store: Any, plan: dict[str, Any], prompt_ids: list[str]) -> list[Judged]:
    """Every (judge, matchup) of a run with its judgments, read once for the tables, tests and report."""
    out = []
    for judge_id in plan["judges"]:
        for m in matchups(store, plan, prompt_ids, judge_samples(plan, judge_id)):
            out.append(Judged(judge_id, m, store.judgments(judge_id, [judgment_id(judge_id, a, b)
                                                                     for _, a, b in m.pairs])))
    return out


def run_results(store: Any, run_id: str, *, n_boot: int = 2000, judged: list[Judged] | None = None
                ) -> list[dict[str, Any]]:
    """One row per (method, opponent, judge): the win rate with its counts and 95% CI, and the
    length-controlled win rate."""
    run = store.run(run_id)
    if run is None or not run.get("plan_json"):
        return []
    plan = json.loads(run["plan_json"])
    if plan.get("kind") == "exact":
        from bench.exact._results import exact_results

        return exact_results(store, plan)
    if judged is None:
        judged = judged_matchups(store, plan, [p["id"] for p in store.run_prompts(run_id)])
    settings = {m["method"]: m["setting"] for m in plan["methods"]}
    lengths = store.generation_lengths(sorted({g for j in judged for r in j.rows for g in (r["gen_a"], r["gen_b"])}))
    rows = []
    for j in judged:
        outcomes = [(r["prompt_id"], r["verdict"]) for r in j.rows]
        wr: WinRate = win_rate(outcomes, n_boot=n_boot, seed=0)
        lc = length_controlled([(r["prompt_id"], r["verdict"], lengths[r["gen_a"]] - lengths[r["gen_b"]])
                                for r in j.rows]) if wr.n_total >= LC_MIN_PAIRS else {}
        m = j.matchup
        rows.append({"method": m.method, "setting": settings[m.method], "opponent": m.opponent,
                     "judge": plan["judge_names"][j.judge_id], "n_pairs_planned": len(m.pairs),
                     "n_judged": len(j.rows), **wr.as_dict(), "lc_win_rate": lc.get("lc_win_rate"),
                     "lc_ci_low": lc.get("ci_low"), "lc_ci_high": lc.get("ci_high"),
                     "lc_separated": bool(lc.get("separated")), "lc_outside": bool(lc.get("outside"))})
    return rows

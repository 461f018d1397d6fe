"""The run report's judge panel: the LLM judge's calls and cost, and its agreement with the reward model
over the pairs both judged (order consistency, position and length bias, each with n and a 95% CI)."""

from __future__ import annotations

import json
from typing import Any


def llm_panel(store: Any, plan: dict[str, Any], prompt_ids: list[str]) -> dict[str, Any] | None:
    info = plan.get("llm_judge")
    if not info:
        return None
    from bench.results import judge_samples, judgment_id, matchups
    from judges import agreement, pair_views

    pairs = {(a, b) for m in matchups(store, plan, prompt_ids, judge_samples(plan, info["id"])) for _, a, b in m.pairs}
    llm_ids = {judgment_id(info["id"], a, b) for a, b in pairs}
    rm_id = plan["reward_model"]["id"]
    rm_ids = {judgment_id(rm_id, a, b) for a, b in pairs}
    llm_rows = [r for r in store.judgments_with_texts(info["id"]) if r["id"] in llm_ids]
    rm_rows = [r for r in store.judgments_with_texts(rm_id) if r["id"] in rm_ids]
    call_ids = sorted({json.loads(r["detail_json"])[k] for r in llm_rows for k in ("call_ab", "call_ba")})
    calls = list(store.judge_calls(call_ids).values())
    latencies = [c["latency_s"] for c in calls if c["latency_s"] is not None]
    return {
        **info, "samples": judge_samples(plan, info["id"]), "n_pairs": len(llm_rows), "n_calls": len(calls),
        "invalid_orders": sum(c["verdict"] == "invalid" for c in calls),
        "prompt_tokens": sum(c["prompt_tokens"] or 0 for c in calls),
        "completion_tokens": sum(c["completion_tokens"] or 0 for c in calls),
        "cost_usd": sum(c["cost_usd"] or 0.0 for c in calls),
        "mean_latency_s": sum(latencies) / len(latencies) if latencies else None,
        "agreement": agreement(pair_views(llm_rows), pair_views(rm_rows), ("llm", "reward_model"), n_boot=1000),
    }


def method_costs(store: Any, plan: dict[str, Any], judged: list[Any]) -> dict[str, dict[str, Any]]:
    """Per method: samples generated and their tokens, and the LLM-judge calls, tokens and cost spent on
    its matchups (a call shared by two matchups, e.g. identical texts, counts for both)."""
    out: dict[str, dict[str, Any]] = {}
    for m in plan["methods"]:
        gens = store.generations(m["policy_id"], plan["sampling_key"])
        out[m["method"]] = {"samples": len(gens), "generated_tokens": sum(g["n_tokens"] for g in gens),
                            "llm_calls": 0, "llm_tokens": 0, "llm_cost_usd": 0.0}
    llm = (plan.get("llm_judge") or {}).get("id")
    if not llm:
        return out
    for j in judged:
        if j.judge_id != llm or j.matchup.method not in out:
            continue
        ids = sorted({json.loads(r["detail_json"])[k] for r in j.rows for k in ("call_ab", "call_ba")})
        for c in store.judge_calls(ids).values():
            entry = out[j.matchup.method]
            entry["llm_calls"] += 1
            entry["llm_tokens"] += (c["prompt_tokens"] or 0) + (c["completion_tokens"] or 0)
            entry["llm_cost_usd"] += c["cost_usd"] or 0.0
    return out

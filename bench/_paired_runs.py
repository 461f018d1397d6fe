"""Method-by-method paired tests of a run: per prompt, each method's win rate against the same opponent
(SFT or the reference) under the same judge; two methods are compared over the prompts both were judged on
(identical prompts, so the comparison is paired), by an exact sign test, Holm-corrected per matrix."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

from bench._paired import holm, sign_test

SCORE = {"A": 1.0, "B": 0.0, "tie": 0.5}


def per_prompt_scores(judgments: list[dict[str, Any]]) -> dict[str, float]:
    """Mean score (win 1, tie 1/2, loss 0) per prompt; invalid judgments left out."""
    acc: dict[str, list[float]] = defaultdict(list)
    for j in judgments:
        if j["verdict"] in SCORE:
            acc[j["prompt_id"]].append(SCORE[j["verdict"]])
    return {p: sum(v) / len(v) for p, v in acc.items()}


def paired_matrix(scores: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``scores[method][prompt]``; every ordered pair of methods with its difference and Holm p-value."""
    methods = list(scores)
    tests = []
    for a, b in combinations(methods, 2):
        shared = sorted(set(scores[a]) & set(scores[b]))
        diffs = [scores[a][p] - scores[b][p] for p in shared]
        p, pos, neg = sign_test(diffs)
        tests.append((a, b, sum(diffs) / len(diffs) if diffs else float("nan"), p, pos, neg, len(shared)))
    adjusted = holm([t[3] for t in tests])
    cells = {}
    for (a, b, diff, p, pos, neg, n), p_holm in zip(tests, adjusted, strict=True):
        cells[f"{a}|{b}"] = {"diff": diff, "p": p, "p_holm": p_holm, "n_pos": pos, "n_neg": neg, "n_prompts": n}
        cells[f"{b}|{a}"] = {"diff": -diff, "p": p, "p_holm": p_holm, "n_pos": neg, "n_neg": pos, "n_prompts": n}
    return {"methods": methods, "cells": cells, "n_tests": len(tests)}


def run_paired(plan: dict[str, Any], judged: list[Any]) -> list[dict[str, Any]]:
    """One matrix per (judge, opponent) of a run, from its judged matchups."""
    by_key: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(dict)
    for j in judged:
        scores = per_prompt_scores(j.rows)
        if scores:  # e.g. SFT vs SFT under a judge that compares one sample per side: nothing to compare
            by_key[(j.judge_id, j.matchup.opponent)][j.matchup.method] = scores
    return [{"judge": plan["judge_names"][judge_id], "opponent": opponent, **paired_matrix(scores)}
            for (judge_id, opponent), scores in by_key.items() if len(scores) > 1]

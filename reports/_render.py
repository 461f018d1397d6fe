"""Render one run into a self-contained HTML file: Table 1 layout, provenance, example generations."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from bench.results import run_results

SETTING_ORDER = {"baseline": 0, "preference": 1, "reward-model": 2, "external": 3}
N_EXAMPLES = 12


def sort_script() -> tuple[str, str]:
    """The table-sorting script and its CSP hash: the pages allow exactly this script and no other, so
    markup that slips into a generation could never run even if it were not escaped."""
    import base64
    import hashlib

    text = (Path(__file__).parent / "static" / "sort.js").read_text(encoding="utf-8")
    return text, "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def _env() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.globals["sort_js"], env.globals["sort_js_hash"] = sort_script()
    env.filters["pct"] = lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"
    return env


def _table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per method, with its cells keyed by (judge, opponent)."""
    by_method: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = by_method.setdefault(r["method"], {"method": r["method"], "setting": r["setting"], "cells": {}})
        entry["cells"][f"{r['judge']}:{r['opponent']}"] = r
    return sorted(by_method.values(), key=lambda e: (SETTING_ORDER.get(e["setting"], 9), e["method"]))


OUTCOME = {"A": "win", "B": "loss", "tie": "tie", "invalid": "invalid"}


def _examples(store: Any, run_id: str, plan: dict[str, Any]) -> dict[str, Any]:
    """Per prompt, each method's first sample beside the reference, with the outcome against the reference
    under the LLM judge (and its rationale in both orders) if the run has one, else the reward model."""
    from bench.results import judgment_id

    llm = (plan.get("llm_judge") or {}).get("id")
    judge = llm or plan["judges"][0]
    prompts = store.run_prompts(run_id)[:N_EXAMPLES]
    out = []
    for p in prompts:
        ref = store.generations(plan["reference_policy"], "reference", [p["id"]])
        cards = []
        for m in plan["methods"]:
            gens = sorted(store.generations(m["policy_id"], plan["sampling_key"], [p["id"]]),
                          key=lambda g: g["sample_index"])
            if not gens:
                continue
            card = {"method": m["method"], "text": gens[0]["text"], "n_tokens": gens[0]["n_tokens"],
                    "score": store.scores(plan["judges"][0], [gens[0]["id"]]).get(gens[0]["id"]), "outcome": "none"}
            if ref:
                found = store.judgments(judge, [judgment_id(judge, gens[0]["id"], ref[0]["id"])])
                if found:
                    card["outcome"] = OUTCOME[found[0]["verdict"]]
                    card.update(_rationales(store, found[0]) if llm else {})
            cards.append(card)
        out.append({"prompt": p["text"], "reference": ref[0]["text"] if ref else "", "cards": cards})
    return {"prompts": out, "methods": [m["method"] for m in plan["methods"]],
            "judge": plan["judge_names"][judge], "outcomes": ["win", "loss", "tie", "invalid"]}


def _rationales(store: Any, judgment: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(judgment["detail_json"])
    calls = store.judge_calls([detail["call_ab"], detail["call_ba"]])
    ab, ba = calls.get(detail["call_ab"]), calls.get(detail["call_ba"])
    return {"orders": [{"shown": "method first", "verdict": judgment["verdict_ab"],
                        "rationale": (ab or {}).get("rationale") or (ab or {}).get("response_text", "")},
                       {"shown": "reference first", "verdict": judgment["verdict_ba"],
                        "rationale": (ba or {}).get("rationale") or (ba or {}).get("response_text", "")}]}


TRAINING_CURVES = (("loss", "training loss"), ("reward_accuracy", "implicit-reward accuracy"),
                   ("reward_margin", "implicit-reward margin"), ("kl_is", "KL(pi || pi_ref), IS estimate"),
                   ("score", "PPO: reward-model score of the rollouts"), ("kl", "PPO: KL(pi || pi_ref) of the rollouts"))


def _training_charts(store: Any, policies: list[dict[str, Any]]) -> list[Any]:
    """One chart per training record, one line per trained method (records taken before each update)."""
    from reports._svg import line_chart, mean_curve

    steps = {p["method"]: store.train_steps(p["id"]) for p in policies if p["kind"] == "trained"}
    charts = []
    for key, label in TRAINING_CURVES:
        series = {m: mean_curve([recs], key) for m, recs in steps.items()}
        if any(series.values()):
            charts.append(line_chart(series, title=label, x_label="training step", y_label=label))
    return charts


def _seeds_view(rows: list[dict[str, Any]], plan: dict[str, Any], frontier: dict[str, Any] | None
                ) -> dict[str, Any] | None:
    """The tables over training seeds, if methods were trained with several (``train.seeds``)."""
    from bench._seeds import contrasts_over_seeds, frontier_over_seeds, replicas, win_rates_over_seeds

    reps = replicas(plan)
    if not reps:
        return None
    return {"seeds": sorted({s for seeds in reps.values() for s in seeds}),
            "win_rates": win_rates_over_seeds(rows, plan), "contrasts": contrasts_over_seeds(rows, plan),
            "frontier": frontier_over_seeds(frontier["points"], plan) if frontier else []}


def render_run_report(store: Any, run_id: str) -> str:
    run = store.run(run_id)
    if run is None:
        raise KeyError(run_id)
    plan = json.loads(run["plan_json"]) if run.get("plan_json") else None
    judged = None
    if plan and plan.get("kind") != "exact":
        from bench.results import judged_matchups

        judged = judged_matchups(store, plan, [p["id"] for p in store.run_prompts(run_id)])
    rows = run_results(store, run_id, judged=judged) if judged is not None else []
    invocations = store.invocations(run_id)
    provenance = json.loads(invocations[-1]["provenance_json"]) if invocations else {}
    stages = [json.loads(i["stages_json"]) if i["stages_json"] else {} for i in invocations]
    policies = store.run_policies(run_id)
    for p in policies:
        p["info"] = json.loads(p["info_json"])
    spec = json.loads(run["spec_json"])
    common = {"run": run, "spec": spec, "plan": plan, "invocations": invocations,
              "stages": stages, "provenance": provenance, "policies": policies,
              "provenance_json": json.dumps(provenance, indent=2, sort_keys=True),
              "spec_json": json.dumps(spec, indent=2, sort_keys=True)}
    if plan and plan.get("kind") == "exact":
        from reports._exact import exact_view

        return _env().get_template("exact.html.j2").render(exact=exact_view(store, plan), **common)
    common["training_charts"] = _training_charts(store, policies)
    names = ["data", "model", "task_data", "reward_model", "policies", "generation", "judging", "llm_judging",
             "frontier", "report"]
    common["stage_names"] = [k for k in names if k == "report" or any(k in st for st in stages)]
    if plan and plan.get("frontier"):
        from reports._frontier import frontier_view

        common["frontier"] = frontier_view(store, plan)
    if plan:
        from bench._paired_runs import run_paired
        from reports._judges import llm_panel, method_costs

        prompt_ids = [p["id"] for p in store.run_prompts(run_id)]
        common["llm"] = llm_panel(store, plan, prompt_ids)
        common["paired"] = run_paired(plan, judged or [])
        common["costs"] = method_costs(store, plan, judged or [])
        common["seeds"] = _seeds_view(rows, plan, common.get("frontier"))
    return _env().get_template("run.html.j2").render(
        table=_table(rows), rows=rows, judges=sorted({r["judge"] for r in rows}), opponents=["sft", "reference"],
        examples=_examples(store, run_id, plan) if plan else [], **common)


def write_run_report(store: Any, run_id: str, out: Path, path: Path | None = None) -> Path:
    run = store.run(run_id)
    target = path or (out / f"report-{run['task']}-{run_id[:8]}.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(render_run_report(store, run_id), encoding="utf-8")
    tmp.replace(target)
    return target

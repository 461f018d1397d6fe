"""Render a run report and the leaderboard from a database holding 100k+ judgments (target: <= 10 s).

Builds a synthetic but realistically shaped run (400 prompts, SFT + 3 methods, 8 samples each, all pairs of
samples judged by one reward-model judge, ~112k judgments) straight through the store, then times
rendering from the database, twice (cold and warm). There is no peer tool to put beside it; the ratio
printed is against the 10 s target.

    .venv/bin/python benchmarks/render_100k.py [--prompts 400] [--samples 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.hashing import content_key  # noqa: E402
from bench.results import judgment_id  # noqa: E402
from bench.store import Store  # noqa: E402
from bench.store import _schema as s  # noqa: E402
from benchmarks._machine import report  # noqa: E402

METHODS = ("sft", "dpo", "exo", "bon")
TARGET_S = 10.0


def build(store: Store, prompts: int, samples: int, seed: int = 0) -> tuple[str, int]:
    rng = np.random.default_rng(seed)
    run_id, judge = "bench-render-100k", "rm-judge"
    pids = [content_key("prompt", i) for i in range(prompts)]
    policy = {m: content_key("policy", m) for m in (*METHODS, "reference")}
    now = time.time()
    gens, ids = [], {}
    for m, pol in policy.items():
        n = 1 if m == "reference" else samples
        for p in pids:
            for i in range(n):
                gid = content_key("gen", pol, p, i)
                ids[(m, p, i)] = gid
                gens.append({"id": gid, "policy_id": pol, "prompt_id": p, "sampling_key": "reference" if n == 1
                             else "K", "sample_index": i, "text": f"{m} output {i} " * int(rng.integers(1, 6)),
                             "n_tokens": int(rng.integers(5, 60)), "logprob": None, "finish_reason": "stop",
                             "source_id": None, "created_at": now})
    bias = {"sft": 0.0, "dpo": 0.3, "exo": 0.5, "bon": 0.4}
    judgments = []
    for m in METHODS:
        for p in pids:
            for i in range(samples):
                opponents = [("sft", j) for j in range(samples) if not (m == "sft" and i == j)] + [("reference", 0)]
                for o, j in opponents:
                    a, b = ids[(m, p, i)], ids[(o, p, j)]
                    u = rng.random()
                    win = 1 / (1 + np.exp(-(bias[m] - bias.get(o, 0.2))))
                    verdict = "tie" if u < 0.05 else "invalid" if u < 0.06 else "A" if rng.random() < win else "B"
                    judgments.append({"id": judgment_id(judge, a, b), "judge_id": judge, "prompt_id": p, "gen_a": a,
                                      "gen_b": b, "verdict": verdict, "detail_json": "{}", "created_at": now,
                                      "verdict_ab": None, "verdict_ba": None, "annotator": None})
    plan = {"sampling_key": "K", "n_samples": samples, "baseline_policy": policy["sft"],
            "reference_policy": policy["reference"], "judges": [judge], "judge_names": {judge: "reward_model"},
            "methods": [{"method": m, "policy_id": policy[m], "setting": "baseline" if m == "sft" else "preference"}
                        for m in METHODS],
            "base_model": {"name": "synthetic", "identity": "synthetic"},
            "reward_model": {"id": judge, "info": {"backbone": "synthetic", "train_pairs": 0, "train_seconds": 0,
                                                   "val": {"accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 1}}}}
    store.insert_all([
        (s.prompts, [{"id": p, "text": f"prompt {i} <b>bold?</b>"} for i, p in enumerate(pids)]),
        (s.policies, [{"id": pol, "method": m, "kind": "trained", "params_json": "{}", "info_json": "{}",
                       "path": None, "created_at": now} for m, pol in policy.items()]),
        (s.generations, gens),
        (s.judges, [{"id": judge, "kind": "reward_model", "name": "reward_model", "config_json": "{}",
                     "info_json": "{}", "path": None, "created_at": now}]),
        (s.judgments, judgments),
    ])
    store.begin_run(run_id, "tldr", {"preset": "synthetic", "model": "synthetic", "seed": 0}, {"seed": 0})
    store.add_run_prompts(run_id, [(p, f"prompt {i}") for i, p in enumerate(pids)])
    store.set_plan(run_id, plan)
    with store.engine.begin() as conn:
        conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(status="done"))
    return run_id, len(judgments)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=400)
    ap.add_argument("--samples", type=int, default=8)
    args = ap.parse_args()
    from reports import render_run_report, write_leaderboard

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "big.db"))
        t0 = time.perf_counter()
        run_id, n = build(store, args.prompts, args.samples)
        build_s = time.perf_counter() - t0
        rows = []
        for attempt in ("cold", "warm"):
            t0 = time.perf_counter()
            html = render_run_report(store, run_id)
            report_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_leaderboard(store, Path(tmp) / "lb")
            board_s = time.perf_counter() - t0
            rows.append((attempt, report_s, board_s, len(html)))
    table = ["| render | judgments | run report (s) | leaderboard (s) | report size | report / 10 s target |",
             "|---|---|---|---|---|---|"]
    table += [f"| {a} | {n} | {r:.2f} | {b:.2f} | {size / 1e6:.2f} MB | {r / TARGET_S:.2f} |" for a, r, b, size in rows]
    table += ["", f"Database built in {build_s:.1f} s ({json.dumps(vars(args))})."]
    report("Rendering 100k judgments", table)


if __name__ == "__main__":
    main()

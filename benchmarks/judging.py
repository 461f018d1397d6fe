"""LLM-judge throughput against a local vLLM server: concurrent requests vs one at a time, and the rerun
of a judged set (calls made, seconds).

The server is vLLM's OpenAI-compatible server with the embedded SmolLM2-135M (answers constrained to the
template's format). The same pairs (TL;DR validation comparisons: chosen vs rejected summary) are judged in
both orders, each configuration in a fresh database so that none hits the cache, ``--rounds`` times in
alternating order (the machine is shared), after an untimed warm-up over the same pairs (vLLM's prefix
cache then serves every timed run alike); the rerun reuses the first concurrent database.

    .venv/bin/python benchmarks/judging.py [--pairs 16] [--concurrency 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.config import LLMJudgeSpec  # noqa: E402
from bench.hashing import content_key  # noqa: E402
from bench.results import judgment_id  # noqa: E402
from bench.store import Store  # noqa: E402
from bench.tasks import TASKS, resolve_data_dir  # noqa: E402
from benchmarks._machine import report  # noqa: E402
from judges.llm_pairwise import LLMPairwiseJudge, local_server  # noqa: E402


def _pairs(store: Store, count: int) -> tuple[list[tuple[str, str, str]], dict[str, str], dict[str, str]]:
    data = TASKS.get("tldr")().load(resolve_data_dir(None), train_pairs=1, val_pairs=count)
    pairs, texts, prompts = [], {}, {}
    store.put_policy({"id": "bench-judging", "method": "pairs", "kind": "external", "params_json": "{}",
                      "info_json": "{}"})
    rows = []
    for i, p in enumerate(data.val_pairs[:count]):
        pid = content_key("prompt", p.prompt)
        prompts[pid] = p.prompt
        a, b = content_key("gen", i, "chosen"), content_key("gen", i, "rejected")
        texts[a], texts[b] = p.chosen, p.rejected
        pairs.append((pid, a, b))
        rows += [{"id": g, "policy_id": "bench-judging", "prompt_id": pid, "sampling_key": "k", "sample_index": j,
                  "text": texts[g], "n_tokens": len(texts[g].split()), "logprob": None, "finish_reason": "stop"}
                 for j, g in ((2 * i, a), (2 * i + 1, b))]
    store.add_prompts(list(prompts.items()))
    store.put_generations(rows)
    return pairs, texts, prompts


def _judge(db: Path, server, concurrency: int, count: int) -> tuple[int, float, int]:
    store = Store(str(db))
    pairs, texts, prompts = _pairs(store, count)
    spec = LLMJudgeSpec(enabled=True, base_url=server.base_url, model=server.model, template="tldr_v1",
                        constrain=True, max_tokens=96, concurrency=concurrency, price_prompt=0, price_completion=0)
    judge = LLMPairwiseJudge(store, spec)
    t0 = time.perf_counter()
    judge.judge_pairs(pairs, texts, prompts)
    seconds = time.perf_counter() - t0
    invalid = sum(r["verdict"] == "invalid" for r in store.judgments(judge.id, [judgment_id(judge.id, a, b)
                                                                               for _, a, b in pairs]))
    return judge.calls_made, seconds, invalid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    runs: dict[int, list[tuple[int, float, int]]] = {1: [], args.concurrency: []}
    with tempfile.TemporaryDirectory() as tmp, local_server("smollm2-135m", max_model_len=2048) as server:
        # Untimed warm-up over the same pairs: vLLM caches prompt prefixes, so without it the first timed run
        # alone would meet a cold cache.
        _judge(Path(tmp) / "warm-up.db", server, args.concurrency, args.pairs)
        for r in range(args.rounds):  # alternate which goes first: the server's load drifts
            for conc in ((1, args.concurrency) if r % 2 == 0 else (args.concurrency, 1)):
                runs[conc].append(_judge(Path(tmp) / f"c{conc}-{r}.db", server, conc, args.pairs))
                print(conc, runs[conc][-1], f"load {os.getloadavg()[0]:.1f}", flush=True)
        rerun = _judge(Path(tmp) / f"c{args.concurrency}-0.db", server, args.concurrency, args.pairs)
    table = ["| run | calls made | seconds | calls/s | invalid pairs |", "|---|---|---|---|---|"]
    for conc, results in runs.items():
        table += [f"| concurrency {conc}, round {i + 1} | {c} | {s:.1f} | {c / s:.2f} | {inv} |"
                  for i, (c, s, inv) in enumerate(results)]
    table.append(f"| rerun (same database) | {rerun[0]} | {rerun[1]:.2f} | - | {rerun[2]} |")
    speedups = [(c8 / s8) / (c1 / s1) for (c1, s1, _), (c8, s8, _) in zip(runs[1], runs[args.concurrency], strict=True)]
    table += ["", f"{args.pairs} TL;DR pairs judged in both orders ({2 * args.pairs} calls per run, fresh database each) "
              f"by SmolLM2-135M on a local vLLM server (answers constrained to the template), after an untimed "
              f"warm-up over the same pairs; concurrency "
              f"{args.concurrency} vs 1: **{statistics.median(speedups):.2f}x** calls/s (median over {args.rounds} "
              f"rounds in alternating order; per round {', '.join(f'{x:.2f}x' for x in speedups)}). Rerun of a judged "
              f"database: {rerun[0]} calls in {rerun[1]:.2f} s (target: 0 calls, <= 5 s)."]
    report("Judging", table)


if __name__ == "__main__":
    main()

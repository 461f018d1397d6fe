"""LLM-judge throughput against a local vLLM server: concurrent requests vs one at a time, and the rerun
of a judged set (calls made, seconds).

The server is vLLM's OpenAI-compatible server with the embedded SmolLM2-135M (answers constrained to the
template's format). The same pairs (TL;DR validation comparisons: chosen vs rejected summary) are judged in
both orders, each configuration in a fresh database so that none hits the cache; the rerun reuses the
concurrent configuration's database.

    .venv/bin/python benchmarks/judging.py [--pairs 24] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import os
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
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    with tempfile.TemporaryDirectory() as tmp, local_server("smollm2-135m", max_model_len=2048) as server:
        rows = []
        for conc in (1, args.concurrency):
            calls, seconds, invalid = _judge(Path(tmp) / f"c{conc}.db", server, conc, args.pairs)
            rows.append((f"concurrency {conc}", calls, seconds, invalid))
        calls, seconds, invalid = _judge(Path(tmp) / f"c{args.concurrency}.db", server, args.concurrency, args.pairs)
        rows.append(("rerun (same database)", calls, seconds, invalid))
    table = ["| run | calls made | seconds | calls/s | invalid pairs |", "|---|---|---|---|---|"]
    table += [f"| {name} | {c} | {s:.1f} | {c / s if c else 0:.2f} | {inv} |" for name, c, s, inv in rows]
    speedup = (rows[0][2] / rows[0][1]) / (rows[1][2] / rows[1][1])
    table += ["", f"{args.pairs} TL;DR pairs judged in both orders ({2 * args.pairs} calls) by SmolLM2-135M on a local "
              f"vLLM server; concurrency {args.concurrency} vs 1: **{speedup:.2f}x** calls/s. Rerun: "
              f"{rows[2][1]} calls in {rows[2][2]:.2f} s (target: 0 calls, <= 5 s)."]
    report("Judging", table)


if __name__ == "__main__":
    main()

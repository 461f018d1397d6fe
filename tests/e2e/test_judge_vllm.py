"""End to end: the LLM judge through a real vLLM OpenAI-compatible server on 127.0.0.1, judging real
generations in both orders; the number of calls is counted at the server (its /metrics)."""

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from bench.store import Store

pytestmark = pytest.mark.e2e


def _served_requests(base_url):
    text = urllib.request.urlopen(base_url.removesuffix("/v1") + "/metrics", timeout=10).read().decode()
    return sum(float(v) for v in re.findall(r"^vllm:request_success_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def _bench(args, env):
    out = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True,
                         timeout=2400)
    assert out.returncode == 0, f"bench {' '.join(args)} failed:\n{out.stderr[-4000:]}"
    return out


def test_llm_judge_through_a_local_vllm_server(tmp_path, data_dir):
    from judges.llm_pairwise import local_server

    env = {**os.environ, "BENCH_DATA_DIR": str(data_dir), "BENCH_NO_PROGRESS": "1"}
    env.pop("OPENAI_API_KEY", None)
    db, out = str(tmp_path / "bench.db"), str(tmp_path / "out")
    with local_server("smollm2-135m", max_model_len=2048) as server:
        run = ["run", "--methods", "sft", "--task", "tldr", "--preset", "smoke", "--db", db, "--out", out,
               "--set", "eval.prompts=4", "--set", "eval.samples=2", "--set", "reward_model.pairs=64",
               "--set", "reward_model.val_pairs=32", "--set", "llm_judge.enabled=true",
               "--set", f"llm_judge.base_url={server.base_url}", "--set", f"llm_judge.model={server.model}",
               "--set", "llm_judge.constrain=true", "--set", "llm_judge.max_tokens=96",
               "--set", "llm_judge.concurrency=4", "--set", "llm_judge.price_prompt=0",
               "--set", "llm_judge.price_completion=0"]
        before = _served_requests(server.base_url)
        _bench(run, env)
        served = _served_requests(server.base_url) - before
        store = Store(db)
        run_row = store.run(store.latest_run_id())
        plan = json.loads(run_row["plan_json"])
        judge_id = plan["llm_judge"]["id"]
        rows = store.judgments_with_texts(judge_id)
        # SFT sample 0 vs the human reference on 4 prompts (SFT vs itself has no pair with one sample per side)
        assert len(rows) == 4
        assert all(r["verdict_ab"] is not None and r["verdict_ba"] is not None for r in rows)
        calls = store.judge_calls([json.loads(r["detail_json"])[k] for r in rows for k in ("call_ab", "call_ba")])
        assert len(calls) == served == 8  # both orders, each one real request to the server
        assert all(c["prompt_tokens"] > 0 and c["latency_s"] > 0 for c in calls.values())
        # constrained answers always parse: every order has a verdict, so no pair is invalid
        assert all(c["verdict"] in ("first", "second") for c in calls.values())

        _bench(run, env)  # the rerun asks the server nothing
        assert _served_requests(server.base_url) - before == served
        results = json.loads(_bench(["results", "--db", db, "--format", "json"], env).stdout)
        llm = [r for r in results if r["judge"] == f"llm:{server.model}" and r["opponent"] == "reference"]
        assert llm and llm[0]["n_total"] + llm[0]["n_invalid"] == 4

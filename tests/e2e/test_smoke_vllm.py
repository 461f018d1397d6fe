"""End to end: the real embedded model, real TL;DR data, real vLLM sampling, a real SQLite file."""

import json
import os
import subprocess
import sys

import pytest

from bench.store import Store

pytestmark = pytest.mark.e2e


def _bench(args, env, timeout=2400):
    out = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"bench {' '.join(args)} failed:\n{out.stderr[-4000:]}"
    return out


def test_smoke_run_on_the_embedded_model_through_vllm(tmp_path, data_dir):
    env = {**os.environ, "BENCH_DATA_DIR": str(data_dir), "BENCH_NO_PROGRESS": "1"}
    db, out = str(tmp_path / "bench.db"), str(tmp_path / "out")
    run = ["run", "--methods", "exo,dpo,bon", "--task", "tldr", "--preset", "smoke", "--db", db, "--out", out]
    _bench(run, env)

    store = Store(db)
    counts = store.counts()
    prompts, n, big_n = 8, 4, 4
    # sft, exo, dpo: n samples per prompt; Best-of-N: N*n SFT candidates and its n picks; one reference each
    assert counts["generations"] == prompts * (3 * n + big_n * n + n + 1)
    run_id = store.latest_run_id()
    plan = json.loads(store.run(run_id)["plan_json"])
    spec = json.loads(store.run(run_id)["spec_json"])
    assert spec["engine"]["kind"] == "vllm" and spec["model"] == "smollm2-135m"
    sampled = store.generations(plan["baseline_policy"], plan["sampling_key"])
    assert all(g["logprob"] is not None and g["logprob"] < 0 for g in sampled)  # vLLM's sequence log-probs
    assert sum(bool(g["text"].strip()) for g in sampled) > 0.9 * len(sampled)

    rows = json.loads(_bench(["results", "--db", db, "--format", "json"], env).stdout)
    assert {(r["method"], r["opponent"]) for r in rows} == {
        (m, o) for m in ("sft", "exo", "dpo", "bon") for o in ("sft", "reference")}
    for r in rows:
        expected = prompts * n * (n - 1 if r["method"] == "sft" and r["opponent"] == "sft" else
                                  n if r["opponent"] == "sft" else 1)
        assert r["n_total"] + r["n_invalid"] == expected
        assert 0.0 <= r["ci_low"] <= r["win_rate"] <= r["ci_high"] <= 1.0
    report = next((tmp_path / "out").glob("report-tldr-*.html")).read_text()
    for method in ("sft", "exo", "dpo", "bon"):
        assert f"<td>{method}</td>" in report

    _bench(run, env)  # the rerun redoes nothing
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 1}

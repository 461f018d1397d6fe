"""A planted API key never reaches the database, the reports, the artifacts, the logs or error messages."""

import os
import subprocess
import sys

from conftest import REPO, tiny_run_args
from judge_endpoint import Endpoint

KEY = "sk-bench-planted-9f8e7d6c5b4a"


def _answer(content):
    return "Comparison: fine.\nPreferred: A"


def _files(*roots):
    for root in roots:
        for p in root.rglob("*") if root.is_dir() else [root]:
            if p.is_file():
                yield p


def test_planted_key_is_nowhere(tiny_models, mini_data, tmp_path):
    env = {**os.environ, "OPENAI_API_KEY": KEY, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": str(REPO)}
    db, out = tmp_path / "bench.db", tmp_path / "out"
    with Endpoint(_answer) as ep:
        args = tiny_run_args(tiny_models, mini_data, str(db), out, methods="dpo",
                             extra=("llm_judge.enabled=true", f"llm_judge.base_url={ep.base_url}",
                                    "llm_judge.model=judge"))
        ok = subprocess.run([sys.executable, "-m", "bench", *args, "-vv"], env=env, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert ep.auth == {f"Bearer {KEY}"}  # the key was used...
        report = subprocess.run([sys.executable, "-m", "bench", "report", "--db", str(db), "--out", str(out)],
                                env=env, capture_output=True, text=True)
        board = subprocess.run([sys.executable, "-m", "bench", "leaderboard", "--db", str(db), "--out",
                                str(out / "lb")], env=env, capture_output=True, text=True)
    with Endpoint(_answer, faults=["401"]) as bad:  # ...and a refused key is reported without it
        args = tiny_run_args(tiny_models, mini_data, str(tmp_path / "other.db"), out, methods="dpo",
                             extra=("llm_judge.enabled=true", f"llm_judge.base_url={bad.base_url}",
                                    "llm_judge.model=judge"))
        failed = subprocess.run([sys.executable, "-m", "bench", *args, "-vv"], env=env, capture_output=True,
                                text=True)
    assert failed.returncode != 0 and "HTTP 401; check the API key" in failed.stderr
    logs = "".join(p.stdout + p.stderr for p in (ok, report, board, failed))
    assert KEY not in logs
    checked = 0
    for path in _files(out, *tmp_path.glob("*.db*")):
        assert KEY.encode() not in path.read_bytes(), path
        checked += 1
    assert checked > 10  # database, WAL, reports, leaderboard exports, checkpoints

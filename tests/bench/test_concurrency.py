"""Two bench processes writing to one SQLite database (WAL) at once both finish, with complete results."""

import os
import subprocess
import sys

from conftest import REPO, tiny_run_args

from bench.results import run_results
from bench.store import Store


def test_two_runs_write_one_database_at_once(tiny_models, mini_data, tmp_path):
    db = str(tmp_path / "shared.db")
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": str(REPO)}
    runs = [tiny_run_args(tiny_models, mini_data, db, tmp_path / "out", methods=m) for m in ("exo", "dpo,bon")]
    procs = [subprocess.Popen([sys.executable, "-m", "bench", *args], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in runs]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    store = Store(db)
    run_ids = [r["id"] for r in store.run_rows()]
    assert len(run_ids) == 2
    for rid in run_ids:
        assert store.run(rid)["status"] == "done"
        rows = run_results(store, rid)
        assert rows and all(r["n_judged"] == r["n_pairs_planned"] for r in rows)
    counts = store.counts()
    for args in runs:  # each rerun finds everything in place
        assert subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True).returncode == 0
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 2}

"""Crash safety: `bench run` killed with SIGKILL at random points in every stage, then resumed, ends with
the database of an uninterrupted run: same results, no duplicate rows, and no judge call repeated except
those in flight at the moment of the kill (counted at the local judge server)."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

from conftest import REPO, tiny_run_args
from judge_endpoint import Endpoint

from bench.results import run_results
from bench.store import Store

CONCURRENCY = 2
# (stage to kill in, trials): at least 10 kills over training, generation, judging and reporting
PLAN = [("reward_model", 1), ("policies", 2), ("generation", 2), ("judging", 1), ("llm_judging", 3), ("report", 1)]


def _answer(content):
    a = content.split("Summary A:")[1].split("Summary B:")[0]
    b = content.split("Summary B:")[1].split("FIRST provide")[0]
    return f"Comparison: length.\nPreferred: {'A' if len(a) >= len(b) else 'B'}"


class Run:
    """A `bench run` subprocess whose log is read as it runs (the runner logs "stage NAME")."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench", *args], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.stages: list[str] = []
        self.seen = threading.Condition()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)
            if " stage " in line and "bench.runner" in line:
                with self.seen:
                    self.stages.append(line.rsplit("stage ", 1)[1].strip())
                    self.seen.notify_all()
        with self.seen:
            self.seen.notify_all()

    def kill_in(self, stage, delay_s, timeout=300):
        with self.seen:
            self.seen.wait_for(lambda: stage in self.stages or self.proc.poll() is not None, timeout=timeout)
        time.sleep(delay_s)
        killed_in = self.stages[-1] if self.stages else "start"
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return killed_in
        return None  # finished before the kill


def _snapshot(db):
    store = Store(db)
    run_id = store.latest_run_id()
    keys = ("method", "opponent", "judge", "win_rate", "ci_low", "ci_high", "n_wins", "n_losses", "n_ties",
            "n_invalid", "n_total")
    results = sorted(tuple(None if r[k] != r[k] else r[k] for k in keys) for r in run_results(store, run_id))
    counts = {k: v for k, v in store.counts().items() if k != "invocations"}
    with store.engine.connect() as conn:
        from sqlalchemy import text

        judgments = sorted(conn.execute(text("select id, verdict, verdict_ab, verdict_ba from judgments")).all())
        generations = sorted(conn.execute(text("select id, text from generations")).all())
    store.close()
    return results, counts, judgments, generations


def test_sigkill_anywhere_then_resume(tiny_models, mini_data, tmp_path):
    rng = random.Random(1234)
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": str(REPO)}
    with Endpoint(_answer, delay_s=0.1) as ep:
        extra = ("llm_judge.enabled=true", f"llm_judge.base_url={ep.base_url}", "llm_judge.model=judge",
                 f"llm_judge.concurrency={CONCURRENCY}")

        def args(name):
            return tiny_run_args(tiny_models, mini_data, str(tmp_path / f"{name}.db"), tmp_path / f"out-{name}",
                                 methods="dpo,bon", extra=extra)

        reference = Run(args("reference"), env)
        assert reference.proc.wait(timeout=600) == 0, "".join(reference.log[-30:])
        expected, calls_once = _snapshot(str(tmp_path / "reference.db")), ep.requests
        durations = Store(str(tmp_path / "reference.db")).invocations(Store(str(tmp_path / "reference.db"))
                                                                       .latest_run_id())[-1]["stages_json"]
        import json

        durations = json.loads(durations)
        faults, extra_calls = [], 0

        def trial(name, stage, delay_s):
            nonlocal extra_calls
            before = ep.requests
            run = Run(args(name), env)
            killed_in = run.kill_in(stage, delay_s)
            resumed = subprocess.run([sys.executable, "-m", "bench", *args(name)], env=env, capture_output=True,
                                     text=True, timeout=600)
            assert resumed.returncode == 0, f"{name}: resume failed\n{resumed.stderr[-3000:]}"
            got = _snapshot(str(tmp_path / f"{name}.db"))
            for part, a, b in zip(("results", "row counts", "judgments", "generations"), got, expected, strict=True):
                assert a == b, f"{name} (killed in {killed_in}): {part} differ"
            repeated = ep.requests - before - calls_once
            assert 0 <= repeated <= CONCURRENCY, f"{name}: {repeated} judge calls repeated"
            extra_calls += repeated
            faults.append((name, killed_in, repeated))
            return killed_in

        for stage, trials in PLAN:
            landed = [trial(f"{stage}-{t}", stage, rng.uniform(0.0, 0.9) * durations.get(stage, 0.5))
                      for t in range(trials)]
            if stage not in landed:  # the stage ran faster than in the reference run (the load changed):
                trial(f"{stage}-at-start", stage, 0.0)  # one more kill, as soon as the stage starts
    killed = [f for f in faults if f[1] is not None]
    assert len(killed) >= 10, faults
    assert {"policies", "generation", "llm_judging", "report"} <= {f[1] for f in killed}, faults
    print(f"\ncrash trials: {faults}; judge calls repeated in total: {extra_calls}")

"""End to end: the smoke ``bench run`` (tldr, exo,dpo,bon), wall time per stage, first run and rerun, and how
the cost grows with the number of evaluation prompts.

All runs share one database and one out folder, so the rerun finds everything stored, and the larger runs
reuse the trained policies and the reward model by content address: what grows is generation and judging.
The plain rerun finds the run finished by the same code and only renders its report again; the
``--recheck`` rerun goes through every stage, each finding its rows in place.
Stage times are read from the run's ``invocations`` row (``stages_json``), the counts of new rows from the
database; the wall time is the whole ``bench run`` process (imports included). ``--llm-judge`` also starts
a local vLLM judge server (SmolLM2-135M, constrained answers) and enables the LLM judge in every run, so
the rerun shows its calls too.

    .venv/bin/python benchmarks/e2e.py [--sizes 8,16,32] [--llm-judge] [--set KEY=VALUE] [--work /tmp/you/e2e]

Each finished run is kept in WORK/e2e.jsonl; ``--report-only`` tabulates them (e.g. after an interruption).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COUNTED = ("generations", "judgments", "judge_calls", "train_steps")
EXTRA: list[str] = []  # --set overrides beyond the smoke preset (given on the command line)
STAGES = ("data", "model", "task_data", "reward_model", "policies", "generation", "judging", "llm_judging",
          "report")


def _counts(db: Path) -> dict[str, int]:
    if not db.exists():
        return dict.fromkeys(COUNTED, 0)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}  # noqa: S608


def _last_invocation(db: Path) -> tuple[str, dict[str, float]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        run_id, stages = conn.execute("SELECT run_id, stages_json FROM invocations ORDER BY id DESC LIMIT 1"
                                      ).fetchone()
    return run_id, json.loads(stages or "{}")


def _run(work: Path, prompts: int, judge: list[str], name: str, flags: tuple[str, ...] = ()) -> dict:
    db, out = work / "bench.db", work / "out"
    before = _counts(db)
    cmd = [str(Path(sys.executable).with_name("bench")), "run", "--task", "tldr", "--methods", "exo,dpo,bon",
           "--preset", "smoke", "--set", f"eval.prompts={prompts}", *judge, "--db", str(db), "--out", str(out), *flags]
    cmd += [x for kv in EXTRA for x in ("--set", kv)]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"bench run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    after = _counts(db)
    run_id, stages = _last_invocation(db)
    result = {"name": name, "prompts": prompts, "run_id": run_id, "wall": wall, "stages": stages,
              "new": {t: after[t] - before[t] for t in COUNTED}, "load": (load0, os.getloadavg()[0])}
    print(json.dumps(result), flush=True)
    with (work / "e2e.jsonl").open("a") as f:
        f.write(json.dumps(result) + "\n")
    return result


@contextlib.contextmanager
def _judge_flags(enabled: bool) -> Iterator[list[str]]:
    if not enabled:
        yield []
        return
    from judges.llm_pairwise import local_server

    with local_server("smollm2-135m", max_model_len=2048) as server:
        yield ["--set", "llm_judge.enabled=true", "--set", f"llm_judge.base_url={server.base_url}",
               "--set", f"llm_judge.model={server.model}", "--set", "llm_judge.constrain=true",
               "--set", "llm_judge.max_tokens=96", "--set", "llm_judge.price_prompt=0",
               "--set", "llm_judge.price_completion=0"]


def _table(rows: list[tuple[str, dict]], llm: bool) -> list[str]:
    stages = [s for s in STAGES if any(s in r["stages"] for _, r in rows)]
    head = ["run", "prompts", "wall (s)", *[f"{s} (s)" for s in stages], "new generations", "new judgments",
            "new LLM calls", "new train steps", "load (1-min)"]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in rows:
        cells = [name, str(r["prompts"]), f"{r['wall']:.1f}", *[f"{r['stages'].get(s, 0):.1f}" for s in stages],
                 str(r["new"]["generations"]), str(r["new"]["judgments"]), str(r["new"]["judge_calls"]),
                 str(r["new"]["train_steps"]), f"{r['load'][0]:.1f}-{r['load'][1]:.1f}"]
        table.append("| " + " | ".join(cells) + " |")
    first = rows[0][1]
    rerun = rows[1][1] if len(rows) > 1 else {"wall": float("nan"), "new": dict.fromkeys(COUNTED, "-")}
    how = ("resumed after an interruption: this is the resumed part only, not the smoke run's time"
           if "resumed" in rows[0][0] else "fresh database and out folder; converted base model already cached")
    table += ["", f"First run (tldr, exo,dpo,bon, preset smoke, {first['prompts']} prompts, {how}): "
              f"**{first['wall'] / 60:.1f} min** (smoke target <= 15 min). "
              f"Rerun of the same command (a finished run, same code: only its report is rendered again): **{rerun['wall']:.1f} s** wall, {rerun['new']['judgments']} new "
              f"judgments, {rerun['new']['judge_calls']} LLM-judge calls (target: <= 5 s, zero judge calls). "
              f"Larger runs reuse policies and the reward model (new train steps 0 expected); LLM judge "
              f"{'on (local vLLM server, SmolLM2-135M)' if llm else 'off'}. One run per row (n=1 each): wall times "
              f"carry the load shown. Overrides beyond the smoke preset: {', '.join(EXTRA) or 'none'}."]
    return table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="8,16,32", help="evaluation prompts per run; the first is the smoke run")
    ap.add_argument("--llm-judge", action="store_true")
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to every bench run (e.g. a smaller reward_model.pairs on a busy machine)")
    ap.add_argument("--work", default=f"/tmp/{os.environ.get('USER', 'bench')}-e2e")
    ap.add_argument("--report-only", action="store_true", help="tabulate the runs kept in WORK/e2e.jsonl")
    ap.add_argument("--keep", action="store_true", help="resume in WORK's database (after an interrupted first run)")
    args = ap.parse_args()
    EXTRA.extend(args.extra)
    sizes = [int(x) for x in args.sizes.split(",")]
    work = Path(args.work)
    if args.report_only:
        kept = [json.loads(x) for x in (work / "e2e.jsonl").read_text().splitlines()]
        rows = [(r["name"], r) for r in kept]
    else:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("BENCH_NO_PROGRESS", "1")
        with _judge_flags(args.llm_judge) as judge:
            first = "first run (resumed)" if args.keep else "first run"
            rows = [(first, _run(work, sizes[0], judge, first)),
                    ("rerun", _run(work, sizes[0], judge, "rerun")),
                    ("rerun --recheck", _run(work, sizes[0], judge, "rerun --recheck", ("--recheck",)))]
            rows += [(f"{n} prompts", _run(work, n, judge, f"{n} prompts")) for n in sizes[1:]]
    from benchmarks._machine import report

    report("End to end: smoke run, rerun, growth with prompts", _table(rows, args.llm_judge))


if __name__ == "__main__":
    main()

"""The results store: SQLAlchemy 2.0 Core over any URL (SQLite by default, WAL mode)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from bench.errors import InputError
from bench.store import _schema as s
from bench.store._judging import JudgingMixin
from bench.store._migrations import migrate
from bench.store._sql import chunks as _chunks
from bench.store._sql import insert_ignore as _insert_ignore

OPEN_WAIT_S = 30.0  # how long opening waits for another process's lock (SQLite's busy timeout is the same)
TABLES = ("runs", "invocations", "prompts", "policies", "train_steps", "metrics", "generations", "judges",
          "scores", "judgments", "judge_calls")


def normalize_url(url_or_path: str) -> str:
    """A bare path means an SQLite file; anything with ``://`` is a SQLAlchemy URL."""
    if "://" in url_or_path:
        return url_or_path
    return f"sqlite:///{Path(url_or_path).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, decides where transactions begin (see _sqlite_begin)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    """Every transaction takes SQLite's write lock when it begins (waiting up to the busy timeout), so two
    processes never both read, then both try to write: creating the schema, or a check-then-insert, stays
    atomic across processes. Transactions here are short, so serialising them costs little."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store(JudgingMixin):
    """Every write is a transaction; inserts of content-addressed rows ignore rows already there."""

    def __init__(self, url_or_path: str) -> None:
        self.url = normalize_url(url_or_path)
        self.engine = self._connect()

    def _connect(self) -> Engine:
        try:
            engine = create_engine(self.url)
        except (ArgumentError, ImportError, ValueError) as e:
            raise InputError(f"not a usable database URL ({e})", source="--db", field=self.url) from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            try:
                with engine.begin() as conn:
                    migrate(conn, self.url)
                return engine
            except (DatabaseError, OperationalError) as e:
                engine.dispose()
                reason = str(e.orig) if getattr(e, "orig", None) else str(e)
                # SQLite answers "locked" at once, without its busy timeout, where waiting could deadlock:
                # switching a new file to WAL while another process holds its write lock. Try again.
                if "locked" in reason and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise InputError(f"cannot open the database: {reason}", source=self.url) from None

    def close(self) -> None:
        self.engine.dispose()

    # -- generic helpers -------------------------------------------------------------------------
    def _insert_ignore(self, table: Any, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows whose primary key is not there yet, in one transaction; returns how many were new."""
        if not rows:
            return 0
        with self.engine.begin() as conn:
            return _insert_ignore(conn, table, rows)

    def insert_all(self, batches: Sequence[tuple[Any, Sequence[dict[str, Any]]]]) -> dict[str, int]:
        """Insert-ignore several tables' rows in one transaction: all land, or none do."""
        with self.engine.begin() as conn:
            return {table.name: _insert_ignore(conn, table, rows) for table, rows in batches if rows}

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t: conn.execute(select(func.count()).select_from(s.metadata.tables[t])).scalar_one()
                    for t in TABLES}

    # -- runs ----------------------------------------------------------------------------------
    def begin_run(self, run_id: str, task: str, spec: dict, provenance: dict) -> int:
        now = time.time()
        with self.engine.begin() as conn:
            if conn.execute(select(s.runs.c.id).where(s.runs.c.id == run_id)).first():
                conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(status="running", updated_at=now))
            else:
                conn.execute(insert(s.runs).values(id=run_id, task=task, spec_json=json.dumps(spec, sort_keys=True),
                                                   status="running", created_at=now, updated_at=now))
            res = conn.execute(insert(s.invocations).values(
                run_id=run_id, started_at=now, status="running", provenance_json=json.dumps(provenance, sort_keys=True)))
            return int(res.inserted_primary_key[0])

    def finish_run(self, run_id: str, invocation_id: int, status: str, stages: dict[str, float],
                   error: str | None = None) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(update(s.invocations).where(s.invocations.c.id == invocation_id).values(
                finished_at=now, status=status, stages_json=json.dumps(stages), error=error))
            conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(status=status, updated_at=now))

    def set_plan(self, run_id: str, plan: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(plan_json=json.dumps(plan, sort_keys=True)))

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).mappings().first()
            return dict(row) if row else None

    def find_runs(self, prefix: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(s.runs.c.id).where(s.runs.c.id.startswith(prefix))).scalars())

    def latest_run_id(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(s.runs.c.id).order_by(s.runs.c.updated_at.desc()).limit(1)).scalar()

    def invocations(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = select(s.invocations).where(s.invocations.c.run_id == run_id).order_by(s.invocations.c.id)
            return [dict(r) for r in conn.execute(q).mappings()]

    def add_prompts(self, texts: Sequence[tuple[str, str]]) -> None:
        """(prompt_id, text) rows, e.g. training prompts that are sampled but not evaluated."""
        self._insert_ignore(s.prompts, [{"id": pid, "text": t} for pid, t in texts])

    def add_run_prompts(self, run_id: str, texts: Sequence[tuple[str, str]]) -> None:
        """``texts`` are (prompt_id, text) in evaluation order."""
        self._insert_ignore(s.prompts, [{"id": pid, "text": t} for pid, t in texts])
        self._insert_ignore(s.run_prompts, [{"run_id": run_id, "prompt_id": pid, "position": i}
                                            for i, (pid, _) in enumerate(texts)])

    def run_prompts(self, run_id: str) -> list[dict[str, Any]]:
        q = (select(s.prompts.c.id, s.prompts.c.text).join(s.run_prompts, s.run_prompts.c.prompt_id == s.prompts.c.id)
             .where(s.run_prompts.c.run_id == run_id).order_by(s.run_prompts.c.position))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- policies --------------------------------------------------------------------------------
    def policy(self, policy_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.policies).where(s.policies.c.id == policy_id)).mappings().first()
            return dict(row) if row else None

    def put_policy(self, row: dict[str, Any], steps: Iterable[dict[str, Any]] = (),
                   metrics: Iterable[dict[str, Any]] = ()) -> None:
        """The policy row, its training records and its metrics land together, or not at all."""
        full = {"created_at": time.time(), "path": None, **row}
        step_rows = [{"policy_id": row["id"], "step": m["step"], "metrics_json": json.dumps(m)} for m in steps]
        metric_rows = [{"policy_id": row["id"], "stderr": None, "n": None, **m} for m in metrics]
        with self.engine.begin() as conn:
            if conn.execute(select(s.policies.c.id).where(s.policies.c.id == row["id"])).first():
                return
            conn.execute(insert(s.policies).values(**full))
            if step_rows:
                conn.execute(insert(s.train_steps), step_rows)
            if metric_rows:
                conn.execute(insert(s.metrics), metric_rows)

    def metrics(self, policy_ids: Sequence[str]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = (select(s.metrics).where(s.metrics.c.policy_id.in_(list(policy_ids)))
                 .order_by(s.metrics.c.policy_id, s.metrics.c.step, s.metrics.c.name))
            return [dict(r) for r in conn.execute(q).mappings()]

    def put_metrics(self, rows: Sequence[dict[str, Any]]) -> int:
        """Metric rows (policy_id, step, name, value, stderr, n) of an existing policy; rows already stored
        under the same (policy, step, name) are kept."""
        return self._insert_ignore(s.metrics, [{"stderr": None, "n": None, **r} for r in rows])

    def link_policy(self, run_id: str, method: str, policy_id: str, setting: str) -> None:
        self._insert_ignore(s.run_policies, [{"run_id": run_id, "method": method, "policy_id": policy_id,
                                              "setting": setting}])

    def run_policies(self, run_id: str) -> list[dict[str, Any]]:
        q = (select(s.run_policies.c.method, s.run_policies.c.setting, s.policies)
             .join(s.policies, s.policies.c.id == s.run_policies.c.policy_id)
             .where(s.run_policies.c.run_id == run_id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def policy_spec(self, policy_id: str) -> dict[str, Any] | None:
        """The spec of the first run that produced or used a policy (None for imported systems)."""
        q = (select(s.runs.c.spec_json).join(s.run_policies, s.run_policies.c.run_id == s.runs.c.id)
             .where(s.run_policies.c.policy_id == policy_id).order_by(s.runs.c.created_at).limit(1))
        with self.engine.connect() as conn:
            value = conn.execute(q).scalar()
        return json.loads(value) if value else None

    def train_steps(self, policy_id: str) -> list[dict[str, Any]]:
        q = select(s.train_steps.c.metrics_json).where(s.train_steps.c.policy_id == policy_id).order_by(
            s.train_steps.c.step)
        with self.engine.connect() as conn:
            return [json.loads(v) for v in conn.execute(q).scalars()]

    # -- generations -----------------------------------------------------------------------------
    def generations(self, policy_id: str, sampling_key: str, prompt_ids: Sequence[str] | None = None
                    ) -> list[dict[str, Any]]:
        g = s.generations
        q = select(g).where(g.c.policy_id == policy_id, g.c.sampling_key == sampling_key)
        with self.engine.connect() as conn:
            if prompt_ids is None:
                return [dict(r) for r in conn.execute(q).mappings()]
            out: list[dict[str, Any]] = []
            for chunk in _chunks(list(prompt_ids), 500):
                out += [dict(r) for r in conn.execute(q.where(g.c.prompt_id.in_(chunk))).mappings()]
            return out

    def generations_by_prompt(self, policy_id: str, sampling_key: str, prompt_ids: Sequence[str],
                              indices: range | None = None) -> dict[str, list[dict[str, Any]]]:
        """A policy's generations grouped by prompt, in sample-index order; only ``indices`` if given."""
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in prompt_ids}
        for g in sorted(self.generations(policy_id, sampling_key, prompt_ids), key=lambda g: g["sample_index"]):
            if indices is None or g["sample_index"] in indices:
                out[g["prompt_id"]].append(g)
        return out

    def put_generations(self, rows: Sequence[dict[str, Any]]) -> int:
        now = time.time()
        return self._insert_ignore(s.generations, [{"source_id": None, "created_at": now, **r} for r in rows])

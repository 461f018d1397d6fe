"""The store's judge side: judges, reward-model scores, judgments (one kind of row for every judge) and
the cache of LLM-judge calls."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from bench.store import _schema as s
from bench.store._sql import chunks


class JudgingMixin:
    engine: Engine

    def _insert_ignore(self, table: Any, rows: Sequence[dict[str, Any]]) -> int:  # provided by Store
        raise NotImplementedError

    # -- judges ----------------------------------------------------------------------------------
    def judge(self, judge_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(s.judges).where(s.judges.c.id == judge_id)).mappings().first()
            return dict(row) if row else None

    def put_judge(self, row: dict[str, Any]) -> None:
        self._insert_ignore(s.judges, [{"created_at": time.time(), "path": None, **row}])

    def all_judges(self) -> list[dict[str, Any]]:
        """Every judge with its number of judgments."""
        j = s.judgments
        n = select(j.c.judge_id, func.count().label("n_judgments")).group_by(j.c.judge_id).subquery()
        q = (select(s.judges, func.coalesce(n.c.n_judgments, 0).label("n_judgments"))
             .outerjoin(n, n.c.judge_id == s.judges.c.id).order_by(s.judges.c.created_at))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- reward-model scores ---------------------------------------------------------------------
    def scores(self, judge_id: str, generation_ids: Sequence[str]) -> dict[str, float | None]:
        sc = s.scores
        out: dict[str, float | None] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(generation_ids), 500):
                q = select(sc.c.generation_id, sc.c.score).where(sc.c.judge_id == judge_id,
                                                                  sc.c.generation_id.in_(chunk))
                out.update({gid: v for gid, v in conn.execute(q)})
        return out

    def put_scores(self, judge_id: str, values: dict[str, float | None]) -> int:
        return self._insert_ignore(s.scores, [{"judge_id": judge_id, "generation_id": g, "score": v}
                                              for g, v in values.items()])

    # -- judgments -------------------------------------------------------------------------------
    def judgment_ids(self, ids: Sequence[str]) -> set[str]:
        j = s.judgments
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids), 500):
                found |= set(conn.execute(select(j.c.id).where(j.c.id.in_(chunk))).scalars())
        return found

    def put_judgments(self, rows: Sequence[dict[str, Any]]) -> int:
        now = time.time()
        base = {"created_at": now, "verdict_ab": None, "verdict_ba": None, "annotator": None}
        return self._insert_ignore(s.judgments, [{**base, **r} for r in rows])

    def judgments(self, judge_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows with these ids that belong to ``judge_id``. Looked up by primary key only: with the
        judge in the WHERE clause SQLite scans the judge's whole index for every chunk."""
        j = s.judgments
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids), 500):
                rows = conn.execute(select(j).where(j.c.id.in_(chunk))).mappings()
                out += [dict(r) for r in rows if r["judge_id"] == judge_id]
        return out

    def judgments_with_texts(self, judge_id: str) -> list[dict[str, Any]]:
        """All of a judge's judgments, each with the two generations' texts and policies."""
        j = s.judgments
        ga, gb = aliased(s.generations), aliased(s.generations)
        q = (select(j, ga.c.text.label("text_a"), gb.c.text.label("text_b"), ga.c.policy_id.label("policy_a"),
                    gb.c.policy_id.label("policy_b"))
             .join(ga, ga.c.id == j.c.gen_a).join(gb, gb.c.id == j.c.gen_b)
             .where(j.c.judge_id == judge_id).order_by(j.c.id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def judgment_games(self, judge_id: str) -> list[tuple[str, str, str, str]]:
        """A judge's judgments as lean (prompt, policy of gen_a, policy of gen_b, verdict) rows."""
        j = s.judgments
        ga, gb = aliased(s.generations), aliased(s.generations)
        q = (select(j.c.prompt_id, ga.c.policy_id, gb.c.policy_id, j.c.verdict)
             .join(ga, ga.c.id == j.c.gen_a).join(gb, gb.c.id == j.c.gen_b).where(j.c.judge_id == judge_id))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def run_rows(self) -> list[dict[str, Any]]:
        """Every run's id, task, status and plan."""
        with self.engine.connect() as conn:
            q = select(s.runs.c.id, s.runs.c.task, s.runs.c.status, s.runs.c.plan_json).order_by(s.runs.c.created_at)
            return [dict(r) for r in conn.execute(q).mappings()]

    # -- LLM-judge calls -------------------------------------------------------------------------
    def judge_calls(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        c = s.judge_calls
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids), 500):
                out.update({r["id"]: dict(r) for r in conn.execute(select(c).where(c.c.id.in_(chunk))).mappings()})
        return out

    def put_judge_calls(self, rows: Sequence[dict[str, Any]]) -> int:
        now = time.time()
        return self._insert_ignore(s.judge_calls, [{"created_at": now, **r} for r in rows])

    def _generation_column(self, column: str, ids: Sequence[str]) -> dict[str, Any]:
        g = s.generations
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids), 500):
                out.update(dict(conn.execute(select(g.c.id, g.c[column]).where(g.c.id.in_(chunk))).all()))
        return out

    def generation_texts(self, ids: Sequence[str]) -> dict[str, str]:
        return self._generation_column("text", ids)

    def generation_lengths(self, ids: Sequence[str]) -> dict[str, int]:
        """Generations' lengths in tokens (imported texts: whitespace-separated words)."""
        return self._generation_column("n_tokens", ids)

    # -- lookups for imports ---------------------------------------------------------------------
    def existing_prompts(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids), 500):
                found |= set(conn.execute(select(s.prompts.c.id).where(s.prompts.c.id.in_(chunk))).scalars())
        return found

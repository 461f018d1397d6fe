import sqlite3

import pytest
from sqlalchemy import text

from bench.errors import BenchError, InputError
from bench.store import SCHEMA_VERSION, Store


def test_new_database_gets_the_current_schema_in_wal_mode(tmp_path):
    st = Store(str(tmp_path / "a.db"))
    with st.engine.connect() as c:
        assert c.execute(text("select value from meta where key='schema_version'")).scalar() == str(SCHEMA_VERSION)
        assert c.execute(text("pragma journal_mode")).scalar() == "wal"
    assert set(st.counts()) >= {"runs", "generations", "judgments"}


def test_content_addressed_inserts_are_idempotent(store):
    store.put_policy({"id": "p1", "method": "sft", "kind": "base", "params_json": "{}", "info_json": "{}"})
    store._insert_ignore(__import__("bench.store._schema", fromlist=["prompts"]).prompts,
                         [{"id": "x", "text": "prompt"}])
    row = {"id": "g1", "policy_id": "p1", "prompt_id": "x", "sampling_key": "k", "sample_index": 0, "text": "t",
           "n_tokens": 1, "logprob": -1.0, "finish_reason": "stop"}
    assert store.put_generations([row]) == 1
    assert store.put_generations([row, {**row, "id": "g2", "sample_index": 1}]) == 1
    assert store.counts()["generations"] == 2


def test_a_file_that_is_not_sqlite_is_refused_and_left_unchanged(tmp_path):
    p = tmp_path / "notes.db"
    p.write_bytes(b"these are my notes, not a database" * 50)
    before = p.read_bytes()
    with pytest.raises(InputError, match="notes.db: cannot open the database: file is not a database"):
        Store(str(p))
    assert p.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    p = tmp_path / "new.db"
    Store(str(p)).close()
    con = sqlite3.connect(p)
    con.execute("update meta set value='999' where key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(BenchError, match="schema version 999 is newer"):
        Store(str(p))


def test_bad_url_is_named():
    with pytest.raises(InputError, match="--db"):
        Store("nosuchdialect://x/y")


def test_migrations_run_step_by_step_in_one_transaction(tmp_path, monkeypatch):
    from sqlalchemy import text as sql

    import bench.store._migrations as mig

    p = tmp_path / "old.db"
    Store(str(p)).close()  # a database at the current version
    current = mig.SCHEMA_VERSION

    def add_note_column(conn):
        conn.execute(sql("alter table runs add column note text"))

    monkeypatch.setattr(mig, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(mig.MIGRATIONS, current, add_note_column)
    st = Store(str(p))
    with st.engine.connect() as c:
        assert c.execute(sql("select value from meta where key='schema_version'")).scalar() == str(current + 1)
        assert "note" in [r[1] for r in c.execute(sql("pragma table_info(runs)"))]


def test_version_1_database_is_migrated_to_the_current_schema(tmp_path):
    p = tmp_path / "v1.db"
    Store(str(p)).close()
    con = sqlite3.connect(p)  # make it a version-1 database: no metrics, no judge calls, old judgments
    con.execute("drop table metrics")
    con.execute("drop table judge_calls")
    for column in ("verdict_ab", "verdict_ba", "annotator"):
        con.execute(f"alter table judgments drop column {column}")
    con.execute("update meta set value='1' where key='schema_version'")
    con.commit()
    con.close()
    st = Store(str(p))
    st.put_policy({"id": "p1", "method": "m", "kind": "exact", "params_json": "{}", "info_json": "{}"},
                  metrics=[{"step": 3, "name": "objective", "value": 1.5}])
    assert st.metrics(["p1"]) == [{"policy_id": "p1", "step": 3, "name": "objective", "value": 1.5,
                                   "stderr": None, "n": None}]
    with st.engine.connect() as c:
        from sqlalchemy import text as sql

        assert c.execute(sql("select value from meta where key='schema_version'")).scalar() == str(SCHEMA_VERSION)
        columns = [r[1] for r in c.execute(sql("pragma table_info(judgments)"))]
        assert {"verdict_ab", "verdict_ba", "annotator"} <= set(columns)
        assert c.execute(sql("select count(*) from judge_calls")).scalar() == 0


def test_opening_waits_for_another_writer_of_a_new_file(tmp_path):
    """SQLite refuses at once (no busy timeout) to switch a file to WAL while another connection holds its
    write lock, which is what two processes starting on one new database can meet: opening tries again."""
    import threading
    import time

    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE unrelated (x)")  # a rollback-journal file, as any process may have made it
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO unrelated VALUES (1)")
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    t = time.monotonic()
    store = Store(str(path))
    assert time.monotonic() - t >= 0.4  # it waited for the writer instead of failing
    assert store.counts()["runs"] == 0
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"

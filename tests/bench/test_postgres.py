"""bench on a real PostgreSQL server through the same SQLAlchemy URL: migrations, idempotent writes,
imports, and a whole run whose results equal the same run on SQLite."""

import uuid

from conftest import tiny_run_args
from sqlalchemy import create_engine, text

from bench.cli import main
from bench.results import run_results
from bench.store import Store
from judges import import_annotations, judge_summary


def fresh_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def test_store_and_import_on_postgres(postgres_url, tmp_path):
    store = Store(fresh_database(postgres_url))
    assert store.engine.dialect.name == "postgresql"
    p = tmp_path / "a.csv"
    p.write_text("prompt,system_a,system_b,text_a,text_b,verdict,annotator\n"
                 "q1,x,y,a,b,A,h1\nq1,x,y,a,b,B,h2\nq1,x,y,a,b,A,h3\nq2,x,y,c,d,tie,h1\n")
    info = import_annotations(store, p)
    assert info["new_judgments"] == 4
    assert import_annotations(store, p)["new_judgments"] == 0  # idempotent on PostgreSQL too
    assert judge_summary(store, info["judge_id"])["outcomes"] == {"A": 1, "B": 0, "tie": 1, "invalid": 0}
    reopened = Store(store.url)  # the schema version is read back, no migration repeated
    assert reopened.counts()["judgments"] == 4


def _comparable(rows):
    keys = ("method", "opponent", "judge", "win_rate", "ci_low", "ci_high", "n_wins", "n_losses", "n_ties",
            "n_invalid", "n_total")
    return sorted(tuple(r[k] for k in keys) for r in rows)


def test_a_run_on_postgres_equals_the_same_run_on_sqlite(tiny_models, mini_data, postgres_url, tmp_path):
    pg = fresh_database(postgres_url)
    sqlite = str(tmp_path / "b.db")
    for db in (pg, sqlite):
        assert main(tiny_run_args(tiny_models, mini_data, db, tmp_path / "out")) == 0
    on_pg, on_sqlite = Store(pg), Store(sqlite)
    assert _comparable(run_results(on_pg, on_pg.latest_run_id())) == \
        _comparable(run_results(on_sqlite, on_sqlite.latest_run_id()))
    counts = on_pg.counts()
    assert main(tiny_run_args(tiny_models, mini_data, pg, tmp_path / "out")) == 0  # rerun: nothing new
    assert on_pg.counts() == {**counts, "invocations": counts["invocations"] + 1}

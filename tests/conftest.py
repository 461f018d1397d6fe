"""Shared fixtures: the real data beside the checkout, tiny random models, a fresh SQLite store."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or REPO.parent / "shared" / "data").resolve()

os.environ.setdefault("BENCH_NO_PROGRESS", "1")

SCRIPT = "<script>document.title='pwned'</script>"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "tldr" / "train_summarization.jsonl").is_file():
        pytest.fail(f"test data not found at {DATA_DIR}: set BENCH_DATA_DIR to the shared data folder")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from bench.models.tiny import save_tiny_encoder, save_tiny_llama

    root = tmp_path_factory.mktemp("tiny")
    return {"policy": save_tiny_llama(root / "llama"), "encoder": save_tiny_encoder(root / "encoder")}


@pytest.fixture()
def store(tmp_path: Path):
    from bench.store import Store

    s = Store(str(tmp_path / "bench.db"))
    yield s
    s.close()


@pytest.fixture()
def mini_data(tmp_path, data_dir):
    """The first TL;DR rows, with a reference that carries a script tag."""
    folder = tmp_path / "data" / "tldr"
    folder.mkdir(parents=True)
    train = (data_dir / "tldr" / "train_summarization.jsonl").read_text().splitlines()[:24]
    val = [json.loads(x) for x in (data_dir / "tldr" / "val_summarization.jsonl").read_text().splitlines()[:12]]
    val[0]["chosen"] = SCRIPT + " " + val[0]["chosen"]
    (folder / "train_summarization.jsonl").write_text("\n".join(train) + "\n")
    (folder / "val_summarization.jsonl").write_text("\n".join(json.dumps(v) for v in val) + "\n")
    return folder.parent


def tiny_run_args(tiny_models: dict[str, Path], data: Path, db: str, out: Path, methods: str = "exo,dpo",
                  extra: tuple[str, ...] = (), task: str = "tldr") -> list[str]:
    """``bench run`` arguments for the whole pipeline on tiny random models and the transformers engine."""
    sets = [f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
            "eval.prompts=3", "eval.samples=2", "eval.max_new_tokens=6", "train.pairs=8", "train.batch_size=4",
            *extra]
    args = ["run", "--task", task, "--methods", methods, "--preset", "smoke", "--engine", "hf",
            "--model", str(tiny_models["policy"]), "--db", db, "--out", str(out), "--data-dir", str(data)]
    for s in sets:
        args += ["--set", s]
    return args


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1: the one scripts/test.sh started, or one started here."""
    import subprocess

    if os.environ.get("BENCH_TEST_POSTGRES_URL"):
        yield os.environ["BENCH_TEST_POSTGRES_URL"]
        return
    script = REPO / "scripts" / "postgres.sh"
    out = subprocess.run(["bash", "-c", f"source {script}; start_test_postgres; echo \"$BENCH_TEST_POSTGRES_URL\";"
                          " echo \"$BENCH_PG_STOP\"; echo \"$BENCH_PG_DIR\""], capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or len(lines) < 3 or not lines[-3].startswith("postgresql"):
        pytest.fail(f"could not start PostgreSQL (install the Debian package postgresql): {out.stderr[-1000:]}")
    url, stop, folder = lines[-3:]
    yield url
    subprocess.run(["bash", "-c", f"{stop} >/dev/null 2>&1; rm -rf {folder}"])

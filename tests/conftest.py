"""Shared fixtures: the real data beside the checkout, tiny random models, a fresh SQLite store."""

from __future__ import annotations

import json
import os
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

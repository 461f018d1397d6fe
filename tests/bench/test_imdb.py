"""The imdb task: local files, clear errors on missing or malformed data, the oracle, checkpoint steps."""

import csv
import json
import math
import shutil

import pytest

from bench.errors import InputError
from bench.tasks import TASKS


def write_mini_imdb(root, data_dir, reviews=24, prompts=40, held=12):
    """The first rows of the shared IMDB files (both sentiments kept), under root/imdb."""
    folder = root / "imdb"
    folder.mkdir(parents=True)
    for split in ("train", "validation", "test"):
        with open(data_dir / "imdb" / f"imdb_{split}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        keep = [r for r in rows if r["sentiment"] == "1"][:reviews // 2] + \
               [r for r in rows if r["sentiment"] == "0"][:reviews // 2]
        with open(folder / f"imdb_{split}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["review", "sentiment"])
            w.writeheader()
            w.writerows(keep)
    src = data_dir / "imdb"
    (folder / "prompts_train.jsonl").write_text("\n".join(
        (src / "prompts_train.jsonl").read_text().split("\n")[:prompts]) + "\n")
    (folder / "prompts_val.jsonl").write_text("\n".join(
        (src / "prompts_val.jsonl").read_text().split("\n")[:held]) + "\n")
    (folder / "val_preferences.jsonl").write_text("\n".join(
        (src / "val_preferences.jsonl").read_text().split("\n")[:held]) + "\n")
    return root


def test_imdb_loads_the_local_files(data_dir):
    task = TASKS.get("imdb")()
    data = task.load(data_dir, eval_prompts=8)
    assert len(task.train_prefixes) == 2000 and len(task.heldout_prefixes) == 500
    assert (len(task.reviews.train), len(task.reviews.validation), len(task.reviews.test)) == (600, 200, 200)
    assert len(data.eval_prompts) == 8 and data.train_pairs == ()
    assert data.eval_prompts[0].prompt == task.heldout_prefixes[0] and data.eval_prompts[0].reference
    assert task.default_beta == 0.1 and task.has_oracle
    assert "imdb/imdb_test.csv" in data.sources and data.extra_fingerprint


def test_imdb_missing_data_says_where_it_looked(tmp_path):
    with pytest.raises(InputError) as e:
        TASKS.get("imdb")().load(tmp_path / "nowhere")
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / "imdb" / "imdb_train.csv") in msg
    assert "--data-dir" in msg and "BENCH_DATA_DIR" in msg


@pytest.mark.parametrize("content, needle", [
    ("review,sentiment\ngood film,1\nbad film,2\n", "line 3, field 'sentiment': expected 0 or 1, got '2'"),
    ("review,sentiment\ngood film,1\n,0\n", "line 3, field 'review': empty review"),
    ("text,label\ngood film,1\n", "field 'review': missing column"),
    ("review,sentiment\ngood film,1\nfine film,1\n", "field 'sentiment': reviews of only one sentiment"),
])
def test_malformed_reviews_name_file_row_and_field(tmp_path, data_dir, content, needle):
    root = write_mini_imdb(tmp_path, data_dir)
    path = root / "imdb" / "imdb_validation.csv"
    path.write_text(content)
    with pytest.raises(InputError) as e:
        TASKS.get("imdb")().load(root)
    assert str(path) in str(e.value) and needle in str(e.value)


def test_prefix_without_reference_is_named(tmp_path, data_dir):
    root = write_mini_imdb(tmp_path, data_dir)
    path = root / "imdb" / "prompts_val.jsonl"
    path.write_text(path.read_text() + json.dumps({"prompt": "a prefix nobody continued"}) + "\n")
    with pytest.raises(InputError, match="line 13, field 'prompt': validation prefix has no reference"):
        TASKS.get("imdb")().load(root)


def test_smoke_preset_has_imdb_settings_and_tldr_keeps_its_own():
    from bench.spec import build_spec, flags_layer

    imdb = build_spec([flags_layer([], task="imdb", methods="dpo", preset="smoke")])
    tldr = build_spec([flags_layer([], task="tldr", methods="dpo", preset="smoke")])
    assert imdb.train.checkpoints == 1 and tldr.train.checkpoints == 0
    assert imdb.method("dpo").param_dict()["beta"] == 0.1
    over = build_spec([flags_layer(["train.checkpoints=0"], task="imdb", methods="dpo", preset="smoke")])
    assert over.train.checkpoints == 0  # flags win over the task's preset
    with pytest.raises(InputError, match="frontier.bon_n"):
        build_spec([flags_layer(["frontier.bon_n=1,32"], task="imdb", methods="dpo", preset="smoke")])


def test_oracle_trains_and_scores(tmp_path, data_dir, tiny_models):
    from bench.tasks.imdb import Review, Reviews
    from judges.oracle import Embedder, OracleJudge, join_text, train_oracle, wilson

    # a separable toy set: the tiny encoder is random, so the words carry the label
    pos = [Review(f"great wonderful film number {i}", 1) for i in range(12)]
    neg = [Review(f"awful terrible boring mess {i}", 0) for i in range(12)]
    reviews = Reviews(train=pos[:8] + neg[:8], validation=pos[8:10] + neg[8:10], test=pos[10:] + neg[10:])
    params, info = train_oracle(Embedder(str(tiny_models["encoder"]), 32), reviews, seed=0)
    assert info["n"] == 4 and info["accuracy"] == 1.0
    assert (info["ci_low"], info["ci_high"]) == pytest.approx(wilson(4, 4))
    import torch

    (tmp_path / "o").mkdir()
    torch.save(params, tmp_path / "o" / "oracle.pt")
    judge = OracleJudge("o1", tmp_path / "o", None, str(tiny_models["encoder"]), 32, info)
    good, bad = judge.score_texts(["great wonderful", "awful terrible"], [" film number 99", " boring mess 99"])
    assert good > 0 > bad  # log-odds of positive
    assert join_text("I really h", "ated it") == "I really h ated it" and join_text("a ", "b") == "a b"


def test_wilson_interval_on_hand_values():
    from judges.oracle import wilson

    low, high = wilson(147, 200)  # p = 0.735
    assert low == pytest.approx(0.66982, abs=1e-4) and high == pytest.approx(0.79132, abs=1e-4)
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_checkpoint_steps_are_evenly_spaced():
    from methods._pairwise import checkpoint_steps

    assert checkpoint_steps(6, 2) == {2, 4}
    assert checkpoint_steps(10, 4) == {2, 4, 6, 8}
    assert checkpoint_steps(8, 0) == set()
    assert checkpoint_steps(2, 3) == {1}  # fewer when there are fewer steps than asked


def test_missing_one_file_is_listed(tmp_path, data_dir):
    root = write_mini_imdb(tmp_path, data_dir)
    (root / "imdb" / "val_preferences.jsonl").unlink()
    shutil.rmtree(root / "imdb" / "unused", ignore_errors=True)
    with pytest.raises(InputError, match="val_preferences.jsonl"):
        TASKS.get("imdb")().load(root)

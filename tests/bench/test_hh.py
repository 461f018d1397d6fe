"""The HH-RLHF task: real test splits, dialogue parsing, the held-out partition, bad files, the pipeline."""

import gzip
import json
from collections import Counter

import pytest

from bench.errors import InputError
from bench.tasks import TASKS
from bench.tasks.hh import SUBSETS, held_out, split_row, turns

D1 = "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water.\n\nHuman: For how long?"


def _real_rows(data_dir, subset):
    with gzip.open(data_dir / "hh" / subset / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_loads_every_subset_and_counts_what_it_leaves_out(data_dir):
    data = TASKS.get("hh")().load(data_dir)
    total = sum(len(_real_rows(data_dir, s)) for s in SUBSETS)
    assert total == 8552  # the four test splits, as the data README lists them
    assert len(data.train_pairs) + len(data.val_pairs) + 64 == total
    assert data.sources["hh left out"] == "11 empty reply, 17 histories differ, 36 identical replies"
    assert data.sources["hh split"].startswith(", ".join(SUBSETS) + ": test split partitioned")
    assert 0.17 < len(data.val_pairs) / (total - 64) < 0.23  # one in five first human turns held out
    firsts = [{turns(p.prompt)[0]["content"] for p in part} for part in (data.train_pairs, data.val_pairs)]
    assert not firsts[0] & firsts[1]  # no conversation opening on both sides
    assert len(data.eval_prompts) == len({p.prompt for p in data.val_pairs})
    for e in data.eval_prompts[:200]:
        messages = TASKS.get("hh")().messages(e.prompt)
        assert messages[0]["role"] == "user" and messages[-1]["role"] == "user" and e.reference
    # a cut of the training pairs mixes the subsets (rows ordered by a hash, not file by file)
    where = {split_row(r["chosen"], r["rejected"], {})[0]: s for s in SUBSETS for r in _real_rows(data_dir, s)
             if not isinstance(split_row(r["chosen"], r["rejected"], {}), str)}
    assert len(Counter(where[p.prompt] for p in data.train_pairs[:100])) == len(SUBSETS)


def test_dialogue_parsing_by_hand():
    history, a, b = split_row(D1 + "\n\nAssistant: Ten minutes.", D1 + "\n\nAssistant:  Forever. ", {})
    assert (a, b) == ("Ten minutes.", "Forever.")
    assert history == D1.strip()
    assert turns(history) == [{"role": "user", "content": "How do I boil an egg?"},
                              {"role": "assistant", "content": "Put it in boiling water."},
                              {"role": "user", "content": "For how long?"}]
    assert turns("... water.\n\nHuman: For how long?")[0] == {"role": "user", "content": "... water."}
    assert split_row(D1 + "\n\nAssistant: x", D1 + " Really?\n\nAssistant: y", {}) == "histories differ"
    assert split_row(D1 + "\n\nAssistant: x", D1 + "\n\nAssistant: x", {}) == "identical replies"
    assert split_row(D1 + "\n\nAssistant:", D1 + "\n\nAssistant: y", {}) == "empty reply"
    assert held_out(history) == held_out("Human: How do I boil an egg?\n\nAssistant: Other.\n\nHuman: Hm")


def test_shorten_keeps_the_dialogues_end(tiny_models):
    from bench.models._prompting import encode_prompt
    from bench.models.tiny import build_tiny_tokenizer

    tok, task = build_tiny_tokenizer(), TASKS.get("hh")()
    long = "Human: " + "a" * 300 + "\n\nAssistant: " + "b" * 300 + "\n\nHuman: What now?"
    ids = encode_prompt(tok, task, long, 120)
    text = tok.decode(ids)
    assert len(ids) <= 120 and "What now?" in text and "a" * 50 not in text
    assert text.count("<|im_start|>user") == 1  # whole turns: the first human turn went, not half of it
    last_alone = "Human: " + "c" * 400 + " What now?"
    text = tok.decode(encode_prompt(tok, task, last_alone, 120))
    assert "... " in text and text.rstrip().endswith("What now?<|im_end|>\n<|im_start|>assistant")
    tldr = TASKS.get("tldr")()  # the default cut keeps the start
    text = tok.decode(encode_prompt(tok, tldr, "start " + "x" * 400 + " end", 120))
    assert "start" in text and " ..." in text and " end" not in text


def _write(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / name, "wt", encoding="utf-8") as f:
        f.write("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return folder / name


def _mini_hh(tmp_path, data_dir, n=30, train=False):
    for s in SUBSETS:
        rows = _real_rows(data_dir, s)
        _write(tmp_path / "hh" / s, "test.jsonl.gz", rows[:n])
        if train:
            _write(tmp_path / "hh" / s, "train.jsonl.gz", rows[n:2 * n])
    return tmp_path


def test_a_train_split_is_used_when_present(tmp_path, data_dir):
    data = TASKS.get("hh")().load(_mini_hh(tmp_path, data_dir, train=True))
    assert "hh split" not in data.sources
    assert len(data.train_pairs) + len(data.val_pairs) <= 8 * 30 and len(data.val_pairs) >= 4 * 28
    test_histories = {split_row(r["chosen"], r["rejected"], {})[0] for s in SUBSETS
                      for r in _real_rows(data_dir, s)[:30]}
    assert {p.prompt for p in data.val_pairs} <= test_histories


@pytest.mark.parametrize("bad, needle", [
    ('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: yo"}', "line 2, field 'rejected': missing field"),
    ('{"chosen": "\\n\\nHuman: hi", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: yo"}',
     "line 2, field 'chosen': expected a dialogue ending in an"),
    ('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: yo", "rejected": ', "line 2: invalid JSON"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, data_dir, bad, needle):
    _mini_hh(tmp_path, data_dir, n=5)
    good = _real_rows(data_dir, "helpful-online")[0]
    path = _write(tmp_path / "hh" / "helpful-online", "test.jsonl.gz", [good, bad])
    with pytest.raises(InputError) as e:
        TASKS.get("hh")().load(tmp_path)
    assert f"{path}, {needle}" in str(e.value)


def test_missing_and_corrupt_files(tmp_path, data_dir):
    with pytest.raises(InputError) as e:
        TASKS.get("hh")().load(tmp_path)
    assert str(tmp_path / "hh" / "helpful-base" / "test.jsonl.gz") in str(e.value) and "--data-dir" in str(e.value)
    _mini_hh(tmp_path, data_dir, n=5)
    path = tmp_path / "hh" / "harmless-base" / "test.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"chosen": "x"}\n')[:-9])  # truncated
    with pytest.raises(InputError, match=f"{path}: not a readable gzip file"):
        TASKS.get("hh")().load(tmp_path)


def test_pipeline_on_hh_with_tiny_models(tiny_models, tmp_path, data_dir):
    from conftest import tiny_run_args

    from bench.cli import main
    from bench.results import run_results
    from bench.store import Store

    data = _mini_hh(tmp_path / "data", data_dir)
    db = str(tmp_path / "bench.db")
    assert main(tiny_run_args(tiny_models, data, db, tmp_path / "out", methods="dpo", task="hh")) == 0
    store = Store(db)
    try:
        run_id = store.latest_run_id()
        rows = {(r["method"], r["opponent"]): r for r in run_results(store, run_id)}
        prompts = [r["text"] for r in store.run_prompts(run_id)]
        assert store.run(run_id)["task"] == "hh"
    finally:
        store.close()
    assert rows[("dpo", "sft")]["n_total"] + rows[("dpo", "sft")]["n_invalid"] == 3 * 2 * 2
    assert len(prompts) == 3 and all(p.startswith("Human:") for p in prompts)


def test_hh_presets_give_longer_replies_outside_smoke():
    from bench.spec import build_spec, flags_layer

    def spec(preset, *flags):
        return build_spec([flags_layer(list(flags), task="hh", methods="dpo", preset=preset)])

    assert (spec("default").eval.max_new_tokens, spec("default").train.max_completion_tokens) == (128, 128)
    assert spec("paper", "eval.max_new_tokens=32").eval.max_new_tokens == 32  # flags win
    assert spec("smoke").eval.max_new_tokens == 48


def test_the_hub_path_reads_train_and_test_per_subset(monkeypatch, data_dir):
    """The hub loader on real rows handed over by a stand-in for ``datasets.load_dataset`` (no network here)."""
    import datasets

    from bench.tasks.hh import HUB_ID

    asked, root = [], data_dir

    def load_dataset(name, data_dir=None, split=None):  # the hub's keyword names; data_dir is the subset
        asked.append((name, data_dir, split))
        rows = _real_rows(root, data_dir)
        return datasets.Dataset.from_list(rows[:20] if split == "train" else rows[20:30])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    data = TASKS.get("hh")().load(None)
    assert asked == [(HUB_ID, s, split) for s in SUBSETS for split in ("train", "test")]
    assert data.sources["hub"] == f"{HUB_ID}:{','.join(SUBSETS)}" and "hh split" not in data.sources
    assert len(data.train_pairs) <= 80 and len(data.val_pairs) <= 40 and len(data.train_pairs) >= 76

    def broken(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", broken)
    with pytest.raises(InputError, match="could not load Anthropic/hh-rlhf from the hub .*--data-dir"):
        TASKS.get("hh")().load(None)

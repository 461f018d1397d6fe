import json

import pytest

from bench.errors import InputError
from bench.tasks import TASKS, resolve_data_dir


def test_tldr_loads_the_local_files(data_dir):
    data = TASKS.get("tldr")().load(data_dir)
    assert len(data.train_pairs) == 2000
    assert len(data.val_pairs) == 2000
    assert len(data.eval_prompts) == 195  # distinct validation posts
    assert all(p.chosen and p.rejected for p in data.train_pairs)
    assert set(data.sources) == {"tldr/train_summarization.jsonl", "tldr/val_summarization.jsonl"}


def test_cut_sizes_and_fingerprint(data_dir):
    task = TASKS.get("tldr")()
    a = task.load(data_dir, train_pairs=10, eval_prompts=5)
    b = task.load(data_dir, train_pairs=10, eval_prompts=5)
    c = task.load(data_dir, train_pairs=11, eval_prompts=5)
    assert len(a.train_pairs) == 10 and len(a.eval_prompts) == 5
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_missing_data_dir_says_where_it_looked(tmp_path):
    with pytest.raises(InputError) as e:
        TASKS.get("tldr")().load(tmp_path / "nowhere")
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / "tldr" / "train_summarization.jsonl") in msg
    assert "--data-dir" in msg and "BENCH_DATA_DIR" in msg


def _write_tldr(tmp_path, train_lines):
    folder = tmp_path / "tldr"
    folder.mkdir()
    good = json.dumps({"prompt": "p", "chosen": "c", "rejected": "r"})
    (folder / "train_summarization.jsonl").write_text("\n".join(train_lines) + "\n")
    (folder / "val_summarization.jsonl").write_text(good + "\n")
    return folder / "train_summarization.jsonl"


@pytest.mark.parametrize("bad_line, needle", [
    ('{"prompt": "p", "chosen": "c", "rejected": ', "invalid JSON"),
    ('{"prompt": "p", "chosen": "c"}', "field 'rejected': missing field"),
    ('{"prompt": "p", "chosen": 3, "rejected": "r"}', "field 'chosen': expected a string"),
    ('{"prompt": "", "chosen": "c", "rejected": "r"}', "field 'prompt': empty string"),
    ('["p", "c", "r"]', "expected a JSON object"),
])
def test_corrupt_rows_name_file_and_line(tmp_path, bad_line, needle):
    good = json.dumps({"prompt": "p", "chosen": "c", "rejected": "r"})
    path = _write_tldr(tmp_path, [good, good, bad_line])
    with pytest.raises(InputError) as e:
        TASKS.get("tldr")().load(tmp_path)
    assert f"{path}, line 3" in str(e.value)
    assert needle in str(e.value)


def test_empty_and_non_utf8_files(tmp_path):
    path = _write_tldr(tmp_path, [])
    path.write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        TASKS.get("tldr")().load(tmp_path)
    path.write_bytes(b'{"prompt": "\xff\xfe", "chosen": "c", "rejected": "r"}\n')
    with pytest.raises(InputError, match="line 1: not UTF-8"):
        TASKS.get("tldr")().load(tmp_path)


def test_data_dir_flag_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("BENCH_DATA_DIR")
    assert resolve_data_dir(None) is None  # the hub

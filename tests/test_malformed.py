"""A corpus of malformed inputs: datasets, annotation files, configs, command-line values and database
URLs. Each gets a clear error naming the file (or option), the row and the field where they exist, a
non-zero exit, and leaves the database exactly as it was."""

import hashlib
import json
import sqlite3

import pytest

from bench.cli import main

GOOD_ROW = {"prompt": "SUBREDDIT: r/x\nPOST: hello\nTL;DR:", "chosen": " hi", "rejected": " bye"}
ANN_HEADER = "prompt,system_a,system_b,text_a,text_b,verdict,annotator\n"


def _dataset(tmp_path, train_text: bytes):
    folder = tmp_path / "data" / "tldr"
    folder.mkdir(parents=True)
    (folder / "train_summarization.jsonl").write_bytes(train_text)
    (folder / "val_summarization.jsonl").write_text(json.dumps(GOOD_ROW) + "\n")
    return ["run", "--task", "tldr", "--methods", "dpo", "--data-dir", str(tmp_path / "data")]


def _good_lines(n=2):
    return "".join(json.dumps(GOOD_ROW) + "\n" for _ in range(n))


def _file(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def _import(tmp_path, name, content, *extra):
    return ["import-annotations", str(_file(tmp_path, name, content)), *extra]


def _config(tmp_path, text):
    return ["run", "--config", str(_file(tmp_path, "run.yaml", text))]


def _exact(method, *settings):
    return ["run", "--task", "exact", "--methods", method, *(a for kv in settings for a in ("--set", kv))]


CASES = {
    # datasets
    "jsonl truncated": (lambda t: _dataset(t, (_good_lines() + '{"prompt": "x", "chos').encode()),
                        r"train_summarization.jsonl, line 3: invalid JSON"),
    "jsonl wrong type": (lambda t: _dataset(t, (_good_lines(1) + json.dumps({**GOOD_ROW, "chosen": 5})).encode()),
                         r"line 2, field 'chosen': expected a string, got int"),
    "jsonl missing field": (lambda t: _dataset(t, json.dumps({"prompt": "p", "chosen": "c"}).encode()),
                            r"line 1, field 'rejected': missing field"),
    "jsonl empty file": (lambda t: _dataset(t, b""), r"train_summarization.jsonl: file is empty"),
    "jsonl latin-1": (lambda t: _dataset(t, _good_lines(1).encode() + '{"prompt": "caf\xe9"}'.encode("latin-1")),
                      r"line 2: not UTF-8"),
    "jsonl array row": (lambda t: _dataset(t, b"[1, 2]\n"), r"line 1: expected a JSON object, got list"),
    # annotation files
    "annotation unknown prompt": (lambda t: _import(t, "a.csv", "prompt_id,system_a,system_b,verdict,annotator\n"
                                                    "nope,x,y,A,h\n"), r"a.csv, line 2, field 'prompt_id'"),
    "annotation bad label": (lambda t: _import(t, "a.csv", ANN_HEADER + "q,x,y,a,b,maybe,h\n"),
                             r"a.csv, line 2, field 'verdict': bad label 'maybe'"),
    "annotation duplicate": (lambda t: _import(t, "a.csv", ANN_HEADER + "q,x,y,a,b,A,h\nq,x,y,a,b,B,h\n"),
                             r"a.csv, line 3, field 'annotator': duplicate: line 2"),
    "annotation empty": (lambda t: _import(t, "a.csv", b""), r"a.csv: file is empty"),
    "annotation utf-16": (lambda t: _import(t, "a.csv", (ANN_HEADER + "q,x,y,a,b,A,h\n").encode("utf-16")),
                          r"a.csv, line 1: not UTF-8"),
    "annotation extra value": (lambda t: _import(t, "a.csv", ANN_HEADER + "q,x,y,a,b,A,h,oops\n"),
                               r"a.csv, line 2: 1 more values"),
    "annotation unknown system": (lambda t: _import(t, "a.csv", "prompt,system_a,system_b,verdict,annotator\n"
                                                    "q,ppo,sft,A,h\n"), r"line 2, field 'system_a': unknown system"),
    "pandalm bad label": (lambda t: _import(t, "p.json", json.dumps([{
        "cmp_key": "a_b", "instruction": "i", "input": "", "response1": "r1", "response2": "r2",
        "annotator1": 7, "annotator2": 1, "annotator3": 1}]), "--format", "pandalm"),
        r"p.json, record 1, field 'annotator1': bad label 7"),
    "llmbar result missing order": (lambda t: _import(t, "r.json", json.dumps([{
        "input": "i", "output_1": "a", "output_2": "b", "label": 1, "results": [{"swap = False": {"winner": "1"}}]}]),
        "--format", "llmbar-result"), r"r.json, record 1, field 'results\[-1\].swap = True'"),
    "annotation unknown format": (lambda t: _import(t, "a.csv", ANN_HEADER, "--format", "excel"),
                                  r"--format: unknown format 'excel'"),
    # configs
    "yaml syntax": (lambda t: _config(t, "task: tldr\nmethods: [dpo\n"), r"run.yaml, line \d+: invalid YAML"),
    "yaml unknown key": (lambda t: _config(t, "task: tldr\nmethods: [dpo]\ntrian: {lr: 1}\n"),
                         r"run.yaml, field 'trian': unknown setting"),
    "yaml wrong type": (lambda t: _config(t, "task: tldr\nmethods: [dpo]\ntrain: {lr: fast}\n"),
                        r"run.yaml, field 'train.lr': expected float, got 'fast'"),
    "yaml not a mapping": (lambda t: _config(t, "- task\n- tldr\n"), r"run.yaml: a config file must be a mapping"),
    "yaml unknown method": (lambda t: _config(t, "task: tldr\nmethods: [dop]\n"), r"run.yaml, field 'methods': unknown method 'dop'. Did you mean 'dpo'"),
    # command-line values
    "flag set without key": (lambda t: ["run", "--task", "tldr", "--methods", "dpo", "--set", "lr=1"],
                             r"field 'lr=1': expected --set SECTION.KEY=VALUE"),
    "flag bad float": (lambda t: ["run", "--task", "tldr", "--methods", "dpo", "--set", "train.lr=abc"],
                       r"field 'train.lr': expected float, got 'abc'"),
    "flag out of range": (lambda t: ["run", "--task", "tldr", "--methods", "dpo", "--set", "llm_judge.concurrency=0"],
                          r"field 'llm_judge.concurrency': must be at least 1"),
    "flag unknown method param": (lambda t: ["run", "--task", "tldr", "--methods", "dpo", "--set", "dpo.gamma=1"],
                                  r"field 'dpo.gamma': unknown setting; known: beta"),
    # hyper-parameters a method cannot train with: refused while the spec is built, before any training
    "exo eps zero": (lambda t: _exact("exo", "exo.eps=0"), r"field 'exo.eps': must be in \(0, 0.5\), got 0: "),
    "dpo beta zero": (lambda t: _exact("dpo", "dpo.beta=0"), r"field 'dpo.beta': must be > 0, got 0 \(a beta"),
    "exo-rw beta_r negative": (lambda t: _exact("exo-rw", "exo-rw.beta_r=-0.5"),
                               r"field 'exo-rw.beta_r': must be > 0, got -0.5"),
    "exo-rw k above the outputs": (lambda t: _exact("exo-rw", "exo-rw.k=300"),
                                   r"field 'exo-rw.k': k = 300 is more than the 216 distinct outputs"),
    "online k of one": (lambda t: _exact("dpo", "dpo.rounds=2", "dpo.k=1"),
                        r"field 'dpo.k': needs at least 2 completions per prompt, got 1"),
    "flag bad judge url": (lambda t: ["run", "--task", "tldr", "--methods", "dpo", "--set",
                                      "llm_judge.base_url=ftp://x"], r"field 'llm_judge.base_url'"),
    "agreement unknown judge": (lambda t: ["agreement", "nobody", "human"], r"no judge 'nobody'"),
}


def _dump_hash(db):
    con = sqlite3.connect(db)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


@pytest.fixture()
def seeded_db(tmp_path):
    db = tmp_path / "bench.db"
    seed = _file(tmp_path, "seed.csv", ANN_HEADER + "q,x,y,a,b,A,h\n")
    assert main(["import-annotations", str(seed), "--db", str(db)]) == 0
    return db


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input(case, tmp_path, seeded_db, capsys):
    build, pattern = CASES[case]
    args = build(tmp_path)
    before = _dump_hash(seeded_db)
    code = main([*args, "--db", str(seeded_db)])
    err = capsys.readouterr().err
    assert code != 0, f"{case}: exit 0"
    assert err.startswith("error: ") and len(err.strip().splitlines()) <= 3, err  # one clear message, no trace
    import re

    assert re.search(pattern, err), f"{case}: {err}"
    assert _dump_hash(seeded_db) == before, f"{case}: the database changed"


def test_a_database_file_that_is_not_sqlite(tmp_path, capsys):
    db = _file(tmp_path, "notes.db", b"these are my notes, not a database\n" * 50)
    before = db.read_bytes()
    assert main(["judges", "--db", str(db)]) != 0
    assert "notes.db: cannot open the database: file is not a database" in capsys.readouterr().err
    assert db.read_bytes() == before


@pytest.mark.parametrize(("url", "pattern"), [
    ("nosuchdialect://x/y", r"--db, field 'nosuchdialect://x/y': not a usable database URL"),
    ("postgresql+psycopg://bench@127.0.0.1:1/nothing", r"cannot open the database"),
])
def test_unusable_database_urls(url, pattern, capsys):
    import re

    assert main(["judges", "--db", url]) != 0
    assert re.search(pattern, capsys.readouterr().err)

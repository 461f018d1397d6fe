"""Annotation import: whole-file validation with errors naming file, row and field; nothing half-written."""

import json

import pytest

from bench.errors import InputError
from bench.hashing import content_key
from judges import import_annotations, judge_summary

HEADER = "prompt,system_a,system_b,text_a,text_b,verdict,annotator\n"


def _write(tmp_path, text, name="a.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def test_csv_import_then_reimport_adds_nothing(tmp_path, store):
    p = _write(tmp_path, HEADER + 'Say hi,m1,m2,hi,"hello, you",A,ann\nSay hi,m1,m2,hi,"hello, you",tie,bob\n'
               "Count,m1,m2,1 2,1 2 3,B,ann\n")
    info = import_annotations(store, p)
    assert (info["new_judgments"], info["new_outputs"], info["rows"]) == (3, 4, 3)
    summary = judge_summary(store, info["judge_id"])
    assert summary["outcomes"] == {"A": 0, "B": 1, "tie": 1, "invalid": 0}  # ann A vs bob tie -> tie
    assert import_annotations(store, p)["new_judgments"] == 0


def test_jsonl_per_order_verdicts(tmp_path, store):
    rows = [{"prompt": "q", "system_a": "x", "system_b": "y", "text_a": "1", "text_b": "2", "verdict_ab": "A",
             "verdict_ba": "B", "annotator": "llm"}]
    p = _write(tmp_path, "\n".join(json.dumps(r) for r in rows), "a.jsonl")
    info = import_annotations(store, p, kind="llm", judge="j")
    (row,) = store.judgments_with_texts(info["judge_id"])
    assert (row["verdict"], row["verdict_ab"], row["verdict_ba"]) == ("tie", "A", "B")


@pytest.mark.parametrize(("content", "name", "match"), [
    (b"", "a.csv", "file is empty"),
    (HEADER.encode(), "a.csv", "no rows under the header"),
    ((HEADER + "q,m1,m2,a,b,A,ann\n").encode("utf-16"), "a.csv", "line 1.*not UTF-8"),
    (HEADER + "q,m1,m2,a,b,C,ann\n", "a.csv", "line 2, field 'verdict': bad label 'C'"),
    (HEADER + "q,m1,m2,a,b,,ann\n", "a.csv", "line 2, field 'verdict': missing"),
    (HEADER + "q,m1,m2,a,b,A,\n", "a.csv", "line 2, field 'annotator': missing"),
    (HEADER + "q,m1,m2,a,b,A,ann\nq,m2,m1,b,a,B,ann\n", "a.csv", "line 3, field 'annotator': duplicate: line 2"),
    (HEADER + "q,m1,m1,a,a,A,ann\n", "a.csv", "line 2, field 'system_b': both sides are the same output"),
    (HEADER + "q,m1,m2,a,b,A,ann,extra\n", "a.csv", "line 2: 1 more values"),
    (HEADER + ",m1,m2,a,b,A,ann\n", "a.csv", "line 2, field 'prompt': give exactly one"),
    ("prompt_id,system_a,system_b,text_a,text_b,verdict,annotator\nnope,m1,m2,a,b,A,ann\n", "a.csv",
     "line 2, field 'prompt_id': unknown prompt id 'nope'"),
    ("prompt,system_a,system_b,verdict,annotator\nq,m1,m2,A,ann\n", "a.csv",
     "line 2, field 'system_a': unknown system 'm1'"),
    ('{"prompt": "q", "system_a": "m1", "system_b": "m2", "text_a": 3, "text_b": "b", "verdict": "A", '
     '"annotator": "x"}\n', "a.jsonl", "line 1, field 'text_a': expected a string, got int"),
    ('{"prompt": "q"\n', "a.jsonl", "line 1: invalid JSON"),
    ("q,m1", "a.txt", "expected a .csv or .jsonl file"),
])
def test_bad_files_name_the_row_and_write_nothing(tmp_path, store, content, name, match):
    good = _write(tmp_path, HEADER + "first,m1,m2,a,b,A,ann\n", "good.csv")
    import_annotations(store, good)
    before = store.counts()
    with pytest.raises(InputError, match=match) as e:
        import_annotations(store, _write(tmp_path, content, name))
    assert name in str(e.value)
    assert store.counts() == before


def test_a_row_contradicting_the_database_is_refused(tmp_path, store):
    import_annotations(store, _write(tmp_path, HEADER + "q,m1,m2,a,b,A,ann\n"))
    before = store.counts()
    with pytest.raises(InputError, match="line 3, field 'verdict': contradicts the stored judgment"):
        import_annotations(store, _write(tmp_path, HEADER + "r,m1,m2,a,b,B,ann\nq,m1,m2,a,b,B,ann\n", "b.csv"))
    assert store.counts() == before


def test_systems_named_by_a_run(tmp_path, store):
    """Humans judging a run's outputs name the methods; their stored sample 0 is the output."""
    prompt_id = content_key("prompt", "Say hi")
    store.add_prompts([(prompt_id, "Say hi")])
    for pid in ("P_sft", "P_dpo", "P_ref"):
        store.put_policy({"id": pid, "method": pid, "kind": "trained", "params_json": "{}", "info_json": "{}"})
    store.put_generations([{"id": f"g_{p}", "policy_id": p, "prompt_id": prompt_id, "sampling_key": key,
                            "sample_index": 0, "text": p, "n_tokens": 1, "logprob": None, "finish_reason": "stop"}
                           for p, key in (("P_sft", "K"), ("P_dpo", "K"), ("P_ref", "reference"))])
    store.begin_run("R1", "tldr", {}, {})
    store.set_plan("R1", {"sampling_key": "K", "reference_policy": "P_ref",
                          "methods": [{"method": "sft", "policy_id": "P_sft"}, {"method": "dpo", "policy_id": "P_dpo"}]})
    p = _write(tmp_path, "prompt_id,system_a,system_b,verdict,annotator\n"
                         f"{prompt_id},dpo,sft,A,h\n{prompt_id},dpo,reference,B,h\n")
    info = import_annotations(store, p, run_id="R1")
    rows = {(r["gen_a"], r["gen_b"]): r["verdict"] for r in store.judgments_with_texts(info["judge_id"])}
    assert rows == {("g_P_dpo", "g_P_sft"): "A", ("g_P_dpo", "g_P_ref"): "B"}
    bad = _write(tmp_path, f"prompt_id,system_a,system_b,verdict,annotator\n{prompt_id},ppo,sft,A,h\n", "c.csv")
    with pytest.raises(InputError, match="line 2, field 'system_a': unknown system 'ppo'.*dpo, reference, sft"):
        import_annotations(store, bad, run_id="R1")

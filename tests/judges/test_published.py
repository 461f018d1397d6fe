"""bench reproduces published judge figures from the shared data exactly."""

import json
import re

import pytest

from bench.cli import main
from judges import compare_judges, import_annotations, judge_summary

LLMBAR = "judge-eval/llmbar/Dataset"


def _fraction(text):
    k, n = re.match(r"(\d+) / (\d+) =", text).groups()
    return int(k), int(n)


def _llmbar_results(data_dir):
    return sorted((data_dir / LLMBAR).rglob("result.json"))


def test_every_llmbar_gpt4_result_reproduces_its_statistics(data_dir, store):
    results = _llmbar_results(data_dir)
    assert len(results) == 15
    for path in results:
        name = str(path.relative_to(data_dir / LLMBAR).parent)
        dataset = path.parents[3] / "dataset.json"
        import_annotations(store, dataset, fmt="llmbar", judge=f"gold:{name}")
        import_annotations(store, path, fmt="llmbar-result", judge=name, kind="llm", annotator="gpt-4")
        published = json.loads((path.parent / "statistics.json").read_text())
        rows = {r["statistic"]: r for r in compare_judges(store, name, f"gold:{name}", n_boot=50)
                if r["judge"] in (name, "both")}
        for ours, theirs in (("agreement_first_order", "correct_False"), ("agreement_second_order", "correct_True"),
                             ("agreement_both_orders", "correct_both"), ("order_consistency", "equal")):
            assert (rows[ours]["k"], rows[ours]["n"]) == _fraction(published[theirs]), (name, ours)
        average = float(published["correct_average"].rstrip("%"))
        assert 100 * rows["agreement_order_average"]["value"] == pytest.approx(average, abs=1e-9), name
        assert rows["order_kappa"]["value"] == pytest.approx(published["kappa_agreement"], abs=1e-9), name


def test_pandalm_majority_and_annotator_agreement(data_dir, store):
    info = import_annotations(store, data_dir / "judge-eval/pandalm/testset-v1.json", fmt="pandalm",
                              judge="pandalm")
    assert info["new_judgments"] == 3 * 999
    summary = judge_summary(store, info["judge_id"])
    # PandaLM's README: 105 ties (0), 422 for response 1, 472 for response 2.
    assert summary["outcomes"] == {"A": 422, "B": 472, "tie": 105, "invalid": 0}
    # and its inter-annotator Cohen's kappa table: 0.85, 0.88, 0.86
    for (a, b), published in ({("1", "2"): 0.85, ("1", "3"): 0.88, ("2", "3"): 0.86}).items():
        rows = compare_judges(store, f"pandalm@annotator{a}", f"pandalm@annotator{b}", n_boot=50)
        kappa = next(r for r in rows if r["statistic"] == "cohen_kappa")
        assert round(kappa["value"], 2) == published


def test_tldr_ppo_vs_reference_gpt4_import(data_dir, tmp_path, capsys):
    db = str(tmp_path / "b.db")
    path = str(data_dir / "tldr/ppo1b_vs_reference_gpt4.csv")
    args = ["import-annotations", path, "--db", db, "--format", "tldr-gpt4", "--judge", "gpt-4", "--kind", "llm"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "945 without a verdict skipped" in out
    assert "ppo-1.3b vs reference: win rate 64.0%" in out and "n=1000 (W640 L360 T0 invalid 0)" in out
    assert main(args) == 0  # a second import adds nothing
    assert "0 new judgments, 0 new outputs" in capsys.readouterr().out

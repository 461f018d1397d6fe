import json
import subprocess
import sys

import pytest

from bench.cli import main


def test_cli_imports_no_heavy_library():
    code = ("import sys, bench.cli, bench.spec, bench.config, bench.stats, bench.results, methods, judges; "
            "heavy = [m for m in ('torch', 'transformers', 'vllm') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_and_list(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "methods: bon, dpo, dpo-rw, exo, exo-rw, external, ipo, mpo, ppo, sail, sft, slic" in out and "tasks: exact, hh, imdb, tldr" in out


def test_unknown_method_exits_non_zero_with_suggestion(capsys, tmp_path):
    assert main(["run", "--task", "tldr", "--methods", "exo,dpoo", "--db", str(tmp_path / "x.db")]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'dpoo'. Did you mean 'dpo'?" in err and "Registered methods: bon, dpo, dpo-rw, exo, exo-rw, external, ipo, mpo, ppo, sail, sft, slic" in err
    assert not (tmp_path / "x.db").exists()  # nothing written


def test_missing_data_dir_is_a_clear_error(capsys, tmp_path):
    code = main(["run", "--task", "tldr", "--methods", "exo", "--db", str(tmp_path / "x.db"),
                 "--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "TL;DR data not found" in err and str(tmp_path / "missing") in err and "BENCH_DATA_DIR" in err


def test_results_without_runs(capsys, tmp_path):
    assert main(["results", "--db", str(tmp_path / "empty.db")]) == 2
    assert "no runs" in capsys.readouterr().err


def test_rates_without_judged_pairs_export_as_null_not_nan(capsys):
    from bench._cli_judges import emit_rows

    rows = [{"method": "sft", "win_rate": float("nan"), "n_total": 0, "extra": {"ci": [float("nan"), 0.5]}},
            {"method": "dpo", "win_rate": 0.5, "n_total": 8, "extra": {}}]
    assert emit_rows(rows, "json")
    parsed = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert parsed[0]["win_rate"] is None and parsed[0]["extra"]["ci"] == [None, 0.5] and parsed[1]["win_rate"] == 0.5
    assert emit_rows(rows, "csv")
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("sft,,0,") and "nan" not in lines[1].lower()

import subprocess
import sys

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
    assert "methods: bon, dpo, dpo-rw, exo, exo-rw, external, ipo, mpo, ppo, sail, sft, slic" in out and "tasks: exact, imdb, tldr" in out


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

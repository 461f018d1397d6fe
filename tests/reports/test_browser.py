"""The run report and the leaderboard in a real headless Chromium, from file://: no console messages, no
network request, and generated text containing <script> shown as text without running."""

import html
import os
from pathlib import Path

from browser import load
from conftest import SCRIPT

from judges import import_annotations
from reports import write_leaderboard


def _run(tiny_models, mini_data, store, tmp_path):
    from bench.runner import Runner
    from bench.spec import build_spec, flags_layer

    spec = build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
        "eval.prompts=3", "eval.samples=2", "eval.max_new_tokens=6", "engine.kind=hf", "train.pairs=8",
        "train.batch_size=4"], task="tldr", methods="exo,dpo", preset="smoke", model=str(tiny_models["policy"]))])
    runner = Runner(spec, store, tmp_path / "out", mini_data)
    runner.run()
    return runner.report_path


def test_report_and_leaderboard_in_chromium(tiny_models, mini_data, store, tmp_path):
    report = _run(tiny_models, mini_data, store, tmp_path)
    hostile = tmp_path / "hostile.csv"
    hostile.write_text("prompt,system_a,system_b,text_a,text_b,verdict,annotator\n"
                       f"q,\"{SCRIPT}\",sft-like,\"{SCRIPT}\",b,A,h\nr,\"{SCRIPT}\",sft-like,x,y,B,h\n")
    import_annotations(store, hostile, judge="humans")
    board = write_leaderboard(store, tmp_path / "lb", n_boot=50)["html"]
    shots = os.environ.get("BENCH_SCREENSHOTS")  # set it to a folder to keep screenshots
    for name, page in (("report", report), ("leaderboard", board)):
        shot = Path(shots or tmp_path) / f"{name}.png"
        result = load(page, tmp_path / f"chromium-{name}", screenshot=shot)
        assert result.console == [], f"{name}: console messages {result.console}"
        assert result.page_requests == [], f"{name}: network requests {result.page_requests}"
        assert "pwned" not in result.dom.split("</title>")[0]  # the script did not run
        assert html.escape(SCRIPT, quote=False) in result.dom  # it is shown as text
        assert shot.stat().st_size > 10_000

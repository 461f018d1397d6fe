"""The exact task's reward-KL frontier (the EXO paper's Figure 2): exact E_pi[r] against KL(pi || pi_sft),
one path per trained method through its checkpoints, read back from the rendered report's SVG."""

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict

import numpy as np
import pytest

from reports._svg import line_chart, mean_path

SVG = "{http://www.w3.org/2000/svg}"


def test_mean_path_pairs_means_by_step_on_hand_values():
    runs = [[{"step": 0, "kl": 0.0, "r": 1.0}, {"step": 10, "kl": 0.2, "r": 2.0}, {"step": 20, "loss": 1.0}],
            [{"step": 0, "kl": 0.0, "r": 1.0}, {"step": 10, "kl": 0.4, "r": 3.0}]]
    # step 20 has no (kl, r) pair: left out; step 10 averages both seeds in each coordinate
    assert mean_path(runs, "kl", "r") == [(0.0, 1.0), (pytest.approx(0.3), 2.5)]
    assert mean_path([], "kl", "r") == []


def test_line_chart_markers_carry_exact_values_and_escaped_names():
    chart = str(line_chart({"<b>a&b</b>": [(0.0, 1.0), (0.1 + 0.2, 1 / 3)], "ref": [(2.0, -1.0)]},
                           title="t <x>", x_label="x", y_label="y", markers=True))
    assert "<b>" not in chart and "&lt;b&gt;a&amp;b&lt;/b&gt;" in chart
    series = _series(ET.fromstring(chart))
    assert series == {"<b>a&b</b>": [(0.0, 1.0), (0.1 + 0.2, 1 / 3)], "ref": [(2.0, -1.0)]}  # repr round-trips


def _series(svg: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """Each series' points, from the ``data-x``/``data-y`` of its markers."""
    return {g.get("data-name"): [(float(c.get("data-x")), float(c.get("data-y"))) for c in g.iter(f"{SVG}circle")]
            for g in svg.iter(f"{SVG}g") if g.get("class") == "series"}


def _frontier_svg(html: str, cls: str) -> ET.Element:
    found = re.findall(r'<svg[^>]*aria-label="E_pi\[r\] vs KL\(pi \|\| pi_sft\) \(' + cls + r',.*?</svg>', html, re.S)
    assert len(found) == 1, f"expected one frontier chart for {cls}, found {len(found)}"
    return ET.fromstring(found[0])


def _chained_records(store, pid: str) -> list[dict]:
    """Training records of a policy and of the online rounds it started from, read straight from the store."""
    records = []
    while pid is not None:
        records = store.train_steps(pid) + records
        pid = json.loads(store.policy(pid)["info_json"]).get("based_on")
    return records


def _expected_path(store, pids: list[str]) -> list[tuple[float, float]]:
    by_step = defaultdict(list)
    for pid in pids:
        for r in _chained_records(store, pid):
            by_step[r["step"]].append((r["kl_sft"], r["reward"]))
    return [(sum(k for k, _ in v) / len(v), sum(r for _, r in v) / len(v)) for _, v in sorted(by_step.items())]


def test_exact_report_draws_reward_against_kl_per_class(store, tmp_path):
    pytest.importorskip("torch")
    from bench.results import run_results
    from bench.runner import Runner
    from bench.spec import build_spec, flags_layer

    spec = build_spec([flags_layer(["exact.seeds=2", "exact.steps=20", "exact.batch_size=32", "exact.record_every=10",
                                    "sail.rounds=2"], task="exact", methods="exo,dpo,bon,sail")])
    runner = Runner(spec, store, tmp_path / "out", None)
    run_id = runner.run()
    html = runner.report_path.read_text()
    plan = json.loads(store.run(run_id)["plan_json"])
    table = {(r["method"], r["class"], r["metric"]): r["mean"] for r in run_results(store, run_id)}
    trained = {"exo", "dpo", "sail"}
    for cls in ("tabular", "factorized"):
        series = _series(_frontier_svg(html, cls))
        assert trained <= series.keys()
        for method in trained:
            pids = [e["policy_id"] for e in plan["entries"] if (e["method"], e["class"]) == (method, cls)]
            assert len(pids) == 2
            expected = _expected_path(store, pids)
            for r in _chained_records(store, pids[0]):  # "reward" is E_pi[r]: J = E_pi[r] - beta KL(pi || pi_sft)
                assert r["objective"] == pytest.approx(r["reward"] - plan["beta"] * r["kl_sft"], abs=1e-12)
            np.testing.assert_allclose(series[method], expected, rtol=0, atol=1e-12)
            # starts at pi_sft (its parameterisation reproduces pi_sft up to rounding), ends at the final
            # policy of the results table (mean over seeds)
            np.testing.assert_allclose(series[method][0], (0.0, table["sft", cls, "reward"]), rtol=0, atol=1e-12)
            np.testing.assert_allclose(series[method][-1], (table[method, cls, "kl_sft"], table[method, cls, "reward"]),
                                       rtol=0, atol=1e-12)
            assert series[method][-1][0] > 0  # 20 steps move every trained policy away from pi_sft
        # sail's two online rounds chain: steps 0, 10, 20 of round 1, then 20 (again), 30, 40 of round 2
        assert len(series["sail"]) == 5
        assert series["sft (pi_sft)"] == [(0.0, table["sft", cls, "reward"])]
        assert series["bon (N=4)"] == [(table["bon", cls, "kl_sft"], table["bon", cls, "reward"])]
        assert series["bon (N=4)"][0][1] > series["sft (pi_sft)"][0][1]
        assert series["pi* (optimum)"] == [(plan["star"]["kl_sft"], plan["star"]["reward"])]
        projections = {"argmin KL(pi||pi*)": "reverse", "argmin KL(pi*||pi)": "forward"}
        if cls == "tabular":  # pi* itself is in the class: no projection drawn
            assert not projections.keys() & series.keys()
        else:
            for label, key in projections.items():
                proj = plan["projections"][cls][key]
                assert series[label] == [(proj["kl_sft"], proj["reward"])]
        assert set(series) == trained | {"sft (pi_sft)", "bon (N=4)", "pi* (optimum)"} | (
            set(projections) if cls == "factorized" else set())

"""The imdb pipeline on tiny models: oracle-labelled pairs, checkpoints, the frontier stage and its report."""

import json
import math

import pytest
from test_imdb import write_mini_imdb

from bench.frontier import best_of_n_expectation, best_of_n_kl, mean_se
from bench.generation import make_engine
from bench.runner import Runner
from bench.spec import build_spec, flags_layer


def test_best_of_n_estimate_on_hand_values():
    selector, reward = [0.1, 0.3, 0.2], [1.0, 5.0, 3.0]  # ranked by selector: rewards 1, 3, 5
    assert best_of_n_expectation(selector, reward, 1) == pytest.approx(3.0)  # the pool mean
    # best of 2 of 3: pairs {1,3}->3, {1,5}->5, {3,5}->5: mean 13/3
    assert best_of_n_expectation(selector, reward, 2) == pytest.approx(13 / 3)
    assert best_of_n_expectation(selector, reward, 3) == pytest.approx(5.0)
    assert best_of_n_kl(1) == 0 and best_of_n_kl(4) == pytest.approx(math.log(4) - 0.75)
    m, se = mean_se([[1.0, 3.0], [4.0], [6.0, 8.0, 10.0]])  # prompt means 2, 4, 8
    assert m == pytest.approx(14 / 3) and se == pytest.approx(math.sqrt(28 / 3 / 3))


class Engines:
    def __init__(self):
        self.calls = 0

    def __call__(self, path):
        self.calls += 1
        return make_engine("hf", path)


def test_imdb_run_frontier_and_rerun(tiny_models, data_dir, store, tmp_path):
    data = write_mini_imdb(tmp_path / "data", data_dir)
    spec = build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=8", "reward_model.val_pairs=4",
        f"frontier.oracle_backbone={tiny_models['encoder']}", "frontier.oracle_max_tokens=32",
        "frontier.prompts=3", "frontier.samples=2", "frontier.pool=4", "frontier.bon_n=1,2,4",
        "eval.prompts=2", "eval.samples=2", "eval.max_new_tokens=6", "bon.n=2", "engine.kind=hf",
        "train.pairs=8", "train.batch_size=4", "train.checkpoints=1",
    ], task="imdb", methods="dpo,exo,bon", preset="smoke", model=str(tiny_models["policy"]))])
    engines = Engines()
    runner = Runner(spec, store, tmp_path / "out", data, engine_factory=engines)
    run_id = runner.run()
    plan = json.loads(store.run(run_id)["plan_json"])
    pairs = plan["task_pairs"]
    assert pairs["train"]["prefixes"] == 8 and pairs["train"]["pairs"] + pairs["train"]["ties_dropped"] == 8
    dpo = next(p for p in store.run_policies(run_id) if p["method"] == "dpo")
    ckpts = json.loads(dpo["info_json"])["checkpoints"]
    assert [c["step"] for c in ckpts] == [1, 2] and ckpts[-1]["path"] == dpo["path"]
    assert all((tmp_path / "out" / "artifacts" / "policies").glob(f"{dpo['id']}-step1/config.json"))

    from reports._frontier import frontier_view

    view = frontier_view(store, plan)
    points = {(p["method"], p["label"]): p for p in view["points"]}
    assert set(points) == {("sft", "SFT"), ("bon", "N=1"), ("bon", "N=2"), ("bon", "N=4"),
                           ("dpo", "step 1"), ("dpo", "step 2"), ("exo", "step 1"), ("exo", "step 2")}
    assert points[("sft", "SFT")]["kl"] == 0 and points[("sft", "SFT")]["n"] == 3 * 4
    assert points[("bon", "N=1")]["reward"] == pytest.approx(points[("sft", "SFT")]["reward"])
    assert points[("bon", "N=4")]["kl"] == pytest.approx(math.log(4) - 0.75)
    for key in (("dpo", "step 1"), ("dpo", "step 2"), ("exo", "step 1"), ("exo", "step 2")):
        p = points[key]
        assert p["n"] == 3 * 2 and p["reward_se"] is not None and p["kl_se"] is not None
        assert math.isfinite(p["kl"]) and math.isfinite(p["reward"])
    # paired over the same 3 prompts: the mean of per-prompt differences is the difference of the points
    assert [(c["a"], c["b"], c["step_a"], c["step_b"], c["n_prompts"]) for c in view["paired"]] == [
        ("dpo", "exo", 1, 1, 3), ("dpo", "exo", 2, 2, 3)]
    for c in view["paired"]:
        first, second = points[("dpo", f"step {c['step_a']}")], points[("exo", f"step {c['step_b']}")]
        assert c["reward"].mean == pytest.approx(first["reward"] - second["reward"])
        assert c["kl"].mean == pytest.approx(first["kl"] - second["kl"])
    html = runner.report_path.read_text()
    assert "Reward–KL frontier" in html and "held-out accuracy" in html and "oracle reward vs KL" in html
    assert "Methods compared at the same checkpoint" in html
    assert "<script" not in html.replace(html[html.find("<script"):html.find("</script>") + 9], "", 1)
    # headless Chromium from file://: the frontier's SVG keeps the page self-contained
    from browser import load

    page = load(runner.report_path, tmp_path / "chromium", screenshot=tmp_path / "frontier.png")
    assert page.console == [] and page.page_requests == [] and "oracle reward vs KL" in page.dom

    counts, calls = store.counts(), engines.calls
    again = Runner(spec, store, tmp_path / "out", data, engine_factory=engines)
    assert again.run() == run_id
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 1}  # nothing recomputed
    assert engines.calls == calls


def test_ppo_joins_the_imdb_frontier_at_its_rounds(tiny_models, data_dir, store, tmp_path):
    """PPO's checkpoints (rounds) are frontier points like DPO's steps, paired with DPO at the same share of
    the training budget."""
    data = write_mini_imdb(tmp_path / "data", data_dir)
    spec = build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=8", "reward_model.val_pairs=4",
        f"frontier.oracle_backbone={tiny_models['encoder']}", "frontier.oracle_max_tokens=32",
        "frontier.prompts=3", "frontier.samples=2", "frontier.pool=2", "frontier.bon_n=1",
        "eval.prompts=2", "eval.samples=1", "eval.max_new_tokens=6", "engine.kind=hf",
        "train.pairs=8", "train.batch_size=4", "train.checkpoints=1", "ppo.rollout_batch=4",
    ], task="imdb", methods="ppo,dpo", preset="smoke", model=str(tiny_models["policy"]))])
    runner = Runner(spec, store, tmp_path / "out", data, engine_factory=Engines())
    plan = json.loads(store.run(runner.run())["plan_json"])
    from reports._frontier import frontier_view

    view = frontier_view(store, plan)
    points = {(p["method"], p["label"]) for p in view["points"]}
    assert {("ppo", "step 1"), ("ppo", "step 2"), ("dpo", "step 1"), ("dpo", "step 2")} <= points
    assert {(c["a"], c["b"], c["step_a"], c["step_b"]) for c in view["paired"]} == {("ppo", "dpo", 1, 1),
                                                                                     ("ppo", "dpo", 2, 2)}
    assert "oracle reward vs KL" in runner.report_path.read_text()

"""Training seeds (``train.seeds``): one policy per seed on the same data, and the tables over seeds."""

import json

import pytest
from test_frontier import Engines
from test_imdb import write_mini_imdb

from bench._seeds import contrasts_over_seeds, frontier_over_seeds, replicas, win_rates_over_seeds
from bench.errors import InputError
from bench.runner import Runner
from bench.spec import build_spec, flags_layer
from bench.stats import mean_ci


def test_seeds_are_validated_and_stored_only_when_set():
    one = build_spec([flags_layer([], task="tldr", methods="dpo")])
    three = build_spec([flags_layer(["train.seeds=3"], task="tldr", methods="dpo")])
    assert "seeds" not in one.to_dict()["train"] and three.to_dict()["train"]["seeds"] == 3
    assert one.train.identity() == three.train.identity()  # how many seeds run does not shape a policy
    with pytest.raises(InputError) as e:
        build_spec([flags_layer(["train.seeds=0"], task="tldr", methods="dpo")])
    assert e.value.field == "train.seeds"
    with pytest.raises(InputError) as e:
        build_spec([flags_layer(["train.seeds=2"], task="exact", methods="dpo")])
    assert e.value.field == "train.seeds" and "exact.seeds" in str(e.value)


PLAN = {"methods": [{"method": "sft", "policy_id": "s", "setting": "baseline"},
                    {"method": "dpo", "replica_of": "dpo", "train_seed": 0},
                    {"method": "dpo@1", "replica_of": "dpo", "train_seed": 1},
                    {"method": "dpo@2", "replica_of": "dpo", "train_seed": 2},
                    {"method": "exo", "replica_of": "exo", "train_seed": 0},
                    {"method": "exo@1", "replica_of": "exo", "train_seed": 1},
                    {"method": "exo@2", "replica_of": "exo", "train_seed": 2}]}


def _row(method, win_rate, n_total=10):
    return {"method": method, "judge": "reward_model", "opponent": "sft", "win_rate": win_rate, "n_total": n_total}


def test_win_rates_and_contrasts_over_seeds_on_hand_values():
    rows = [_row("sft", 0.5), _row("dpo", 0.5), _row("dpo@1", 0.6), _row("dpo@2", 0.7),
            _row("exo", 0.4), _row("exo@1", 0.7), _row("exo@2", 0.0, n_total=0)]  # exo@2: nothing valid
    assert replicas(PLAN) == {"dpo": {0: "dpo", 1: "dpo@1", 2: "dpo@2"}, "exo": {0: "exo", 1: "exo@1", 2: "exo@2"}}
    dpo, exo = win_rates_over_seeds(rows, PLAN)
    # mean 0.6, sd 0.1, se 0.1/sqrt(3), t(2) = 4.303
    assert dpo["mean"] == pytest.approx(0.6) and dpo["n_seeds"] == 3 and dpo["missing"] == []
    assert dpo["ci_high"] - dpo["mean"] == pytest.approx(4.303 * 0.1 / 3 ** 0.5)
    assert exo["per_seed"] == {0: 0.4, 1: 0.7} and exo["missing"] == [2] and exo["n_seeds"] == 2
    (c,) = contrasts_over_seeds(rows, PLAN)  # dpo - exo on seeds 0 and 1 (seed 2 has no exo result)
    assert (c["a"], c["b"]) == ("dpo", "exo") and c["per_seed"] == pytest.approx({0: 0.1, 1: -0.1})
    assert c["mean"] == pytest.approx(0.0) and c["ci_low"] == pytest.approx(mean_ci([0.1, -0.1]).ci_low)


def test_frontier_over_seeds_on_hand_values():
    points = [{"method": m, "kind": "trained", "reward": r, "kl": k}
              for m, r, k in [("dpo", 1.0, 0.5), ("dpo@1", 2.0, 1.0), ("dpo@2", 3.0, 1.5),
                              ("exo", 1.5, 0.5), ("exo@1", 2.0, 2.0), ("exo@2", 4.0, 1.5)]]
    points.append({"method": "bon", "kind": "bon", "reward": 9.0, "kl": 1.0})
    rows = {r["method"]: r for r in frontier_over_seeds(points, PLAN)}
    assert rows["dpo"]["reward"]["mean"] == pytest.approx(2.0) and rows["dpo"]["kl"]["mean"] == pytest.approx(1.0)
    diff = rows["dpo − exo"]
    assert diff["difference"] and diff["reward"]["per_seed"] == pytest.approx({0: -0.5, 1: 0.0, 2: -1.0})
    assert diff["kl"]["mean"] == pytest.approx(-1 / 3) and diff["kl"]["n_seeds"] == 3


def _imdb_spec(tiny_models, methods, *extra):
    sets = [f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=8", "reward_model.val_pairs=4",
            f"frontier.oracle_backbone={tiny_models['encoder']}", "frontier.oracle_max_tokens=32",
            "frontier.prompts=3", "frontier.samples=2", "frontier.pool=4", "frontier.bon_n=1,2",
            "eval.prompts=2", "eval.samples=2", "eval.max_new_tokens=6", "engine.kind=hf",
            "train.pairs=8", "train.batch_size=4", "train.checkpoints=1"]
    return build_spec([flags_layer([*sets, *extra], task="imdb", methods=methods, preset="smoke",
                                   model=str(tiny_models["policy"]))])


def test_imdb_run_with_two_training_seeds(tiny_models, data_dir, store, tmp_path, capsys):
    data = write_mini_imdb(tmp_path / "data", data_dir)

    def spec(*extra):
        return _imdb_spec(tiny_models, "dpo,exo,bon", "bon.n=2", *extra)

    single = Runner(spec(), store, tmp_path / "out", data, engine_factory=Engines())
    single_run = single.run()
    single_plan = json.loads(store.run(single_run)["plan_json"])
    before = store.counts()
    runner = Runner(spec("train.seeds=2"), store, tmp_path / "out", data, engine_factory=Engines())
    run_id = runner.run()
    plan = json.loads(store.run(run_id)["plan_json"])
    entries = {m["method"]: m for m in plan["methods"]}
    assert list(entries) == ["sft", "dpo", "dpo@1", "exo", "exo@1", "bon"]  # SFT and Best-of-N train nothing
    assert "replica_of" not in entries["bon"] and entries["exo@1"]["train_seed"] == 1
    first = {m["method"]: m["policy_id"] for m in single_plan["methods"]}
    # seed 0 is the single-seed run's policy (same identity, not trained again); seed 1 is a new one
    assert entries["dpo"]["policy_id"] == first["dpo"] and entries["exo"]["policy_id"] == first["exo"]
    assert entries["dpo@1"]["policy_id"] not in first.values()
    # new rows: the two seed-1 policies and their step-1 checkpoints, nothing for seed 0
    assert store.counts()["policies"] - before["policies"] == 4
    # the frontier pairs methods of the same seed only; the seeds table pairs them seed by seed
    from reports._frontier import frontier_view

    view = frontier_view(store, plan)
    assert {(c["a"], c["b"]) for c in view["paired"]} == {("dpo", "exo"), ("dpo@1", "exo@1")}
    html = runner.report_path.read_text()
    assert "Over training seeds" in html and "Reward–KL frontier over seeds" in html and "dpo − exo" in html

    # the same tables for scripts: `bench results --over-seeds`
    from bench.cli import main

    capsys.readouterr()
    args = ["results", "--db", str(tmp_path / "bench.db"), "--over-seeds"]
    assert main([*args, "--run", run_id, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    kinds = {(r["kind"], r["method"], r["metric"]) for r in rows}
    assert ("win_rate", "dpo", "win_rate") in kinds and ("win_rate_difference", "dpo − exo", "win_rate") in kinds
    assert ("frontier_difference", "dpo − exo", "kl") in kinds
    win = next(r for r in rows if r["method"] == "exo" and r["opponent"] == "sft" and r["kind"] == "win_rate")
    assert win["n_seeds"] == 2 and win["mean"] == pytest.approx(sum(win["per_seed"].values()) / 2)
    assert main([*args, "--run", single_run]) != 0 and "one seed" in capsys.readouterr().err

    # the leaderboard pools a method's seeds into one system; --per-seed lists each seed's policy
    from reports import leaderboards

    (board,) = [b for b in leaderboards(store, n_boot=50) if b["judge"] == "reward_model"]
    by = {e["system"]: e for e in board["entries"]}
    assert {"dpo · 2 seeds", "exo · 2 seeds", "sft"} <= set(by) and board["pooled_seeds"]
    assert sorted(by["dpo · 2 seeds"]["policy_ids"]) == sorted([entries["dpo"]["policy_id"],
                                                                entries["dpo@1"]["policy_id"]])
    wr = by["dpo · 2 seeds"]["vs_baseline"]
    capsys.readouterr()
    assert main(["results", "--db", str(tmp_path / "bench.db"), "--run", run_id, "--format", "json"]) == 0
    per_seed = [r for r in json.loads(capsys.readouterr().out)
                if r["judge"] == "reward_model" and r["opponent"] == "sft" and r["method"] in ("dpo", "dpo@1")]
    assert len(per_seed) == 2
    assert wr["n_total"] == sum(r["n_total"] for r in per_seed)
    assert main(["leaderboard", "--db", str(tmp_path / "bench.db"), "--per-seed", "--n-boot", "20",
                 "--out", str(tmp_path / "lb")]) == 0
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "2 seeds" not in md and md.count("| dpo (") == 2


def test_each_training_seed_draws_its_own_reward_model_setting_samples(tiny_models, data_dir, store, tmp_path):
    from methods._reward_setting import TRAIN_OFFSET

    data = write_mini_imdb(tmp_path / "data", data_dir)
    extra = ("exo-rw.prompts=3", "exo-rw.k=2", "frontier.prompts=1", "frontier.bon_n=1")
    single = Runner(_imdb_spec(tiny_models, "exo-rw", *extra), store, tmp_path / "out", data,
                    engine_factory=Engines())
    first = {m["method"]: m["policy_id"] for m in json.loads(store.run(single.run())["plan_json"])["methods"]}
    runner = Runner(_imdb_spec(tiny_models, "exo-rw", *extra, "train.seeds=2"), store, tmp_path / "out", data,
                    engine_factory=Engines())
    plan = json.loads(store.run(runner.run())["plan_json"])
    ids = {m["method"]: m["policy_id"] for m in plan["methods"]}
    assert ids["exo-rw"] == first["exo-rw"] and ids["exo-rw@1"] != ids["exo-rw"]
    # the SFT policy's training samples: seed 0 drew indices 0-1 past the offset, seed 1 its own 2-3
    rows = store.engine.connect().exec_driver_sql(
        "SELECT prompt_id, sample_index FROM generations WHERE policy_id = ? AND sample_index BETWEEN ? AND ?",
        (ids["sft"], TRAIN_OFFSET, TRAIN_OFFSET + 99)).fetchall()  # (imdb's labelled pairs sit further on)
    per_prompt: dict[str, list[int]] = {}
    for prompt_id, index in rows:
        per_prompt.setdefault(prompt_id, []).append(index - TRAIN_OFFSET)
    assert len(per_prompt) == 3 and all(sorted(v) == [0, 1, 2, 3] for v in per_prompt.values())

"""Online iterative training (methods.iterative) on both contexts, SLiC-HF and MPO in a real run."""

import json

import numpy as np
import pytest

from bench.errors import InputError
from bench.generation import make_engine
from bench.runner import Runner
from bench.spec import build_spec, flags_layer
from methods import METHODS
from methods.iterative import preference_labels

TASK = type("Task", (), {"default_beta": 0.5})


def test_rounds_are_a_key_of_every_pairwise_method_and_stored_only_when_given():
    assert METHODS.get("exo").resolve_params({}, TASK, "exo.") == {"beta_pi": 0.5, "eps": 1e-3}
    online = METHODS.get("exo").resolve_params({"rounds": "3", "label": "self"}, TASK, "exo.")
    assert online == {"beta_pi": 0.5, "eps": 1e-3, "rounds": 3, "label": "self", "k": 2}
    method = METHODS.get("exo").from_params(online)
    assert (method.online.rounds, method.online.label) == (3, "self") and method.params.beta_pi == 0.5
    assert METHODS.get("sail").from_params(METHODS.get("sail").resolve_params({}, TASK, "sail.")).online.rounds == 3
    with pytest.raises(InputError, match="reward, self or both"):
        METHODS.get("dpo").resolve_params({"label": "oracle"}, TASK, "dpo.")
    with pytest.raises(InputError, match="unknown setting"):  # the reward-model setting is not online
        METHODS.get("exo-rw").resolve_params({"rounds": 2}, TASK, "exo-rw.")


def test_preference_labels_follow_bradley_terry():
    rng = np.random.default_rng(0)
    chosen, rejected = preference_labels(np.array([[50.0, 0.0], [0.0, 50.0]]), rng)
    assert chosen.tolist() == [0, 1] and rejected.tolist() == [1, 0]
    scores = np.tile([np.log(3.0), 0.0], (20000, 1))  # P(first preferred) = sigmoid(log 3) = 0.75
    chosen, _ = preference_labels(scores, rng)
    assert abs((chosen == 0).mean() - 0.75) < 0.015


def _exact_spec(methods, *sets):
    return build_spec([flags_layer(["exact.seeds=1", "exact.steps=60", "exact.batch_size=128",
                                    "exact.record_every=20", *sets], task="exact", methods=methods)])


def test_exact_online_rounds_continue_from_the_previous_policy(store, tmp_path):
    from bench.exact._results import round_table

    spec = _exact_spec("dpo,sail", "sail.label=self", "exact.classes=tabular")
    runner = Runner(spec, store, tmp_path / "out", None)
    run_id = runner.run()
    plan = json.loads(store.run(run_id)["plan_json"])
    sail = next(e for e in plan["entries"] if e["method"] == "sail")
    info = json.loads(store.policy(sail["policy_id"])["info_json"])
    assert info["round"] == 3
    round2 = json.loads(store.policy(info["based_on"])["info_json"])
    assert round2["round"] == 2 and json.loads(store.policy(round2["based_on"])["info_json"]).get("round", 1) == 1
    steps = sorted({m["step"] for m in store.metrics([sail["policy_id"]])})
    assert steps[0] == 0 and steps[-1] == 180 and 60 in steps and 120 in steps  # one curve over three rounds
    table = round_table(store, plan, "tabular", 60)
    assert [t["method"] for t in table] == ["sail"] and [r["round"] for r in table[0]["rounds"]] == [0, 1, 2, 3]
    sft = next(e["policy_id"] for e in plan["entries"] if e["method"] == "sft")
    sft_j = next(m["value"] for m in store.metrics([sft]) if m["name"] == "objective")
    assert table[0]["rounds"][0]["objective"].mean == pytest.approx(sft_j, abs=1e-9)  # round 0 is pi_sft
    rerun = Runner(spec, store, tmp_path / "out", None).run()
    assert json.loads(store.run(rerun)["plan_json"])["entries"] == plan["entries"]  # every round reused


def test_one_round_is_plain_offline_training(store, tmp_path):
    plain = Runner(_exact_spec("exo", "exact.classes=tabular"), store, tmp_path / "out", None).run()
    one = Runner(_exact_spec("exo", "exo.rounds=1", "exact.classes=tabular"), store, tmp_path / "out", None).run()
    ids = [[e["policy_id"] for e in json.loads(store.run(r)["plan_json"])["entries"]] for r in (plain, one)]
    assert ids[0] == ids[1]


def test_language_model_online_round_samples_the_current_policy(tiny_models, mini_data, store, tmp_path):
    spec = build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
        "eval.prompts=2", "eval.samples=2", "eval.max_new_tokens=6", "engine.kind=hf", "train.pairs=8",
        "train.batch_size=4", "sail.rounds=2", "dpo.rounds=2", "dpo.label=self", "sail.offline=0.25",
        "sail.relabel=0.25", "sail.label=both", "sail.rho=0.2", "sail.pi=0.2", "sail.gamma=0.3",  # every route
    ], task="tldr", methods="sail,dpo,slic,mpo", preset="smoke", model=str(tiny_models["policy"]))])
    runner = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=lambda path: make_engine("hf", path))
    run_id = runner.run()
    policies = {p["method"]: p for p in store.run_policies(run_id)}
    assert {"sail", "dpo", "slic", "mpo"} <= set(policies)
    plan = json.loads(store.run(run_id)["plan_json"])
    for name in ("sail", "dpo"):
        info = json.loads(policies[name]["info_json"])
        assert info["round"] == 2 and info["pairs"] == len({p for p in _prompts(mini_data, 8)})
        first = info["based_on"]  # round 1's policy: its own samples of the training prompts trained round 2
        samples = [g for g in store.generations(first, plan["sampling_key"]) if g["sample_index"] >= 20_000]
        assert len(samples) == 2 * info["pairs"]
    # the plug-ins join the report's table and the leaderboard beside DPO, like built-in methods
    html = runner.report_path.read_text()
    assert all(f"<td>{name}</td>" in html for name in ("sail", "dpo", "slic", "mpo", "sft"))
    from reports import leaderboards

    (board,) = leaderboards(store, n_boot=20)
    assert {e["system"] for e in board["entries"]} >= {"sail", "dpo", "slic", "mpo", "sft"}
    before = store.counts()
    Runner(spec, store, tmp_path / "out", mini_data, engine_factory=lambda path: make_engine("hf", path)).run()
    assert store.counts() == {**before, "invocations": before["invocations"] + 1}


def _prompts(data_dir, n):
    from bench.tasks import TASKS

    task = TASKS.get("tldr")()
    return [p.prompt for p in task.load_splits(data_dir).train_pairs[:n]]


def test_offline_share_is_validated_and_stored_only_when_set():
    assert "offline" not in METHODS.get("sail").resolve_params({}, TASK, "sail.")
    assert METHODS.get("sail").resolve_params({"offline": "0.4"}, TASK, "sail.")["offline"] == 0.4
    with pytest.raises(InputError, match=r"share in \[0, 1\)"):
        METHODS.get("dpo").resolve_params({"rounds": 2, "offline": 1.5}, TASK, "dpo.")


def test_exact_mixed_pairs_replace_the_share_by_offline_pairs_from_the_dataset():
    import torch

    from bench.exact._online import mixed_pairs
    from bench.exact._train import Batch, Sampler
    from bench.tasks.exact import build_problem

    problem = build_problem(0.5)
    online = Batch(torch.zeros(1000, dtype=torch.long), torch.full((1000, 2), -1), None)
    mixed = mixed_pairs(problem, online, 0.3, 64, seed=3, round_index=2)
    replaced = (mixed.outputs[:, 0] >= 0).numpy()
    assert replaced.sum() == 300 and replaced[:500].sum() not in (0, 300)  # spread over the round, not a block
    dataset = Sampler(problem, 2, False, 64, 3).dataset  # offline training's fixed dataset (exact.pairs = 64)
    rows = {(int(p), *map(int, o)) for p, o in zip(dataset.prompts, dataset.outputs, strict=True)}
    assert all((int(p), *map(int, o)) in rows for p, o in zip(mixed.prompts[replaced], mixed.outputs[replaced],
                                                                strict=True))
    again = mixed_pairs(problem, online, 0.3, 64, seed=3, round_index=2)
    assert torch.equal(again.outputs, mixed.outputs) and torch.equal(again.prompts, mixed.prompts)
    other = mixed_pairs(problem, online, 0.3, 64, seed=3, round_index=3)
    assert not torch.equal(other.outputs, mixed.outputs)  # each round draws its own offline pairs
    assert mixed.sources is None  # untagged and nothing relabelled: stays untagged (all data)
    both = mixed_pairs(problem, online, 0.3, 64, seed=3, round_index=2, relabel=0.2)
    assert torch.equal(both.sources[(both.outputs[:, 0] < 0)], torch.zeros(500, dtype=torch.long))
    assert both.sources.bincount().tolist() == [800, 200]  # 300 data + 500 untagged online, 200 to relabel


def test_language_model_mixed_pairs_take_the_share_from_the_task_pairs(monkeypatch):
    from types import SimpleNamespace

    import methods._pairwise
    from methods import DATA, DATA_RELABELLED, POLICY_SELF
    from methods._online import mixed_pairs
    from methods._train import TokPair

    offline = [TokPair((1,), (100 + i,), (200 + i,)) for i in range(3)]
    monkeypatch.setattr(methods._pairwise, "tokenize_pairs", lambda ctx: offline)
    online = [TokPair((2,), (i,), (50 + i,), POLICY_SELF) for i in range(10)]
    mixed = mixed_pairs(SimpleNamespace(seed=1), online, 0.5, 2)
    taken = [p for p in mixed if p.prompt == (1,)]
    assert len(taken) == 5 and len(mixed) == 10 and {p.source for p in taken} == {DATA}
    assert [p for p in mixed if p.prompt == (2,)] == [p for p in online if p in mixed]  # the rest kept in place
    assert {p.completions for p in taken} == {p.completions for p in offline}  # 5 from 3 pairs: all used, some twice
    both = mixed_pairs(SimpleNamespace(seed=1), online, 0.5, 2, relabel=0.3)
    tags = [p.source for p in both if p.prompt == (1,)]  # task pairs: 5 plain, 3 to be relabelled
    assert (tags.count(DATA), tags.count(DATA_RELABELLED)) == (5, 3)
    assert [p for p in both if p.prompt == (2,)] == [p for p in online if p in both]  # 2 online pairs kept


def test_exact_round_with_offline_share_trains_on_different_pairs(store, tmp_path):
    base = Runner(_exact_spec("sail", "exact.classes=tabular", "sail.rounds=2"), store, tmp_path / "out", None).run()
    mix = Runner(_exact_spec("sail", "exact.classes=tabular", "sail.rounds=2", "sail.offline=0.5"), store,
                 tmp_path / "out", None).run()
    ids = [{e["method"]: e["policy_id"] for e in json.loads(store.run(r)["plan_json"])["entries"]} for r in (base, mix)]
    assert ids[0]["sail"] != ids[1]["sail"]
    round1 = [json.loads(store.policy(i["sail"])["info_json"])["based_on"] for i in ids]
    assert round1[0] == round1[1]  # round 1 is the same offline training; only round 2's pairs differ


def _objective(store, run_id, method):
    entry = next(e for e in json.loads(store.run(run_id)["plan_json"])["entries"] if e["method"] == method)
    return {m["step"]: m["value"] for m in store.metrics([entry["policy_id"]]) if m["name"] == "objective"}


def test_exact_relabelled_pairs_take_the_policys_own_preference(store, tmp_path):
    """The same task pairs as 95% of round 2, with their own labels or relabelled by the policy at every
    step (SAIL's DDP): labels drawn from the policy's own Bradley–Terry model leave DPO's expected gradient
    at zero, so the relabelled round moves the objective far less."""
    runs = {share: Runner(_exact_spec("dpo", "exact.classes=tabular", "dpo.rounds=2", f"dpo.{share}=0.95"), store,
                          tmp_path / "out", None).run() for share in ("offline", "relabel")}
    j = {share: _objective(store, run, "dpo") for share, run in runs.items()}
    assert j["offline"][60] == j["relabel"][60]  # round 1 is the same offline training
    gain = {share: j[share][120] - j[share][60] for share in j}
    assert gain["offline"] > 0.1 and abs(gain["relabel"]) < gain["offline"] / 2, gain
    entry = next(e for e in json.loads(store.run(runs["relabel"])["plan_json"])["entries"] if e["method"] == "dpo")
    swaps = {r["step"]: r["relabelled"] for r in store.train_steps(entry["policy_id"]) if "relabelled" in r}
    assert sorted(swaps) == [80, 100, 120] and all(0.05 < v < 0.95 for v in swaps.values()), swaps  # round 2 only
    params = [json.loads(store.run(runs[s])["spec_json"])["methods"][0]["params"] for s in ("offline", "relabel")]
    assert "relabel" not in params[0] and params[1]["relabel"] == 0.95 and "offline" not in params[1]


def test_sail_without_extra_terms_is_dpo_and_with_them_trains_differently(store, tmp_path):
    def run(method, *sets):
        return _objective(store, Runner(_exact_spec(method, "exact.classes=tabular", f"{method}.rounds=2",
                                                    f"{method}.relabel=0.4", f"{method}.label=both", *sets),
                                        store, tmp_path / "out", None).run(), method)

    dpo, sail = run("dpo"), run("sail")
    assert dpo == sail  # rho = pi = gamma = 0: every pair source trains as in DPO
    extra = run("sail", "sail.rho=0.2", "sail.pi=0.2", "sail.gamma=0.3")
    assert extra[60] == sail[60] and extra[120] != sail[120]  # the terms act on round 2's tagged pairs only
    with pytest.raises(InputError, match="leaves no online samples"):
        METHODS.get("dpo").resolve_params({"offline": 0.5, "relabel": 0.5}, TASK, "dpo.")

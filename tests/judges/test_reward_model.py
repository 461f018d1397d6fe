from bench.config import RewardModelSpec
from bench.models import ModelRef
from bench.tasks import PreferencePair
from judges.reward_model import RewardModelJudge, train_reward_model


def _pairs(n, offset=0):
    return [PreferencePair(prompt=f"post number {i + offset} about topic {i % 5}",
                           chosen="a clear and short summary", rejected="zzzz qqqq xxxx zzzz")
            for i in range(n)]


def test_bradley_terry_training_learns_a_separable_preference_and_scores_are_cached(tiny_models, tmp_path, store):
    backbone = ModelRef(name="tiny", path=tiny_models["encoder"], identity="tiny")
    spec = RewardModelSpec(pairs=0, val_pairs=0, epochs=6, lr=3e-3, batch_size=8, max_tokens=128)
    info = train_reward_model(backbone, _pairs(32), _pairs(20, offset=100), spec, seed=0, target=tmp_path / "rm")
    assert info["val"]["accuracy"] == 1.0 and info["val"]["n"] == 20 and info["val"]["n_prompts"] == 20
    assert info["val"]["ci_low"] <= info["val"]["accuracy"] <= info["val"]["ci_high"]

    judge = RewardModelJudge("rm1", tmp_path / "rm", store, {"p": "post number 7"}, 128, info)
    a, b = judge.score_texts(["post number 7"] * 2, ["a clear and short summary", "zzzz qqqq xxxx zzzz"])
    assert a > b
    store.put_judge({"id": "rm1", "kind": "reward_model", "name": "reward_model", "config_json": "{}",
                     "info_json": "{}"})
    store.put_policy({"id": "pol", "method": "sft", "kind": "base", "params_json": "{}", "info_json": "{}"})
    from bench.store._schema import prompts

    store._insert_ignore(prompts, [{"id": "p", "text": "post number 7"}])
    gens = [{"id": f"g{i}", "policy_id": "pol", "prompt_id": "p", "sampling_key": "k", "sample_index": i,
             "text": t, "n_tokens": 3, "logprob": None, "finish_reason": "stop"}
            for i, t in enumerate(["a clear and short summary", "zzzz qqqq xxxx zzzz"])]
    store.put_generations(gens)
    first = judge.score_generations({"p": gens})
    assert judge.scored == 2 and first["g0"] > first["g1"]
    assert judge.score_generations({"p": gens}) == first and judge.scored == 2  # from the store, not recomputed

import math

import pytest

from bench.config import RewardModelSpec
from bench.models import ModelRef
from bench.tasks import PreferencePair
from judges.reward_model import RewardModelJudge, calibrate, train_reward_model


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
    cal = info["calibration"]  # separable held-out pairs: the temperature is capped, the log-loss falls
    assert cal["n"] == 20 and cal["temperature"] > 0 and cal["logloss"] < cal["logloss_raw"]
    t = judge.temperature
    assert t == cal["temperature"] and judge.rewards({"p": gens}) == pytest.approx({k: t * v for k, v in first.items()})
    assert judge.reward_texts(["post number 7"], ["a clear and short summary"]) == pytest.approx([t * a])


def test_calibration_temperature_on_hand_values():
    # margins 1, 1, -1: the log-loss' derivative vanishes where 2 sigmoid(-t) = sigmoid(t), i.e. e^t = 2
    cal = calibrate([1.0, 1.0, -1.0])
    assert cal["temperature"] == pytest.approx(math.log(2), abs=1e-9) and not cal["capped"]
    assert cal["logloss_raw"] == pytest.approx((2 * math.log1p(math.exp(-1)) + math.log1p(math.e)) / 3)
    assert cal["logloss"] == pytest.approx((2 * math.log(1.5) + math.log(3)) / 3)  # sigmoid(ln 2) = 2/3
    # scaling the margins scales the temperature inversely: the calibrated rewards are the same
    assert calibrate([0.01, 0.01, -0.01])["temperature"] == pytest.approx(100 * math.log(2), rel=1e-9)
    assert calibrate([0.5, -1.0, 0.2])["temperature"] == 0.0  # mean margin < 0: no better than chance
    assert calibrate([0.0, 0.0])["temperature"] == 0.0
    assert calibrate([])["temperature"] == 1.0  # nothing to calibrate on: scores used as they are
    sep = calibrate([2.0, 0.5])  # separable: no finite optimum, capped so that the largest margin gives logit 50
    assert sep["capped"] and sep["temperature"] == pytest.approx(25.0)


def test_keep_end_truncation_cuts_the_prompts_start_and_otherwise_matches_longest_first():
    from bench.models.tiny import build_tiny_tokenizer
    from judges.reward_model import _encode

    tok = build_tiny_tokenizer()  # one token a character, no special tokens: room = max_tokens

    def text(enc, row):
        return tok.decode([i for i, m in zip(enc["input_ids"][row].tolist(), enc["attention_mask"][row].tolist(),
                                             strict=True) if m])

    prompts, responses = ["abcdefghij", "0123456789" * 3, "0123456789" * 3, "wxyz"], ["xyz", "xyz", "R" * 30, "S" * 30]
    enc = _encode(tok, prompts, responses, 20, keep_end=True)
    assert [text(enc, i) for i in range(4)] == ["xyzabcdefghij", "xyz" + ("0123456789" * 3)[-17:],
                                                "R" * 10 + "0123456789", "S" * 16 + "wxyz"]
    plain = _encode(tok, prompts, responses, 20)  # the default cuts the prompt's end instead
    assert text(plain, 1) == "xyz" + ("0123456789" * 3)[:17]
    for i in (0, 3):  # nothing or only the response cut: the same tokens either way
        assert text(plain, i) == text(enc, i)

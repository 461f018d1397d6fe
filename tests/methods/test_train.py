import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from methods import losses
from methods._train import TokPair, TrainConfig, group_logps, sequence_logps, train_pairwise


@pytest.fixture()
def model(tiny_models):
    m = AutoModelForCausalLM.from_pretrained(str(tiny_models["policy"]), dtype=torch.float32)
    m.eval()
    return m


def _naive(model, prompt, completion):
    ids = torch.tensor([prompt + completion])
    logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
    return sum(logp[len(prompt) - 1 + i, t].item() for i, t in enumerate(completion))


def test_batched_padded_logps_match_one_sequence_at_a_time(model):
    prompts = [[1, 40, 41, 42, 43, 44, 45], [1, 50, 51]]
    completions = [[60, 61, 2], [70, 71, 72, 73, 2]]
    with torch.no_grad():
        batched = sequence_logps(model, prompts, completions, pad=2, bf16=False)
    for i in range(2):
        assert batched[i].item() == pytest.approx(_naive(model, prompts[i], completions[i]), abs=1e-4)


def _pairs(n):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        p = [1] + torch.randint(3, 250, (6,), generator=g).tolist()
        c = torch.randint(3, 250, (4,), generator=g).tolist() + [2]
        r = torch.randint(3, 250, (4,), generator=g).tolist() + [2]
        out.append(TokPair(tuple(p), tuple(c), tuple(r)))
    return out


def test_training_raises_the_chosen_over_rejected_margin(model):
    pairs = _pairs(4)
    with torch.no_grad():
        ref = group_logps(model, pairs, pad=2, bf16=False)
    cfg = TrainConfig(lr=3e-3, batch_size=4, micro_batch=2, epochs=15, bf16=False, seed=0)
    records, _ = train_pairwise(model, pairs, ref, lambda x: losses.exo_pref(x.logratios, 0.5), 0.5, cfg, pad=2)
    assert len(records) == 15
    assert records[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)  # the policy starts at the reference
    assert records[-1]["loss"] < records[0]["loss"]
    assert records[-1]["reward_accuracy"] == 1.0
    assert {"loss", "reward_margin", "reward_accuracy", "logratio_chosen", "grad_norm", "lr", "kl_is"} <= set(records[0])
    assert records[0]["kl_is"] == pytest.approx(0.0, abs=1e-5) and records[-1]["kl_is"] != records[0]["kl_is"]


def test_importance_sampled_kl_on_hand_computed_values():
    from methods._train import group_records as _metrics

    r = torch.tensor([[0.0, math.log(2.0)], [math.log(0.5), 0.0]])  # log w for 4 sequences
    rec = _metrics(r, None, 1.0)
    assert rec["kl_is"] == pytest.approx((2 * math.log(2) + 0.5 * math.log(0.5)) / 4)


def test_groups_of_k_with_rewards_move_towards_the_best_rewarded(model):
    from methods._train import TokGroup, group_logps

    g = torch.Generator().manual_seed(1)
    groups = []
    for _ in range(3):
        prompt = tuple([1] + torch.randint(3, 250, (5,), generator=g).tolist())
        comps = tuple(tuple(torch.randint(3, 250, (3,), generator=g).tolist() + [2]) for _ in range(4))
        groups.append(TokGroup(prompt, comps, rewards=(1.0, 0.0, -1.0, 0.5)))
    with torch.no_grad():
        ref = group_logps(model, groups, pad=2, bf16=False)
    assert ref.shape == (3, 4)
    cfg = TrainConfig(lr=3e-3, batch_size=3, micro_batch=2, epochs=12, bf16=False, seed=0)
    records, _ = train_pairwise(model, groups, ref, lambda x: losses.exo_rw(x.logratios, x.rewards, 0.5, 0.5), 0.5, cfg, pad=2)
    assert records[-1]["loss"] < records[0]["loss"]
    assert records[-1]["reward_margin"] > 0  # best-rewarded sample above the worst in implicit reward

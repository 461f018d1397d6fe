"""PPO's pure pieces against values worked by hand."""

import math

import pytest
import torch

from methods import _ppo_math as pm


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_kl_penalized_rewards_hand_computed():
    scores = _t([1.0, 2.0])
    logp, ref = _t([[-1, -2, -3], [-0.5, -1, 0]]), _t([[-1.5, -2, -2], [-1, -1, 0]])
    mask = _t([[1, 1, 1], [1, 1, 0]])
    out = pm.kl_penalized_rewards(scores, logp, ref, mask, beta=0.1)
    # row 0: -0.1 * (0.5, 0, -1), score on the last token; row 1: score on token 1, padding stays 0
    torch.testing.assert_close(out, _t([[-0.05, 0.0, 1.1], [-0.05, 2.0, 0.0]]))
    # the undiscounted return is r - beta * log(pi / pi_ref) of the whole sequence
    torch.testing.assert_close(out.sum(-1), scores - 0.1 * ((logp - ref) * mask).sum(-1))


def test_gae_hand_computed():
    rewards, values, mask = _t([[1, 0, 2]]), _t([[0.5, 1.0, 1.5]]), _t([[1, 1, 1]])
    adv, ret = pm.gae(rewards, values, mask, gamma=0.9, lam=0.5)
    # t=2: 2 - 1.5 = 0.5; t=1: 0 + 0.9*1.5 - 1 + 0.45*0.5 = 0.575; t=0: 1 + 0.9 - 0.5 + 0.45*0.575
    torch.testing.assert_close(adv, _t([[1.65875, 0.575, 0.5]]))
    torch.testing.assert_close(ret, _t([[2.15875, 1.575, 2.0]]))


def test_gae_stops_at_padding_and_is_monte_carlo_at_gamma_lambda_one():
    rewards, values, mask = _t([[1, 3, 99]]), _t([[0.5, 1.0, 7.0]]), _t([[1, 1, 0]])
    adv, ret = pm.gae(rewards, values, mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(adv, _t([[1 + 3 - 0.5, 3 - 1.0, 0.0]]))  # sum of future rewards - V_t
    torch.testing.assert_close(ret, _t([[4.0, 3.0, 0.0]]))


def test_whiten_over_real_tokens():
    out = pm.whiten(_t([[1, 2, 3, 100]]), _t([[1, 1, 1, 0]]))
    torch.testing.assert_close(out, _t([[-1, 0, 1, 0]]), atol=1e-6, rtol=0)  # mean 2, unbiased var 1


def test_clipped_policy_loss_hand_computed():
    ratio = [1.5, 0.5, 1.1, 0.5, 9.0]
    logp, old = _t([[math.log(r) for r in ratio]]), _t([[0.0] * 5])
    adv, mask = _t([[1, 1, -2, -1, 50]]), _t([[1, 1, 1, 1, 0]])
    loss, frac = pm.clipped_policy_loss(logp, old, adv, mask, clip=0.2)
    # per token: max(-1.5, -1.2) = -1.2 (clipped); max(-0.5, -0.8) = -0.5; 2.2 (inside); max(0.5, 0.8) = 0.8 (clipped)
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 2.2 + 0.8) / 4)
    assert frac.item() == pytest.approx(0.5)


def test_clipped_value_loss_hand_computed():
    values, old, returns, mask = _t([[2.0, 0.0]]), _t([[1.0, 0.0]]), _t([[3.0, 1.0]]), _t([[1, 1]])
    loss, frac = pm.clipped_value_loss(values, old, returns, mask, clip=0.5)
    # token 0: V_clip = 1.5, max(1, 2.25) = 2.25; token 1: 1
    assert loss.item() == pytest.approx(0.5 * (2.25 + 1.0) / 2)
    assert frac.item() == pytest.approx(0.5)


def test_policy_gradient_at_ratio_one_is_minus_advantage():
    logp = _t([[0.0, 0.0]]).requires_grad_()
    loss, _ = pm.clipped_policy_loss(logp, _t([[0.0, 0.0]]), _t([[2.0, -1.0]]), _t([[1, 1]]), clip=0.2)
    loss.backward()
    torch.testing.assert_close(logp.grad, _t([[-1.0, 0.5]]))  # d/dlogp of -A * exp(logp - old) / 2

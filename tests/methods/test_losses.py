"""Losses against values computed by hand with the math module (independent of torch)."""

import math

import pytest
import torch

from methods import losses


def _softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def _kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=False))


def test_dpo_pref_hand_computed():
    lr = torch.tensor([[1.0, 0.0], [0.2, 0.7]], dtype=torch.float64)
    out = losses.dpo_pref(lr, beta=0.5)
    assert out[0].item() == pytest.approx(math.log(1 + math.exp(-0.5)), abs=1e-12)
    assert out[1].item() == pytest.approx(math.log(1 + math.exp(0.25)), abs=1e-12)


def test_exo_pref_is_reverse_kl_to_smoothed_labels():
    lr = torch.tensor([[1.0, 0.0], [-0.4, 0.3]], dtype=torch.float64)
    out = losses.exo_pref(lr, beta_pi=0.5, eps=1e-3)
    for row, value in zip(lr.tolist(), out.tolist(), strict=False):
        p = _softmax([0.5 * x for x in row])
        assert value == pytest.approx(_kl(p, [1 - 1e-3, 1e-3]), abs=1e-12)
    assert out[0].item() == pytest.approx(1.945726, abs=1e-5)  # worked by hand in the docstring's terms


def test_exo_pref_equals_exo_rw_with_label_rewards():
    lr = torch.randn(5, 2, dtype=torch.float64)
    eps, beta_r = 1e-3, 0.5
    rewards = beta_r * torch.log(torch.tensor([1 - eps, eps], dtype=torch.float64)).expand(5, 2)
    assert torch.allclose(losses.exo_pref(lr, 0.5, eps), losses.exo_rw(lr, rewards, 0.5, beta_r), atol=1e-12)


def test_dpo_rw_is_forward_kl_plus_target_entropy_and_exo_rw_is_reverse_kl():
    lr = torch.tensor([[0.3, -0.2, 1.1, 0.0]], dtype=torch.float64)
    r = torch.tensor([[1.0, 0.0, 2.0, -1.0]], dtype=torch.float64)
    p = _softmax([0.1 * x for x in lr[0].tolist()])
    q = _softmax([x / 0.5 for x in r[0].tolist()])
    entropy = -sum(v * math.log(v) for v in q)
    assert losses.dpo_rw(lr, r, 0.1, 0.5).item() == pytest.approx(_kl(q, p) + entropy, abs=1e-12)
    assert losses.exo_rw(lr, r, 0.1, 0.5).item() == pytest.approx(_kl(p, q), abs=1e-12)


def test_exo_rw_is_minimal_with_zero_gradient_at_the_target():
    r = torch.tensor([[1.0, 0.0, 2.0]], dtype=torch.float64)
    beta_pi, beta_r = 0.5, 0.25
    lr = (r / beta_r / beta_pi).clone().requires_grad_(True)  # softmax(beta_pi * lr) == softmax(r / beta_r)
    loss = losses.exo_rw(lr, r, beta_pi, beta_r)
    loss.sum().backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    assert lr.grad.abs().max().item() < 1e-10


def test_eps_out_of_range_is_refused():
    with pytest.raises(ValueError):
        losses.exo_pref(torch.zeros(1, 2), 0.5, eps=0.0)


def test_ipo_hand_computed():
    lr = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    out = losses.ipo(lr, beta=0.5)  # target margin 1 / (2 * 0.5) = 1
    assert out.tolist() == pytest.approx([0.0, 9.0], abs=1e-12)


def test_slic_hf_hand_computed():
    logps = torch.tensor([[-3.0, -3.5], [-2.0, -5.0], [-4.0, -1.0]], dtype=torch.float64)
    out = losses.slic_hf(logps, logps[:, 0], delta=1.0, lam=0.5)
    # row 0: margin 0.5 -> hinge 0.5, reg -0.5 * -3 = 1.5; row 1: margin 3 >= delta -> hinge 0, reg 1.0;
    # row 2: margin -3 -> hinge 4, reg 2.0
    assert out.tolist() == pytest.approx([2.0, 1.0, 6.0], abs=1e-12)


def test_slic_hf_gradient_stops_at_the_margin():
    logps = torch.tensor([[-1.0, -3.0]], requires_grad=True)
    losses.slic_hf(logps, logps[:, 0].detach(), delta=1.0, lam=0.0).sum().backward()
    assert logps.grad.abs().sum().item() == 0.0  # margin 2 > delta: the hinge is flat


def test_mpo_hand_computed():
    logps = torch.tensor([[-1.0, -2.0], [-4.0, -2.0]], dtype=torch.float64)
    out = losses.mpo(logps, lam=0.5)
    s0 = 1 / (1 + math.exp(-1.0))  # pi(y+) / (pi(y+) + pi(y-)) = e^-1 / (e^-1 + e^-2)
    s1 = 1 / (1 + math.exp(2.0))
    assert s0 == pytest.approx(math.exp(-1) / (math.exp(-1) + math.exp(-2)), abs=1e-12)
    assert out[0].item() == pytest.approx(-s0 + 0.5 * 1.5, abs=1e-12)
    assert out[1].item() == pytest.approx(-s1 + 0.5 * 3.0, abs=1e-12)


def _sail_inputs():
    logps = torch.tensor([[-3.0, -4.0]] * 4, dtype=torch.float64, requires_grad=True)  # policy log-probs
    ref = torch.tensor([[-4.0, -4.0]] * 4, dtype=torch.float64)  # log-ratios [1, 0]: margin 1
    return logps, ref, torch.tensor([0, 1, 2, 3])  # data, data-relabelled, policy-self, policy-reward


def test_sail_dpo_hand_computed_per_source():
    logps, ref, sources = _sail_inputs()
    out = losses.sail_dpo(logps - ref, logps, sources, beta=0.5, rho=0.2, pi=0.3, gamma=0.4)
    lsig = -math.log(1 + math.exp(-0.5))  # log sigmoid(0.5 * 1)
    assert out.tolist() == pytest.approx([-lsig, -lsig - 0.1 * lsig**2, -lsig - 0.15 * lsig**2, -lsig], abs=1e-12)
    assert losses.sail_dpo(logps - ref, logps, None, 0.5, 0.2, 0.3, 0.4).tolist() == pytest.approx(
        losses.dpo_pref(logps - ref, 0.5).tolist(), abs=1e-15)  # no sources: DPO


def test_sail_dpo_gradient_equals_the_authors_hooks():
    """The released trainer adds the extra DPP/DPR gradient with hooks on the sequence log-probs; the loss
    term of value 0 gives the same gradient (per pair, summed over the batch)."""
    beta, rho, pi, gamma = 0.5, 0.2, 0.3, 0.4
    logps, ref, sources = _sail_inputs()
    losses.sail_dpo(logps - ref, logps, sources, beta, rho, pi, gamma).sum().backward()
    mine = logps.grad.clone()

    chosen, rejected = (torch.tensor([-3.0] * 4, dtype=torch.float64, requires_grad=True),
                        torch.tensor([-4.0] * 4, dtype=torch.float64, requires_grad=True))
    ddp, dpp, dpr = ((sources == c).double() for c in (1, 2, 3))
    lsig = torch.nn.functional.logsigmoid(beta * ((chosen + 4.0) - (rejected + 4.0)))
    held = lsig.detach()
    chosen.register_hook(lambda g: g - pi * held / chosen.detach() * dpp - gamma * held / chosen.detach() * dpr)
    rejected.register_hook(lambda g: g - pi * held / rejected.detach() * dpp - gamma * held / rejected.detach() * dpr)
    (-lsig - 0.5 * rho * (lsig * ddp) ** 2 - 0.5 * pi * (lsig * dpp) ** 2).sum().backward()
    assert mine[:, 0].tolist() == pytest.approx(chosen.grad.tolist(), abs=1e-12)
    assert mine[:, 1].tolist() == pytest.approx(rejected.grad.tolist(), abs=1e-12)
    assert mine[2, 0] != mine[0, 0] and mine[3, 1] != mine[0, 1]  # the hooks' terms are there


def test_relabelling_by_the_policy_swaps_only_relabelled_pairs_at_the_policys_odds():
    from methods._base import LossInputs, relabel_by_policy

    logps = torch.tensor([[-1.0, -3.0]] * 4)
    inputs = LossInputs(logps, torch.zeros(4, 2), None, torch.tensor([0, 1, 1, 2]))
    p_swap = 1 - 1 / (1 + math.exp(-0.5 * 2.0))  # 1 - sigmoid(beta * margin), margin 2
    out, swapped = relabel_by_policy(inputs, 0.5, torch.tensor([0.0, p_swap - 1e-6, p_swap + 1e-6, 0.0]))
    assert swapped == 1
    assert out.logps.tolist() == [[-1.0, -3.0], [-3.0, -1.0], [-1.0, -3.0], [-1.0, -3.0]]
    assert torch.equal(out.sources, inputs.sources)
    assert relabel_by_policy(LossInputs(logps, torch.zeros(4, 2)), 0.5, torch.zeros(4))[0].logps is logps

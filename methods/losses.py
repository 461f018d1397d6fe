"""Alignment losses as small pure functions.

Every function takes per-sequence log-ratios ``log pi(y|x) - log pi_ref(y|x)`` of shape ``[prompts, K]``
and returns the per-prompt loss of shape ``[prompts]``. In the preference form K = 2 and column 0 holds
the chosen response, column 1 the rejected one.

EXO (Ji et al. 2024, arXiv 2402.00856) minimises the *reverse* KL  KL(p_theta || p_target) between
p_theta = softmax(beta_pi * log-ratio) and the target p_target = softmax(r / beta_r) over the K completions
(in the preference form the target is the smoothed label [1 - eps, eps]). DPO in its general form is the
*forward* KL of the same pair, i.e. the cross-entropy of p_theta against p_target up to a constant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EXO_EPS = 1e-3


def dpo_pref(logratios: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO's sigmoid loss: -log sigmoid(beta * (logratio_chosen - logratio_rejected))."""
    return -F.logsigmoid(beta * (logratios[:, 0] - logratios[:, 1]))


def dpo_rw(logratios: torch.Tensor, rewards: torch.Tensor, beta_pi: float, beta_r: float) -> torch.Tensor:
    """General DPO: cross-entropy of softmax(beta_pi * log-ratio) against the labels softmax(r / beta_r)."""
    target = torch.softmax(rewards / beta_r, dim=-1)
    return -(target * torch.log_softmax(beta_pi * logratios, dim=-1)).sum(-1)


def exo_rw(logratios: torch.Tensor, rewards: torch.Tensor, beta_pi: float, beta_r: float) -> torch.Tensor:
    """EXO with rewards: KL(p_theta || softmax(r / beta_r)) over the K completions."""
    log_p = torch.log_softmax(beta_pi * logratios, dim=-1)
    log_q = torch.log_softmax(rewards / beta_r, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def exo_pref(logratios: torch.Tensor, beta_pi: float, eps: float = EXO_EPS) -> torch.Tensor:
    """EXO with preferences: KL(p_theta || [1 - eps, eps]) for a (chosen, rejected) pair."""
    if not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be in (0, 0.5), got {eps}")
    log_p = torch.log_softmax(beta_pi * logratios, dim=-1)
    log_q = torch.log(torch.tensor([1.0 - eps, eps], dtype=log_p.dtype, device=log_p.device))
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def ipo(logratios: torch.Tensor, beta: float) -> torch.Tensor:
    """IPO (Azar et al. 2023): the squared distance of the log-ratio margin from 1 / (2 beta)."""
    return (logratios[:, 0] - logratios[:, 1] - 1.0 / (2.0 * beta)) ** 2


def slic_hf(logps: torch.Tensor, target_logps: torch.Tensor, delta: float, lam: float) -> torch.Tensor:
    """SLiC-HF (Zhao et al. 2023): a hinge on the policy's own log-likelihood margin plus a likelihood term,

        max(0, delta - log pi(y+|x) + log pi(y-|x)) - lam * log pi(y_target|x)

    ``logps`` are the policy's log-probabilities [B, 2] (chosen first), ``target_logps`` [B] those of the
    regularisation target (the paper: the SFT target for x). No reference policy appears."""
    return torch.relu(delta - (logps[:, 0] - logps[:, 1])) - lam * target_logps


def mpo(logps: torch.Tensor, lam: float) -> torch.Tensor:
    """MPO as bench reads it (Jiang et al. 2023, arXiv 2312.16430): maximise the preference reward under
    importance sampling, regularised by a forward KL estimated on off-policy data, without a reference.

    Both responses of a pair come from the behaviour policy mu. With the preference as reward (1 for the
    chosen, 0 for the rejected) and self-normalised importance weights w = pi(y) / mu(y) over the pair,
    taking mu(y+) = mu(y-) because mu is unknown, the expected preference is pi(y+) / (pi(y+) + pi(y-)) =
    sigmoid(log pi(y+) - log pi(y-)). KL(mu || pi) = const - E_mu[log pi(y)] is estimated on the pair's own
    responses (samples of mu). Per pair:  -sigmoid(log pi(y+) - log pi(y-)) - lam * mean(log pi(y+), log pi(y-)).
    """
    return -torch.sigmoid(logps[:, 0] - logps[:, 1]) - lam * logps.mean(-1)


def sail_dpo(logratios: torch.Tensor, logps: torch.Tensor, sources: torch.Tensor | None, beta: float,
             rho: float, pi: float, gamma: float) -> torch.Tensor:
    """DPO's sigmoid loss with SAIL's extra terms by pair source (Ding et al. 2024, read from the authors'
    released trainer; codes of ``methods.PAIR_SOURCES``: 1 = data relabelled by the policy (DDP), 2 = policy
    samples labelled by the policy (DPP), 3 = policy samples labelled by the reward model (DPR)).

    With l = log sigmoid(beta * margin):  -l - (rho [DDP] + pi [DPP]) * l^2 / 2, whose extra part adds the
    score-function gradient of labels drawn from the policy's own preference; plus, for DPP and DPR pairs,
    a term of value 0 whose gradient is -(pi [DPP] + gamma [DPR]) * l / log pi(y) * grad log pi(y) for each
    of the two sequences (l and log pi(y) without gradient): what the authors' gradient hooks on the
    sequence log-probabilities add. ``sources`` None: all pairs are plain data, the loss is DPO's."""
    lsig = F.logsigmoid(beta * (logratios[:, 0] - logratios[:, 1]))
    if sources is None:
        return -lsig
    ddp, dpp, dpr = ((sources == code).to(lsig.dtype) for code in (1, 2, 3))
    loss = -lsig - 0.5 * (rho * ddp + pi * dpp) * lsig**2
    weight = (pi * dpp + gamma * dpr) * lsig.detach()
    held = logps.detach().clamp(max=-1e-12)  # log pi(y) < 0; the hooks divide by it
    return loss - weight * (logps / held - 1.0).sum(-1)

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

"""PPO's pure pieces, on per-token tensors of shape [batch, tokens] with a 0/1 mask of real tokens.

Used by PPO on language models (``methods._ppo``) and on the exact task (``bench.exact._ppo``). The
per-token reward is the RLHF one: -beta * (log pi - log pi_ref) at every token, plus the sequence's score
r(x, y) at its last token, so the undiscounted return is r(x, y) - beta * log(pi(y|x) / pi_ref(y|x)).
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def last_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of each row's last real token ([batch] long); masks are right-padded."""
    return (mask.sum(-1).long() - 1).clamp(min=0)


def kl_penalized_rewards(scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor,
                         beta: float) -> torch.Tensor:
    """Per-token rewards: -beta * (logp - ref_logp) on every real token, plus ``scores`` [batch] on the last."""
    rewards = -beta * (logp - ref_logp) * mask
    rows = torch.arange(len(scores))
    rewards[rows, last_index(mask)] += scores.to(rewards.dtype)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016) over each row's real tokens.

    delta_t = r_t + gamma * V_{t+1} - V_t (V after the last real token is 0, the episode ends there);
    A_t = delta_t + gamma * lam * A_{t+1}. Returns (advantages, returns = advantages + values), 0 on padding.
    """
    n = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(n)):
        next_mask = mask[:, t + 1] if t + 1 < n else torch.zeros_like(mask[:, 0])
        next_value = values[:, t + 1] * next_mask if t + 1 < n else torch.zeros_like(values[:, 0])
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        next_adv = (delta + gamma * lam * next_adv * next_mask) * mask[:, t]
        advantages[:, t] = next_adv
    return advantages, (advantages + values) * mask


def whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Shift to mean 0 and scale to standard deviation 1 over the real tokens (unbiased variance)."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    var = (((x - mean) ** 2) * mask).sum() / (n - 1).clamp(min=1.0)
    return (x - mean) * torch.rsqrt(var + eps) * mask


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                        mask: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate, as a loss: mean over real tokens of max(-A rho, -A clip(rho, 1-c, 1+c)),
    rho = exp(logp - old_logp). Returns (loss, fraction of tokens where the clipped term was taken)."""
    ratio = torch.exp(logp - old_logp)
    plain = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return masked_mean(torch.maximum(plain, clipped), mask), masked_mean((clipped > plain).float(), mask)


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       mask: torch.Tensor, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """0.5 * mean over real tokens of max((V - R)^2, (V_clip - R)^2), V_clip = V_old + clip(V - V_old, -c, c).
    Returns (loss, fraction of tokens where the clipped term was larger)."""
    v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    plain, clipped = (values - returns) ** 2, (v_clipped - returns) ** 2
    return 0.5 * masked_mean(torch.maximum(plain, clipped), mask), masked_mean((clipped > plain).float(), mask)

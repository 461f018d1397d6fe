"""PPO on the exact task: rollouts of the current policy, scored by the known reward, per-token KL penalty
against pi_sft, a tabular value function over prefixes, GAE, clipped policy and value losses.

Outputs are ``LENGTH`` tokens, so PPO acts token by token as on a language model: the per-token log-probs
are the policy's conditionals log pi(y_t | x, y_<t), read off its joint table (for the factorized class
they are its per-position log-probs). The value function has one entry per (prompt, prefix).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.exact._metrics import evaluate
from bench.exact._train import POLICY_CLASSES
from methods import _ppo_math as pm

if TYPE_CHECKING:
    from bench.config import ExactSpec
    from bench.tasks.exact import ExactProblem

PPO_VERSION = "1"


def token_logps(joint: torch.Tensor, prompts: torch.Tensor, outputs: torch.Tensor, vocab: int) -> torch.Tensor:
    """[B, L] conditionals log pi(y_t | x, y_<t) from the joint log-probs [P, vocab ** L] (outputs in
    ``itertools.product`` order, so the table reshapes to [P, vocab, ..., vocab])."""
    length = outputs.shape[1]
    prefix = [joint.view(joint.shape[0], *([vocab] * length))]  # prefix[k]: log-prob of the first k tokens
    for _ in range(length):
        prefix.insert(0, torch.logsumexp(prefix[0], dim=-1))
    cols = [outputs[:, t] for t in range(length)]
    return torch.stack([prefix[t + 1][(prompts, *cols[:t + 1])] - prefix[t][(prompts, *cols[:t])]
                        for t in range(length)], dim=1)


def prefix_states(outputs: torch.Tensor, vocab: int) -> torch.Tensor:
    """[B, L] index of the state before each token: its prefix, numbered over all prefixes shorter than L."""
    states, offset, code = [], 0, torch.zeros(len(outputs), dtype=torch.long)
    for t in range(outputs.shape[1]):
        states.append(offset + code)
        offset += vocab ** t
        code = code * vocab + outputs[:, t]
    return torch.stack(states, dim=1)


def iterations(params: Any, spec: ExactSpec) -> int:
    """Default: as many optimizer steps as the other methods take (``exact.steps``)."""
    return params.iterations or max(1, spec.steps // (params.ppo_epochs * params.minibatches))


def train_ppo_exact(method: Any, problem: ExactProblem, policy_class: str, seed: int, spec: ExactSpec
                    ) -> tuple[np.ndarray, list[dict[str, Any]], float]:
    """Train ``method`` (PPO) in ``policy_class``; return final log-probs [P, N], records and seconds."""
    t0 = time.time()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    p = method.params
    vocab = int(problem.sft_logits.shape[-1])
    policy = POLICY_CLASSES[policy_class](problem)
    n_states = sum(vocab ** t for t in range(problem.outputs.shape[1]))
    values = torch.nn.Parameter(torch.zeros(problem.n_prompts, n_states, dtype=torch.float64))
    rounds, per_round = iterations(p, spec), p.ppo_epochs * p.minibatches
    opt = torch.optim.Adam([*policy.parameters(), values], lr=p.lr or spec.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / (rounds * per_round))
    gen = torch.Generator().manual_seed(seed)
    tables = {"sft": torch.tensor(problem.sft_logp()), "reward": torch.tensor(problem.reward),
              "outputs": torch.tensor(problem.outputs)}
    records: list[dict[str, Any]] = []
    window: list[dict[str, float]] = []
    for r in range(rounds + 1):
        step = r * per_round
        if r in (0, rounds) or step // spec.record_every != (step - per_round) // spec.record_every:
            exact = evaluate(policy().detach().numpy(), problem.sft_logp(), problem.reward, problem.beta)
            train = {k: float(np.mean([w[k] for w in window])) for k in window[0]} if window else {}
            records.append({"step": step, **train, **exact})
            window = []
        if r == rounds:
            break
        batch = _rollouts(policy, values, tables, p, spec.batch_size, vocab, gen)
        for _ in range(p.ppo_epochs):
            order = torch.randperm(spec.batch_size, generator=gen)
            for mb in order.chunk(p.minibatches):
                window.append({**_update(policy, values, batch, mb, p, vocab, opt),
                               "score": batch["score_mean"], "kl_estimate": batch["kl_mean"]})
                sched.step()
    return policy().detach().numpy(), records, time.time() - t0


def _rollouts(policy: Any, values: torch.Tensor, tables: dict[str, torch.Tensor], p: Any, size: int, vocab: int,
              gen: torch.Generator) -> dict[str, Any]:
    with torch.no_grad():
        joint = policy()
        prompts = torch.randint(joint.shape[0], (size,), generator=gen)
        idx = torch.multinomial(joint[prompts].exp(), 1, generator=gen).squeeze(1)
        outputs = tables["outputs"][idx]
        old = token_logps(joint, prompts, outputs, vocab)
        ref = token_logps(tables["sft"], prompts, outputs, vocab)
        states = prefix_states(outputs, vocab)
        old_values = values[prompts[:, None], states]
        mask = torch.ones_like(old)
        scores = tables["reward"][prompts, idx]
        rewards = pm.kl_penalized_rewards(scores, old, ref, mask, p.beta)
        adv, returns = pm.gae(rewards, old_values, mask, p.gamma, p.lam)
        if p.whiten_advantages:
            adv = pm.whiten(adv, mask)
    return {"prompts": prompts, "outputs": outputs, "states": states, "old": old, "old_values": old_values,
            "adv": adv, "returns": returns, "mask": mask, "score_mean": float(scores.mean()),
            "kl_mean": float((old - ref).sum(-1).mean())}


def _update(policy: Any, values: torch.Tensor, b: dict[str, Any], mb: torch.Tensor, p: Any, vocab: int,
            opt: torch.optim.Optimizer) -> dict[str, float]:
    logp = token_logps(policy(), b["prompts"][mb], b["outputs"][mb], vocab)
    v = values[b["prompts"][mb, None], b["states"][mb]]
    pg, clipfrac = pm.clipped_policy_loss(logp, b["old"][mb], b["adv"][mb], b["mask"][mb], p.clip_range)
    vl, vclipfrac = pm.clipped_value_loss(v, b["old_values"][mb], b["returns"][mb], b["mask"][mb],
                                          p.clip_range_value)
    loss = pg + p.vf_coef * vl
    opt.zero_grad()
    loss.backward()
    opt.step()
    approx_kl = float(pm.masked_mean(b["old"][mb] - logp.detach(), b["mask"][mb]))
    return {"loss": float(loss.detach()), "policy_loss": float(pg.detach()), "value_loss": float(vl.detach()),
            "clipfrac": float(clipfrac), "value_clipfrac": float(vclipfrac), "approx_kl": approx_kl}

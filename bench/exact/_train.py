"""Training a policy class on the exact task with a method's own loss, from samples of pi_sft.

The preference setting draws pairs from pi_sft and labels them by the Bradley–Terry model of the task's
reward; the reward-model setting draws K outputs per prompt and scores them with the reward itself. Either
way the method's ``group_loss`` sees per-sequence log-ratios log pi/pi_sft, exactly as in language-model
training, so the exact task checks the same loss code that trains the real policies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.exact._metrics import evaluate
from methods._base import LossInputs, relabel_by_policy, relabel_generator
from methods._train import group_records

if TYPE_CHECKING:
    from bench.config import ExactSpec
    from bench.tasks.exact import ExactProblem


class Tabular(torch.nn.Module):
    """One free logit per output: can represent any distribution, pi* included."""

    def __init__(self, problem: ExactProblem) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(problem.sft_logp()))

    def forward(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=-1)


class Factorized(torch.nn.Module):
    """Restricted autoregressive class: each token's distribution sees the prompt and its position but not
    the earlier tokens, so the policy is a product over positions. It contains pi_sft but cannot represent
    pi*, whose two modes are correlated across positions."""

    def __init__(self, problem: ExactProblem) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(problem.sft_logits))
        self.register_buffer("outputs", torch.tensor(problem.outputs))

    def forward(self) -> torch.Tensor:
        logp = torch.log_softmax(self.logits, dim=-1)  # [P, L, V]
        return sum(logp[:, t, self.outputs[:, t]] for t in range(self.outputs.shape[1]))


POLICY_CLASSES: dict[str, type[torch.nn.Module]] = {"tabular": Tabular, "factorized": Factorized}


@dataclass
class Batch:
    prompts: torch.Tensor  # [B]
    outputs: torch.Tensor  # [B, K]; in the preference setting column 0 is the chosen output
    rewards: torch.Tensor | None  # [B, K] in the reward-model setting
    sources: torch.Tensor | None = None  # [B] codes of methods.PAIR_SOURCES in online rounds

    def rows(self, idx: Any) -> Batch:
        return Batch(self.prompts[idx], self.outputs[idx], None if self.rewards is None else self.rewards[idx],
                     None if self.sources is None else self.sources[idx])


class Sampler:
    """Draws training groups from pi_sft, fresh every step or from a fixed dataset of ``pairs`` groups, or from
    given groups (online rounds): in order when they hold one group per draw, else resampled."""

    def __init__(self, problem: ExactProblem, k: int, with_rewards: bool, size: int, seed: int,
                 dataset: Batch | None = None, steps: int = 0, batch_size: int = 0) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.sft = torch.tensor(problem.sft_logp()).exp()
        self.reward = torch.tensor(problem.reward)
        self.k, self.with_rewards = k, with_rewards
        self.dataset = dataset if dataset is not None else self._draw(size) if size > 0 else None
        self.cursor = 0 if dataset is not None and len(dataset.prompts) >= steps * batch_size > 0 else None

    def _draw(self, b: int) -> Batch:
        prompts = torch.randint(self.sft.shape[0], (b,), generator=self.gen)
        outputs = torch.multinomial(self.sft[prompts], self.k, replacement=True, generator=self.gen)
        rewards = self.reward[prompts[:, None], outputs]
        if self.with_rewards:
            return Batch(prompts, outputs, rewards)
        # Bradley-Terry labels: the first output is preferred with probability sigmoid(r1 - r2).
        first_wins = torch.rand(b, generator=self.gen, dtype=rewards.dtype) < torch.sigmoid(rewards[:, 0] - rewards[:, 1])
        ordered = torch.where(first_wins[:, None], outputs, outputs.flip(1))
        return Batch(prompts, ordered, None)

    def batch(self, b: int) -> Batch:
        if self.dataset is None:
            return self._draw(b)
        if self.cursor is not None:  # given groups enough for every draw: each is used once, in order
            start, self.cursor = self.cursor, self.cursor + b
            return self.dataset.rows(slice(start, start + b))
        return self.dataset.rows(torch.randint(len(self.dataset.prompts), (b,), generator=self.gen))


def train_exact(method: Any, problem: ExactProblem, policy_class: str, seed: int, spec: ExactSpec,
                with_rewards: bool, groups: Batch | None = None, init: np.ndarray | None = None,
                step0: int = 0) -> tuple[np.ndarray, list[dict[str, Any]], float, np.ndarray]:
    """Train ``method`` in ``policy_class`` on fresh groups from pi_sft, or on the fixed ``groups``, starting
    from pi_sft or from the parameters ``init``; record steps from ``step0``. Returns the final log-probs
    [P, N], records, seconds and the final parameters."""
    t0 = time.time()
    torch.set_num_threads(1)  # the tensors are tiny: threads only add overhead
    torch.manual_seed(seed)
    policy = POLICY_CLASSES[policy_class](problem)
    if init is not None:
        policy.logits.data = torch.tensor(init)
    sft_logp, reward = problem.sft_logp(), problem.reward
    sft_t = torch.tensor(sft_logp)
    k = int(getattr(method.params, "k", 2)) if with_rewards else 2
    sampler = Sampler(problem, k, with_rewards, spec.pairs, seed, dataset=groups, steps=spec.steps,
                      batch_size=spec.batch_size)
    opt = torch.optim.Adam(policy.parameters(), lr=spec.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / spec.steps)
    relabel_gen = relabel_generator(seed) if groups is not None and groups.sources is not None else None
    records: list[dict[str, Any]] = []
    window: list[dict[str, float]] = []
    for step in range(spec.steps + 1):
        if step % spec.record_every == 0 or step == spec.steps:
            exact = evaluate(policy().detach().numpy(), sft_logp, reward, problem.beta)
            train = {key: float(np.mean([w[key] for w in window])) for key in window[0]} if window else {}
            records.append({"step": step0 + step, **train, **exact})
            window = []
        if step == spec.steps:
            break
        batch = sampler.batch(spec.batch_size)
        logp = policy()
        inputs = LossInputs(logp[batch.prompts[:, None], batch.outputs], sft_t[batch.prompts[:, None], batch.outputs],
                            batch.rewards, batch.sources)
        relabelled = {}
        if relabel_gen is not None:  # data pairs relabelled by the policy at this step (SAIL's DDP)
            inputs, swapped = relabel_by_policy(inputs, method.implicit_beta(),
                                                torch.rand(len(batch.prompts), generator=relabel_gen))
            relabelled = {"relabelled": swapped / len(batch.prompts)}
        logratios = inputs.logratios
        loss = method.group_loss(inputs).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        window.append({"loss": float(loss.detach()),
                       **group_records(logratios.detach(), batch.rewards, method.implicit_beta()), **relabelled})
    return policy().detach().numpy(), records, time.time() - t0, policy.logits.detach().numpy()


def projections(problem: ExactProblem, policy_class: str, steps: int = 3000, lr: float = 0.05
                ) -> dict[str, dict[str, float]]:
    """pi*'s projections on a policy class, by full-batch descent on the exact divergences: the minimiser of
    KL(pi || pi*) (what EXO-rw approaches as K grows) and of KL(pi* || pi) (what general DPO approaches).
    Started from pi_sft; the reverse KL can have several local minima, so this is the one reached from there."""
    torch.set_num_threads(1)
    sft_logp = problem.sft_logp()
    star = torch.tensor(problem.star_logp())
    out = {}
    for name in ("reverse", "forward"):
        policy = POLICY_CLASSES[policy_class](problem)
        opt = torch.optim.Adam(policy.parameters(), lr=lr)
        for _ in range(steps):
            logp = policy()
            div = (logp.exp() * (logp - star)) if name == "reverse" else (star.exp() * (star - logp))
            loss = div.sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[name] = evaluate(policy().detach().numpy(), sft_logp, problem.reward, problem.beta)
    return out

"""PPO (Schulman et al. 2017) in the RLHF form of Ziegler et al. 2019 / Stiennon et al. 2020: the policy is
optimised on rollouts of itself, with reward r(x, y) - beta * log(pi(y|x) / pi_ref(y|x)) (the KL penalty
per token, summed over the sequence), a value head, GAE and clipped policy and value losses.

The training loops are bench's: ``methods._ppo`` on language models, ``bench.exact._ppo`` on the exact task;
both reach them through the context's ``train_ppo`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bench.errors import InputError
from methods._base import Method

if TYPE_CHECKING:
    from methods._context import MethodContext, Policy


class PPO(Method):
    """PPO against the task's reward model (on the exact task: against its known reward)."""

    name = "ppo"
    setting = "reward-model"
    trains = True

    @dataclass(frozen=True)
    class Params:
        beta: float | None = None  # KL penalty; None: the task's default beta
        lr: float | None = None  # None: train.lr on language models, exact.lr on the exact task
        iterations: int = 0  # rollout-and-update rounds; 0: see ``iterations`` in methods._ppo / bench.exact._ppo
        rollout_batch: int = 4  # prompts per round, one sample each (exact task: exact.batch_size)
        ppo_epochs: int = 2  # passes over each round's rollouts
        minibatches: int = 1  # optimizer steps per pass
        clip_range: float = 0.2
        clip_range_value: float = 0.2
        vf_coef: float = 0.1
        gamma: float = 1.0
        lam: float = 0.95
        whiten_advantages: bool = True
        save_every: int = 1  # rounds between saved training states (language models); 0: never

    ints: ClassVar[tuple[str, ...]] = ("rollout_batch", "ppo_epochs", "minibatches")
    zero_allowed = ("beta",)  # no KL penalty: reward maximisation alone, an ablation

    @classmethod
    def resolve_params(cls, values: dict[str, Any], task_cls: Any, source: str) -> dict[str, Any]:
        resolved = super().resolve_params(values, task_cls, source)
        for key in cls.ints:
            if resolved[key] < 1:
                raise InputError("must be at least 1", source="spec", field=f"{source}{key}")
        if resolved["gamma"] > 1 or resolved["lam"] > 1:
            raise InputError("gamma and lam must be in [0, 1]", source="spec", field=f"{source}gamma")
        return resolved

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.train_ppo(self)  # type: ignore[attr-defined]

"""The built-in methods: SFT (the baseline), DPO and EXO with preferences and with a reward model,
Best-of-N."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.errors import InputError
from methods._base import Method, PairwiseMethod, RewardModelMethod

if TYPE_CHECKING:
    import torch

    from methods._context import MethodContext, Policy


CANDIDATE_OFFSET = 10_000


class SFT(Method):
    """The supervised base policy as is: the baseline every other method is compared with."""

    name = "sft"
    setting = "baseline"


class DPO(PairwiseMethod):
    """Direct Preference Optimization (Rafailov et al. 2023), sigmoid loss."""

    name = "dpo"

    @dataclass(frozen=True)
    class Params:
        beta: float | None = None  # None: the task's default (0.5 TL;DR/HH, 0.1 IMDB)

    def loss(self, logratios: torch.Tensor) -> torch.Tensor:
        from methods import losses

        return losses.dpo_pref(logratios, self.params.beta)


class EXO(PairwiseMethod):
    """Efficient exact optimization (Ji et al. 2024), preference form with label smoothing eps."""

    name = "exo"

    @dataclass(frozen=True)
    class Params:
        beta_pi: float | None = None
        eps: float = 1e-3  # the paper's label smoothing

    @classmethod
    def check(cls, params: dict[str, Any], task_cls: Any, source: str) -> None:
        super().check(params, task_cls, source)
        if not 0.0 < params["eps"] < 0.5:
            raise InputError(f"must be in (0, 0.5), got {params['eps']:g}: the target is the smoothed label "
                             "[1 - eps, eps]; at 0 the reverse KL to it is infinite, at 0.5 it says nothing",
                             source="spec", field=f"{source}eps")

    def loss(self, logratios: torch.Tensor) -> torch.Tensor:
        from methods import losses

        return losses.exo_pref(logratios, self.params.beta_pi, self.params.eps)


@dataclass(frozen=True)
class RewardModelParams:
    beta_pi: float | None = None  # None: the task's default
    beta_r: float | None = None  # None: the task's default
    k: int = 4  # completions sampled from the SFT policy per training prompt
    prompts: int = 0  # training prompts; 0: one per distinct prompt of the training pairs in use


class DPORewardModel(RewardModelMethod):
    """General DPO in the reward-model setting: forward KL, cross-entropy against softmax(r / beta_r)."""

    name = "dpo-rw"
    Params = RewardModelParams

    def loss(self, logratios: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        from methods import losses

        return losses.dpo_rw(logratios, rewards, self.params.beta_pi, self.params.beta_r)


class EXORewardModel(RewardModelMethod):
    """EXO in the reward-model setting: reverse KL(softmax(beta_pi log-ratio) || softmax(r / beta_r))."""

    name = "exo-rw"
    Params = RewardModelParams

    def loss(self, logratios: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        from methods import losses

        return losses.exo_rw(logratios, rewards, self.params.beta_pi, self.params.beta_r)


class BestOfN(Method):
    """Best-of-N: N samples from the SFT policy per output; the reward model keeps the highest."""

    name = "bon"
    setting = "reward-model"

    @dataclass(frozen=True)
    class Params:
        n: int = 4

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.derived_policy(self, based_on=ctx.base_policy(), judge=ctx.reward_model())

    def exact_distribution(self, logp: Any, reward: Any) -> Any:
        """On the exact task: Best-of-N's exact output distribution, from log pi_sft and the reward."""
        from bench.exact import best_of_n_logp

        return best_of_n_logp(logp, reward, self.params.n)

    def sample(self, ctx: MethodContext, policy: Policy, n: int) -> dict[str, list[dict[str, Any]]]:
        big_n = self.params.n
        # Candidates use SFT sample indices disjoint from SFT's own evaluation samples.
        candidates = ctx.sample(ctx.base_policy(), n * big_n, first_index=CANDIDATE_OFFSET)
        scores = ctx.reward_model().score_generations(candidates)
        picked: dict[str, list[dict[str, Any]]] = {}
        for prompt_id, rows in candidates.items():
            picked[prompt_id] = [max(rows[j * big_n:(j + 1) * big_n], key=lambda g: scores[g["id"]])
                                 for j in range(n)]
        return ctx.store_derived(policy, picked)

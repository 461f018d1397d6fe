"""The method plug-in API: a method turns a base policy into a policy, and samples from it.

A method is a small class registered by name (``METHODS.register("ipo", "mypkg.ipo:IPO")`` or the
``bench.methods`` entry-point group). It declares its hyper-parameters as a frozen dataclass ``Params``;
the run spec stores them, so a stored run can rebuild the method exactly.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from bench.config import build_section
from bench.errors import InputError

if TYPE_CHECKING:
    import torch

    from methods._context import MethodContext, Policy


@dataclasses.dataclass(frozen=True)
class NoParams:
    pass


class Method:
    """Base class. The default method is the base policy as is (what ``sft`` is)."""

    name: ClassVar[str] = ""
    #: the table group the method's row belongs to: baseline | preference | reward-model
    setting: ClassVar[str] = "preference"
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any) -> None:
        self.params = params

    @classmethod
    def resolve_params(cls, values: dict[str, Any], task_cls: Any, source: str) -> dict[str, Any]:
        """Validate ``values`` against ``Params``; a ``None`` value takes the task's ``default_params`` entry,
        or for a beta the task's default beta."""
        params = build_section(cls.Params, values, source, "spec")
        resolved = dataclasses.asdict(params)
        defaults = getattr(task_cls, "default_params", {})
        for key, value in resolved.items():
            if value is None and key in defaults:
                resolved[key] = float(defaults[key])
            elif value is None and key.startswith("beta"):
                resolved[key] = float(task_cls.default_beta)
        for key, value in resolved.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise InputError("must not be negative", source="spec", field=f"{source}{key}")
        return resolved

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> Method:
        return cls(cls.Params(**values))

    def policy(self, ctx: MethodContext) -> Policy:
        """Train or load this method's policy. The default: the base policy as is."""
        return ctx.base_policy()

    def sample(self, ctx: MethodContext, policy: Policy, n: int) -> dict[str, list[dict[str, Any]]]:
        """``n`` outputs per evaluation prompt. The default: sample from the policy."""
        return ctx.sample(policy, n)


class PairwiseMethod(Method):
    """A method trained on (chosen, rejected) pairs with a loss over per-sequence log-ratios.

    Subclasses implement :meth:`loss`; training, reference log-probs (computed once and cached),
    checkpointing and records are bench's.
    """

    setting: ClassVar[str] = "preference"

    def loss(self, logratios: torch.Tensor) -> torch.Tensor:
        """Per-pair loss from log-ratios of shape [pairs, 2] (chosen first)."""
        raise NotImplementedError

    def group_loss(self, logratios: torch.Tensor, rewards: torch.Tensor | None) -> torch.Tensor:
        return self.loss(logratios)

    def implicit_beta(self) -> float:
        """The beta that scales log-ratios into implicit rewards (for the reward-margin record)."""
        return float(getattr(self.params, "beta", getattr(self.params, "beta_pi", 1.0)))

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.train_pairwise(self)


class RewardModelMethod(PairwiseMethod):
    """A method trained in the reward-model setting (the EXO paper's "w/ Reward Model" rows): K
    completions per training prompt are sampled from the SFT policy, scored by the task's reward model,
    and the policy is trained with a loss over the K log-ratios and their rewards.

    ``Params`` must have ``k`` (completions per prompt) and ``prompts`` (training prompts; 0 = one per
    distinct prompt of the training pairs in use).
    """

    setting: ClassVar[str] = "reward-model"

    @classmethod
    def resolve_params(cls, values: dict[str, Any], task_cls: Any, source: str) -> dict[str, Any]:
        resolved = super().resolve_params(values, task_cls, source)
        if resolved.get("k", 2) < 2:
            raise InputError("needs at least 2 completions per prompt", source="spec", field=f"{source}k")
        return resolved

    def loss(self, logratios: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Per-prompt loss from log-ratios and rewards, both of shape [prompts, K]."""
        raise NotImplementedError

    def group_loss(self, logratios: torch.Tensor, rewards: torch.Tensor | None) -> torch.Tensor:
        if rewards is None:
            raise ValueError(f"{self.name} needs rewards")
        return self.loss(logratios, rewards)

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.train_with_reward_model(self)

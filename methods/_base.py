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
        """Validate ``values`` against ``Params``; a ``None`` beta takes the task's default beta."""
        params = build_section(cls.Params, values, source, "spec")
        resolved = dataclasses.asdict(params)
        for key, value in resolved.items():
            if value is None and key.startswith("beta"):
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

    def implicit_beta(self) -> float:
        """The beta that scales log-ratios into implicit rewards (for the reward-margin record)."""
        return float(getattr(self.params, "beta", getattr(self.params, "beta_pi", 1.0)))

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.train_pairwise(self)

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


#: Where a training pair of an online round came from (``LossInputs.sources`` holds these codes):
#: ``data`` a pair of the task's preference data with its own label; ``data-relabelled`` a pair of the task's
#: data whose label the training loop redraws at every step from the policy's own Bradley–Terry preference
#: (SAIL's DDP); ``policy-self`` two samples of the policy labelled by its implicit reward (DPP);
#: ``policy-reward`` two samples of the policy labelled by the reward model (DPR).
PAIR_SOURCES = ("data", "data-relabelled", "policy-self", "policy-reward")
DATA, DATA_RELABELLED, POLICY_SELF, POLICY_REWARD = range(len(PAIR_SOURCES))
#: added to the training seed for the relabelling draws, so they are a stream of their own (not the batch order's)
RELABEL_STREAM = 0x5EED_DD9


def relabel_generator(seed: int):  # -> torch.Generator
    """The generator of the relabelling draws of a training run with ``seed`` (both training loops)."""
    import torch

    return torch.Generator().manual_seed(seed + RELABEL_STREAM)


def mixed_counts(n: int, share: float, relabel: float) -> tuple[int, int]:
    """Of ``n`` online pairs: how many become plain task pairs, and how many task pairs in all (the rest of
    them relabelled by the policy), for the ``offline`` and ``relabel`` shares (both contexts' ``mixed_pairs``)."""
    m = min(round(share * n), n)
    return m, m + min(round(relabel * n), n - m)


@dataclasses.dataclass(frozen=True)
class LossInputs:
    """What a loss sees of a batch of groups (a prompt and K completions; for pairs K = 2, chosen first).

    ``logps`` are the policy's per-sequence log-probabilities [B, K] (with gradient), ``ref_logps`` the
    reference policy's [B, K] (no gradient), ``rewards`` the completions' rewards [B, K] in the
    reward-model setting, else ``None``; ``sources`` [B] the pairs' origins (codes of ``PAIR_SOURCES``) in
    online rounds, else ``None`` (all ``data``). ``data-relabelled`` pairs arrive already relabelled for this
    step (chosen first).
    """

    logps: torch.Tensor
    ref_logps: torch.Tensor
    rewards: torch.Tensor | None = None
    sources: torch.Tensor | None = None

    @property
    def logratios(self) -> torch.Tensor:
        """log pi(y|x) - log pi_ref(y|x), [B, K]."""
        return self.logps - self.ref_logps


def relabel_by_policy(inputs: LossInputs, beta: float, uniforms: torch.Tensor) -> tuple[LossInputs, int]:
    """``inputs`` with every ``data-relabelled`` pair labelled afresh by the policy's own Bradley–Terry
    preference: chosen and rejected swap where ``uniforms`` [B] < 1 - sigmoid(beta * margin), the margin being
    the current log-ratio difference (no gradient); and the number of pairs swapped. Both training loops call
    it before the loss."""
    import torch

    if inputs.sources is None:
        return inputs, 0
    margin = (inputs.logratios[:, 0] - inputs.logratios[:, 1]).detach()
    swap = (inputs.sources == DATA_RELABELLED) & (uniforms.to(margin.device) < 1.0 - torch.sigmoid(beta * margin))
    swapped = int(swap.sum())
    if not swapped:
        return inputs, 0

    def flip(t: torch.Tensor) -> torch.Tensor:
        return torch.where(swap[:, None], t.flip(1), t)

    return LossInputs(flip(inputs.logps), flip(inputs.ref_logps),
                      None if inputs.rewards is None else flip(inputs.rewards), inputs.sources), swapped


def check_group_size(k: int, task_cls: Any, field: str) -> None:
    """K completions sampled per prompt: at least 2 (a softmax over one sample is constant), and no more than
    the distinct outputs a prompt has when the task can enumerate them (``Task.outputs_per_prompt``)."""
    if k < 2:
        raise InputError(f"needs at least 2 completions per prompt, got {k}", source="spec", field=field)
    bound = getattr(task_cls, "outputs_per_prompt", None)
    if bound is not None and k > bound:
        raise InputError(f"k = {k} is more than the {bound} distinct outputs a prompt has on task "
                         f"{task_cls.name!r}; use k <= {bound}", source="spec", field=field)


class Method:
    """Base class. The default method is the base policy as is (what ``sft`` is)."""

    name: ClassVar[str] = ""
    #: the table group the method's row belongs to: baseline | preference | reward-model
    setting: ClassVar[str] = "preference"
    Params: ClassVar[type] = NoParams
    #: whether the policy depends on a training seed (then ``train.seeds`` trains one policy per seed)
    trains: ClassVar[bool] = False
    #: ``beta...`` settings that may be 0 (the others must be > 0; see :meth:`check`)
    zero_allowed: ClassVar[tuple[str, ...]] = ()

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
        cls.check(resolved, task_cls, source)
        for key, value in resolved.items():
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise InputError("must not be negative", source="spec", field=f"{source}{key}")
        return resolved

    @classmethod
    def check(cls, params: dict[str, Any], task_cls: Any, source: str) -> None:
        """Refuse settings the method cannot train with while the run spec is built, before anything runs:
        raise ``InputError`` naming the field and the constraint. The default: every ``beta...`` setting must
        be > 0 (a beta is a temperature, pi* ∝ pi_sft exp(r / beta)), except those in ``zero_allowed`` (>= 0).
        A subclass adds its own constraints and calls ``super().check``."""
        for key, value in params.items():
            if not key.startswith("beta") or not isinstance(value, int | float) or isinstance(value, bool):
                continue
            if key in cls.zero_allowed and value < 0:
                raise InputError(f"must be >= 0, got {value:g}", source="spec", field=f"{source}{key}")
            if key not in cls.zero_allowed and value <= 0:
                raise InputError(f"must be > 0, got {value:g} (a beta is a temperature: pi* ∝ pi_sft exp(r / beta))",
                                 source="spec", field=f"{source}{key}")

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> Method:
        return cls(cls.Params(**values))

    def policy(self, ctx: MethodContext) -> Policy:
        """Train or load this method's policy. The default: the base policy as is."""
        return ctx.base_policy()

    def sample(self, ctx: MethodContext, policy: Policy, n: int) -> dict[str, list[dict[str, Any]]]:
        """``n`` outputs per evaluation prompt. The default: sample from the policy."""
        return ctx.sample(policy, n)


@dataclasses.dataclass(frozen=True)
class Online:
    """Online iterative training of any pairwise method (``--set exo.rounds=3``): round 1 trains on the
    task's preference pairs; each later round samples ``k`` completions per training prompt from the
    current policy, labels them (``label``: ``reward`` = the reward model, ``self`` = the policy's implicit
    reward beta log pi/pi_ref, ``both`` = each pair's labeller drawn at even odds), and trains on them
    starting from the current policy (``methods.iterative``). ``offline`` is the share of a later round's
    pairs replaced by the task's own preference pairs, ``relabel`` the share replaced by task pairs that the
    policy relabels at every step (SAIL's mixing of offline and online data, and its DDP route)."""

    rounds: int = 1
    label: str = "reward"  # reward | self | both
    k: int = 2  # completions sampled per training prompt in each online round
    offline: float = 0.0  # share of each later round's pairs taken from the task's preference data
    relabel: float = 0.0  # share taken from the task's pairs and relabelled by the policy at every step

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise InputError(f"must be at least 1, got {self.rounds}", source="spec", field="rounds")
        if self.k < 2:
            raise InputError(f"needs at least 2 completions per prompt, got {self.k}", source="spec", field="k")
        for name in ("offline", "relabel"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise InputError(f"expected a share in [0, 1), got {getattr(self, name)!r}", source="spec",
                                 field=name)
        if self.offline + self.relabel >= 1.0:
            raise InputError(f"offline + relabel = {self.offline + self.relabel:g} leaves no online samples; "
                             "keep their sum below 1", source="spec", field="relabel")
        if self.label not in ("reward", "self", "both"):
            raise InputError(f"expected reward, self or both, got {self.label!r}", source="spec", field="label")


class PairwiseMethod(Method):
    """A method trained on (chosen, rejected) pairs with a loss over per-sequence log-ratios.

    Subclasses implement :meth:`loss` (or :meth:`group_loss`); training, reference log-probs (computed once
    and cached), checkpointing and records are bench's. Every pairwise method also takes the keys of
    :class:`Online` (``rounds``, ``label``, ``k``) for online iterative training.
    """

    setting: ClassVar[str] = "preference"
    trains: ClassVar[bool] = True
    #: online settings a subclass starts from (the ``sail`` method: 3 rounds)
    online_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: Any, online: Online | None = None) -> None:
        super().__init__(params)
        self.online = online or Online(**self.online_defaults)

    @classmethod
    def resolve_params(cls, values: dict[str, Any], task_cls: Any, source: str) -> dict[str, Any]:
        keys = {f.name for f in dataclasses.fields(Online)} if cls.setting == "preference" else set()
        given = {k: v for k, v in values.items() if k in keys}
        resolved = super().resolve_params({k: v for k, v in values.items() if k not in keys}, task_cls, source)
        online = build_section(Online, {**cls.online_defaults, **given}, source, "spec")
        if online.rounds > 1:
            check_group_size(online.k, task_cls, f"{source}k")
        # Stored only when they differ from plain offline training, so offline specs keep their identity
        # (and the shares only when set, so online specs from before they existed keep theirs).
        stored = {k: v for k, v in dataclasses.asdict(online).items() if k not in ("offline", "relabel") or v}
        return {**resolved, **(stored if given or cls.online_defaults else {})}

    @classmethod
    def from_params(cls, values: dict[str, Any]) -> Method:
        keys = {f.name for f in dataclasses.fields(Online)} if cls.setting == "preference" else set()
        online = Online(**{**cls.online_defaults, **{k: v for k, v in values.items() if k in keys}})
        return cls(cls.Params(**{k: v for k, v in values.items() if k not in keys}), online)

    def loss(self, logratios: torch.Tensor) -> torch.Tensor:
        """Per-pair loss from log-ratios of shape [pairs, 2] (chosen first)."""
        raise NotImplementedError

    def group_loss(self, inputs: LossInputs) -> torch.Tensor:
        """Per-group loss [B]. The default: :meth:`loss` on the log-ratios. Override it for a loss that needs
        the policy's own log-likelihoods (``inputs.logps``) or no reference at all."""
        return self.loss(inputs.logratios)

    def implicit_beta(self) -> float:
        """The beta that scales log-ratios into implicit rewards (for the reward-margin record)."""
        return float(getattr(self.params, "beta", getattr(self.params, "beta_pi", 1.0)))

    def policy(self, ctx: MethodContext) -> Policy:
        if self.online.rounds > 1:
            from methods.iterative import train_online

            return train_online(ctx, self)
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
        check_group_size(resolved.get("k", 2), task_cls, f"{source}k")
        return resolved

    def loss(self, logratios: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """Per-prompt loss from log-ratios and rewards, both of shape [prompts, K]."""
        raise NotImplementedError

    def group_loss(self, inputs: LossInputs) -> torch.Tensor:
        if inputs.rewards is None:
            raise ValueError(f"{self.name} needs rewards")
        return self.loss(inputs.logratios, inputs.rewards)

    def policy(self, ctx: MethodContext) -> Policy:
        return ctx.train_with_reward_model(self)

"""The run spec: one frozen object, built as defaults < preset < YAML config < command-line flags.

Validation happens here, where the spec is built, with errors that name the source and the field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from bench.errors import InputError

Params = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class EvalSpec:
    """How policies are sampled on the evaluation prompts."""

    prompts: int = 64
    samples: int = 4
    max_new_tokens: int = 64
    temperature: float = 0.8
    top_p: float = 1.0
    max_prompt_tokens: int = 512


@dataclass(frozen=True)
class TrainSpec:
    """Policy training shared by the training methods (paper defaults: lr 1e-6, batch 64, 1 epoch)."""

    pairs: int = 0  # 0 = every training pair
    batch_size: int = 64
    micro_batch: int = 2
    lr: float = 1e-6
    epochs: int = 1
    max_prompt_tokens: int = 512
    max_completion_tokens: int = 64
    autocast_bf16: bool = True
    checkpoints: int = 0  # evenly spaced intermediate checkpoints kept for the reward-KL frontier (0 = none)
    # Training seeds per trained method: seed, seed + 1, ... each train their own policy on the same data
    # (the data, its labels, the reward model and the oracle keep ``seed``), for intervals over seeds.
    seeds: int = 1
    # Data-parallel processes per policy (torch.distributed.run + accelerate: one per GPU, or CPU processes
    # with gloo); each takes a slice of every batch, so the updates are those of one process.
    processes: int = 1

    def __post_init__(self) -> None:
        if self.checkpoints < 0:
            raise InputError("must not be negative", source="spec", field="train.checkpoints")
        for name in ("seeds", "processes"):
            if getattr(self, name) < 1:
                raise InputError("must be at least 1", source="spec", field=f"train.{name}")
        if self.processes > self.batch_size:
            raise InputError(f"more processes than groups in a batch ({self.batch_size})", source="spec",
                             field="train.processes")

    def identity(self) -> dict[str, Any]:
        """The settings that shape one trained policy (how many seeds are trained, and on how many
        processes, do not)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("seeds", "processes")}


@dataclass(frozen=True)
class RewardModelSpec:
    """The reward-model judge: a scalar head on an encoder, trained with the Bradley-Terry loss."""

    backbone: str = "minilm-l6"
    pairs: int = 0  # 0 = every training pair
    val_pairs: int = 500
    epochs: int = 1
    lr: float = 3e-5
    batch_size: int = 16
    max_tokens: int = 384
    calibrate: bool = True  # rewards = t x score, t fit on the validation pairs (judges.reward_model.calibrate)


@dataclass(frozen=True)
class ExactSpec:
    """Training on the exact task, whose policies are tables rather than language models."""

    seeds: int = 5  # seeds spec.seed .. spec.seed + seeds - 1, each trains every method in every class
    classes: str = "tabular,factorized"
    steps: int = 4000
    batch_size: int = 1024  # groups per step: DPO needs millions of labelled pairs to pin pi*'s modes
    lr: float = 0.05  # Adam, decayed linearly to zero
    pairs: int = 0  # training groups drawn once from pi_sft; 0 = fresh groups every step
    record_every: int = 100

    CLASSES = ("tabular", "factorized")

    def __post_init__(self) -> None:
        for key in ("seeds", "steps", "batch_size", "record_every"):
            if getattr(self, key) < 1:
                raise InputError("must be at least 1", source="spec", field=f"exact.{key}")
        if self.pairs < 0:
            raise InputError("must not be negative", source="spec", field="exact.pairs")
        unknown = [c for c in self.class_names() if c not in self.CLASSES] or ([] if self.class_names() else [""])
        if unknown:
            raise InputError(f"unknown policy class {unknown[0]!r}; known: {', '.join(self.CLASSES)}",
                             source="spec", field="exact.classes")

    def class_names(self) -> list[str]:
        return [c.strip() for c in self.classes.split(",") if c.strip()]


@dataclass(frozen=True)
class LLMJudgeSpec:
    """The LLM pairwise judge: any OpenAI-compatible endpoint (GPT-4 by default, or ``bench serve-judge``).

    Every pair is judged in both orders. The API key is read from the variable ``api_key_env`` and never
    stored. Prices (USD per million tokens) only feed the cost figures; the defaults are GPT-4 (8k) list
    prices."""

    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4"
    api_key_env: str = "OPENAI_API_KEY"
    template: str = ""  # "" = the task's (tldr_v1, hh_v1, generic_v1), or a .yaml file
    temperature: float = 0.0
    max_tokens: int = 256
    samples: int = 1  # samples per prompt and side that are judged (the paper: one)
    concurrency: int = 8
    max_retries: int = 6
    timeout_s: float = 120.0
    backoff_s: float = 1.0
    price_prompt: float = 30.0
    price_completion: float = 60.0
    # vLLM endpoints only: force answers into the template's response pattern (structured outputs), for
    # small local judges that do not follow the format on their own. Part of the judge's identity.
    constrain: bool = False

    def __post_init__(self) -> None:
        for key in ("max_tokens", "samples", "concurrency"):
            if getattr(self, key) < 1:
                raise InputError("must be at least 1", source="spec", field=f"llm_judge.{key}")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise InputError("retries and backoff must not be negative, the timeout positive", source="spec",
                             field="llm_judge.max_retries")
        if not self.base_url.startswith(("http://", "https://")):
            raise InputError(f"expected an http(s) URL, got {self.base_url!r}", source="spec",
                             field="llm_judge.base_url")


@dataclass(frozen=True)
class FrontierSpec:
    """The reward-KL frontier of tasks with an oracle reward (imdb): every method's checkpoints, SFT and
    Best-of-N at several N, evaluated on held-out prompts sampled at temperature 1."""

    prompts: int = 64  # held-out prompts (0 = all)
    samples: int = 2  # samples per prompt from each checkpoint
    pool: int = 16  # SFT samples per prompt: SFT's point and Best-of-N at every N, from one pool
    bon_n: str = "1,2,4,8,16"
    temperature: float = 1.0  # the KL estimator is unbiased only for samples of pi itself (temperature 1)
    oracle_backbone: str = "minilm-l6"
    oracle_max_tokens: int = 160

    def __post_init__(self) -> None:
        for key in ("samples", "pool"):
            if getattr(self, key) < 1:
                raise InputError("must be at least 1", source="spec", field=f"frontier.{key}")
        try:
            ns = self.ns()
        except ValueError:
            raise InputError(f"expected comma-separated integers, got {self.bon_n!r}", source="spec",
                             field="frontier.bon_n") from None
        if any(n < 1 or n > self.pool for n in ns):
            raise InputError(f"every N must be between 1 and frontier.pool={self.pool}", source="spec",
                             field="frontier.bon_n")
        if self.temperature <= 0:
            raise InputError("must be positive", source="spec", field="frontier.temperature")

    def ns(self) -> list[int]:
        return sorted({int(v) for v in self.bon_n.split(",") if v.strip()})


@dataclass(frozen=True)
class EngineSpec:
    kind: str = "vllm"  # vllm | hf
    dtype: str = "float32"  # bf16 would round away small policy updates (lr 1e-6)
    kv_cache_gib: int = 2
    # vLLM shards the model over this many ranks (GPUs, or groups of CPU cores); samples keep their identity
    tensor_parallel_size: int = 1

    def __post_init__(self) -> None:
        if self.tensor_parallel_size < 1:
            raise InputError("must be at least 1", source="spec", field="engine.tensor_parallel_size")
        if self.tensor_parallel_size > 1 and self.kind != "vllm":
            raise InputError("only the vllm engine shards a model; use engine.kind=vllm or a size of 1",
                             source="spec", field="engine.tensor_parallel_size")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: Params = ()

    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class RunSpec:
    task: str
    methods: tuple[MethodSpec, ...]
    model: str = "smollm2-135m"
    preset: str = "default"
    seed: int = 0
    eval: EvalSpec = field(default_factory=EvalSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    reward_model: RewardModelSpec = field(default_factory=RewardModelSpec)
    engine: EngineSpec = field(default_factory=EngineSpec)
    exact: ExactSpec = field(default_factory=ExactSpec)
    llm_judge: LLMJudgeSpec = field(default_factory=LLMJudgeSpec)
    frontier: FrontierSpec = field(default_factory=FrontierSpec)

    def method(self, name: str) -> MethodSpec:
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for name in ("seeds", "processes"):  # stored only when set: specs from before they existed keep their identity
            if getattr(self.train, name) == 1:
                del d["train"][name]
        if self.engine.tensor_parallel_size == 1:
            del d["engine"]["tensor_parallel_size"]
        d["methods"] = [{"name": m.name, "params": dict(m.params)} for m in self.methods]
        return d


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # Minutes on a 2-core CPU: proves every layer end to end, not a measurement of the methods.
    "smoke": {
        "eval": {"prompts": 8, "samples": 4, "max_new_tokens": 48, "max_prompt_tokens": 384},
        "train": {"pairs": 16, "batch_size": 4, "micro_batch": 2, "lr": 5e-6,
                  "max_prompt_tokens": 384, "max_completion_tokens": 48},
        "reward_model": {"pairs": 512, "val_pairs": 200, "batch_size": 16, "max_tokens": 192},
    },
    # The EXO paper's settings (lr 1e-6, batch 64, one epoch, temperature 0.8) on the full data.
    "paper": {"eval": {"prompts": 0}},
}
# Per-task settings layered over a preset (below the YAML config and flags).
TASK_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # IMDB at smoke size (tens of minutes on a shared 2-core machine): pairs sampled from SFT and labelled by
    # the oracle (the reward model learns from 128, the policies from 24: 3 steps), a larger lr so 3 steps move
    # the policy, one intermediate checkpoint for the frontier, a frontier on 16 held-out prefixes. "methods"
    # holds method settings, applied to those of the run's methods they name (under YAML and flags like the rest).
    "imdb": {"smoke": {
        "train": {"pairs": 24, "batch_size": 8, "lr": 5e-5, "checkpoints": 1},
        "reward_model": {"pairs": 128, "val_pairs": 64},
        "frontier": {"prompts": 16, "samples": 2, "pool": 8, "bon_n": "1,2,4,8"},
        "methods": {"ppo": {"rollout_batch": 8}},  # PPO: 3 rounds over the same 24 prompts
    }},
    # HH replies run longer than TL;DR summaries (held-out chosen replies in SmolLM2 tokens: median 53, 41% over
    # 64, 16% over 128): 128 new tokens outside the smoke preset, so fewer replies are cut short.
    "hh": {preset: {"eval": {"max_new_tokens": 128}, "train": {"max_completion_tokens": 128}}
           for preset in ("default", "paper")},
}


def coerce(value: Any, typ: Any, where: str, source: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return None if value is None else coerce(value, args[0], where, source)
    try:
        if typ is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, bool | int):
                return bool(value)
            raise ValueError(value)
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if typ is str:
            if not isinstance(value, str | int | float):
                raise ValueError(value)
            return str(value)
    except (TypeError, ValueError):
        name = getattr(typ, "__name__", str(typ))
        raise InputError(f"expected {name}, got {value!r}", source=source, field=where) from None
    return value


def build_section(cls: type, values: dict[str, Any], prefix: str, source: str) -> Any:
    """Build dataclass ``cls`` from ``values``, rejecting unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise InputError(f"unknown setting; known: {', '.join(sorted(known))}", source=source,
                             field=f"{prefix}{key}")
    kwargs = {k: coerce(v, hints[k], f"{prefix}{k}", source) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except InputError as e:  # the dataclass's own checks may name a bare field: name it as the user wrote it
        if e.field not in known:
            raise
        raise InputError(e.message, source=source, field=f"{prefix}{e.field}") from None

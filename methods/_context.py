"""What a method sees of bench: the base policy, the data, cached sampling, the reward model, training."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.generation import PromptRef, Sampler, generation_id
from bench.hashing import content_key

if TYPE_CHECKING:
    from bench.config import RunSpec
    from bench.models import ModelRef
    from bench.tasks import Task, TaskData
    from judges.reward_model import RewardModelJudge
    from methods._base import Method, PairwiseMethod, RewardModelMethod

log = logging.getLogger(__name__)
TRAINER_VERSION = "1"


@dataclass(frozen=True)
class Policy:
    id: str
    method: str
    kind: str  # base | trained | derived | reference
    path: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class MethodContext:
    """Built once per run by the runner; shared by all methods of the run."""

    def __init__(self, *, spec: RunSpec, task: Task, data: TaskData, base: ModelRef, store: Any,
                 sampler: Sampler, prompts: list[PromptRef], artifacts: Path, reward_model: Any) -> None:
        self.spec, self.task, self.data, self.base, self.store = spec, task, data, base, store
        self.sampler, self.prompts, self.artifacts = sampler, prompts, artifacts
        self._reward_model = reward_model  # a zero-argument callable, so the judge trains only if needed
        self._tokenizer: Any = None
        self.train_seed = spec.seed

    def with_seed(self, seed: int) -> MethodContext:
        """The same context training with ``seed`` (``train.seeds``); data, labels and judges keep the run's."""
        other = copy.copy(self)
        other.train_seed = seed
        return other

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.base.path))
        return self._tokenizer

    def reward_model(self) -> RewardModelJudge:
        return self._reward_model()

    # -- policies --------------------------------------------------------------------------------
    def base_policy(self) -> Policy:
        pid = content_key("policy", "base", self.base.identity)
        policy = Policy(id=pid, method="sft", kind="base", path=str(self.base.path),
                        info={"model": self.base.name, "identity": self.base.identity})
        self.store.put_policy({"id": pid, "method": "sft", "kind": "base", "params_json": "{}",
                               "path": policy.path, "info_json": json.dumps(policy.info)})
        return policy

    def derived_policy(self, method: Method, *, based_on: Policy, judge: Any) -> Policy:
        params = asdict(method.params)
        pid = content_key("policy", "derived", method.name, params, based_on.id, judge.id)
        info = {"based_on": based_on.id, "judge": judge.id}
        self.store.put_policy({"id": pid, "method": method.name, "kind": "derived",
                               "params_json": json.dumps(params), "info_json": json.dumps(info)})
        return Policy(id=pid, method=method.name, kind="derived", info=info)

    def external_policy(self, method: Method, *, identity: str, info: dict[str, Any]) -> Policy:
        """A policy whose outputs are imported rather than sampled; ``identity`` names their content."""
        pid = content_key("policy", "external", method.name, identity)
        info = {**info, "identity": identity}
        self.store.put_policy({"id": pid, "method": method.name, "kind": "external",
                               "params_json": json.dumps(asdict(method.params)), "info_json": json.dumps(info)})
        return Policy(id=pid, method=method.name, kind="external", info=info)

    @property
    def seed(self) -> int:
        """The training seed: batch order, the reward-model setting's SFT samples, the samples of online
        rounds, PPO's rollouts."""
        return self.train_seed

    def train_pairwise(self, method: PairwiseMethod, groups: Any = None, init: Policy | None = None,
                       key: tuple = ()) -> Policy:
        """Train ``method`` on the task's preference pairs, or on ``groups`` (from :meth:`preference_pairs`),
        starting from the base model or from the policy ``init``; ``key`` names the groups' origin."""
        from methods._pairwise import train_policy

        return train_policy(self, method, groups=groups, extra_key=tuple(key), init=init)

    # -- online rounds (methods.iterative): samples of a policy, their rewards, pairs ------------------
    def training_samples(self, policy: Policy, k: int, round_index: int) -> Any:
        """``k`` samples from ``policy`` for each training prompt (cached in the store like any other)."""
        from methods._online import training_samples

        return training_samples(self, policy, k, round_index)

    def reward(self, samples: Any) -> Any:
        """The reward model's calibrated rewards (t x score, see RewardModelJudge.temperature) of the samples,
        [prompts, k]."""
        from methods._online import reward

        return reward(self, samples)

    def logratios(self, policy: Policy, samples: Any) -> Any:
        """log pi(y|x) - log pi_ref(y|x) of the samples under ``policy``, [prompts, k]."""
        from methods._online import logratios

        return logratios(self, policy, samples)

    def preference_pairs(self, samples: Any, chosen: Any, rejected: Any, sources: Any = None) -> Any:
        """(chosen, rejected) groups: per prompt, the samples in columns ``chosen`` and ``rejected``, tagged
        with ``sources`` (codes of ``methods.PAIR_SOURCES``, one per prompt) when given."""
        from methods._online import preference_pairs

        return preference_pairs(samples, chosen, rejected, sources)

    def mixed_pairs(self, pairs: Any, share: float, round_index: int, relabel: float = 0.0) -> Any:
        """``pairs`` with a seeded random ``share`` of them replaced by the task's own preference pairs
        (drawn without replacement while they last), and a further ``relabel`` share by task pairs tagged
        ``data-relabelled`` (the policy relabels them at every step): offline data mixed into an online round."""
        from methods._online import mixed_pairs

        return mixed_pairs(self, pairs, share, round_index, relabel)

    def train_with_reward_model(self, method: RewardModelMethod) -> Policy:
        """Sample K completions per training prompt from the base policy, score them with the reward
        model, and train on the groups (samples and scores are cached in the store like any other)."""
        from methods._reward_setting import train_groups

        return train_groups(self, method)

    def train_ppo(self, method: Method) -> Policy:
        """PPO on rollouts of the policy being trained, scored by the reward model (``methods._ppo``)."""
        from methods._ppo import train_ppo_policy

        return train_ppo_policy(self, method)

    def policy_key(self, method: Method, *extra: Any) -> str:
        """Identity of a trained policy: method, params, base model, training data and settings, seed."""
        pairs = [(p.prompt, p.chosen, p.rejected) for p in self.data.train_pairs]
        return content_key("policy", "trained", TRAINER_VERSION, method.name, asdict(method.params),
                           self.base.identity, content_key(pairs), self.spec.train.identity(), self.seed, *extra)

    # -- sampling ----------------------------------------------------------------------------------
    def sample(self, policy: Policy, n: int, first_index: int = 0) -> dict[str, list[dict[str, Any]]]:
        """``n`` samples per evaluation prompt from ``policy`` (cached in the store)."""
        if policy.path is None:
            raise ValueError(f"policy {policy.method} has no weights to sample from")
        return self.sampler.ensure(policy.id, policy.path, self.prompts, n, label=policy.method,
                                   first_index=first_index)

    def store_outputs(self, policy: Policy, texts: dict[str, list[str]]) -> dict[str, list[dict]]:
        """Store given texts (e.g. an external system's outputs) as the policy's samples, per prompt id."""
        tok = self.tokenizer
        picked = {pid: [{"id": None, "text": t, "n_tokens": len(tok(t, add_special_tokens=False).input_ids),
                         "finish_reason": "external"} for t in ts] for pid, ts in texts.items()}
        return self.store_derived(policy, picked)

    def store_derived(self, policy: Policy, picked: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict]]:
        """Store outputs chosen among other generations (e.g. Best-of-N) as the policy's samples."""
        key = self.sampler.sampling_key
        rows = []
        for prompt_id, gens in picked.items():
            for i, g in enumerate(gens):
                rows.append({"id": generation_id(policy.id, prompt_id, key, i), "policy_id": policy.id,
                             "prompt_id": prompt_id, "sampling_key": key, "sample_index": i, "text": g["text"],
                             "n_tokens": g["n_tokens"], "logprob": None, "finish_reason": g["finish_reason"],
                             "source_id": g["id"]})
        self.store.put_generations(rows)
        return self.store.generations_by_prompt(policy.id, key, list(picked))

"""What a method sees on the exact task: the same calls ``Method.policy`` makes on a language-model task
(``base_policy``, ``train_pairwise``, ``train_with_reward_model``, ``derived_policy``, ``reward_model``),
answered with tables over the enumerated output space."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError
from bench.exact._metrics import METRICS, evaluate
from bench.hashing import content_key
from methods._context import Policy

if TYPE_CHECKING:
    from bench.config import RunSpec
    from bench.tasks.exact import ExactProblem

TRAINER_VERSION = "2"  # 2: training records from methods._train.group_records


@dataclass(frozen=True)
class ExactReward:
    """The task's known reward, in the role a reward model plays elsewhere."""

    id: str
    table: np.ndarray  # [prompts, outputs]


def problem_identity(task_version: str, problem: ExactProblem) -> str:
    return content_key("exact-problem", task_version, problem.identity())


class ExactContext:
    """One policy class and one seed; built by the exact pipeline for each (class, seed)."""

    def __init__(self, *, spec: RunSpec, task_version: str, problem: ExactProblem, store: Any,
                 policy_class: str, seed: int, artifacts: Path) -> None:
        self.spec, self.problem, self.store = spec, problem, store
        self.policy_class, self.seed, self.artifacts = policy_class, seed, artifacts
        self.identity = problem_identity(task_version, problem)
        self._reward = ExactReward(content_key("judge", "exact-reward", self.identity), problem.reward)

    def reward_model(self) -> ExactReward:
        return self._reward

    def base_policy(self) -> Policy:
        pid = content_key("policy", "exact-base", self.identity)
        return self._ensure(pid, "sft", "base", {}, {"class": "any"}, lambda: (self.problem.sft_logp(), []))

    def derived_policy(self, method: Any, *, based_on: Policy, judge: ExactReward) -> Policy:
        if not hasattr(method, "exact_distribution"):
            raise BenchError(f"method {method.name!r} derives its outputs from another policy but defines no "
                             "exact_distribution(logp, reward), so it cannot run on the exact task")
        params = asdict(method.params)
        pid = content_key("policy", "exact-derived", method.name, params, based_on.id, judge.id)
        info = {"class": "any", "based_on": based_on.id, "judge": judge.id}
        return self._ensure(pid, method.name, "derived", params, info,
                            lambda: (method.exact_distribution(self.logp(based_on.id), judge.table), []))

    def external_policy(self, method: Any, **_: Any) -> Policy:
        raise BenchError(f"method {method.name!r} imports outputs; the exact task measures distributions, "
                         "so it cannot take imported outputs")

    def train_pairwise(self, method: Any) -> Policy:
        return self._trained(method, with_rewards=False)

    def train_with_reward_model(self, method: Any) -> Policy:
        return self._trained(method, with_rewards=True)

    def train_ppo(self, method: Any) -> Policy:
        """PPO on rollouts of its own policy, rewarded by the known table (``bench.exact._ppo``)."""
        from bench.exact._ppo import PPO_VERSION, iterations, train_ppo_exact

        e = self.spec.exact
        params = asdict(method.params)
        pid = content_key("policy", "exact-trained", "ppo", PPO_VERSION, self.identity, method.name, params,
                          self.policy_class, self.seed, e.steps, e.batch_size, e.lr, e.record_every)
        info = {"class": self.policy_class, "seed": self.seed, "steps": e.steps, "rollouts_per_round": e.batch_size,
                "rounds": iterations(method.params, e)}

        def train() -> tuple[np.ndarray, list[dict[str, Any]]]:
            logp, records, seconds = train_ppo_exact(method, self.problem, self.policy_class, self.seed, e)
            info["train_seconds"] = round(seconds, 3)
            return logp, records

        return self._ensure(pid, method.name, "trained", params, info, train)

    def _trained(self, method: Any, with_rewards: bool) -> Policy:
        from bench.exact._train import train_exact

        e = self.spec.exact
        params = asdict(method.params)
        pid = content_key("policy", "exact-trained", TRAINER_VERSION, self.identity, method.name, params,
                          self.policy_class, self.seed, e.steps, e.batch_size, e.lr, e.pairs, e.record_every)
        info = {"class": self.policy_class, "seed": self.seed, "steps": e.steps, "batch_size": e.batch_size,
                "completions_per_prompt": int(params.get("k", 2)) if with_rewards else 2}

        def train() -> tuple[np.ndarray, list[dict[str, Any]]]:
            logp, records, seconds = train_exact(method, self.problem, self.policy_class, self.seed, e,
                                                 with_rewards)
            info["train_seconds"] = round(seconds, 3)
            return logp, records

        return self._ensure(pid, method.name, "trained", params, info, train)

    # -- storage -------------------------------------------------------------------------------------
    def _path(self, pid: str) -> Path:
        return self.artifacts / "exact" / f"{pid}.npy"

    def logp(self, pid: str) -> np.ndarray:
        return np.load(self._path(pid))

    def _ensure(self, pid: str, method: str, kind: str, params: dict, info: dict, build: Any) -> Policy:
        row = self.store.policy(pid)
        if row is not None and self._path(pid).is_file():
            return Policy(id=pid, method=method, kind=kind, info=json.loads(row["info_json"]))
        logp, records = build()
        # Training records end with the final step's exact metrics; other policies are measured here.
        points = records or [{"step": 0, **evaluate(logp, self.problem.sft_logp(), self.problem.reward,
                                                    self.problem.beta)}]
        info = {**info, "final": {k: points[-1][k] for k in METRICS}}
        metrics = [{"step": r["step"], "name": k, "value": float(r[k])} for r in points for k in METRICS]
        path = self._path(pid)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, logp)
        tmp.replace(path)
        self.store.put_policy({"id": pid, "method": method, "kind": kind, "params_json": json.dumps(params),
                               "path": str(path), "info_json": json.dumps(info)}, steps=records, metrics=metrics)
        return Policy(id=pid, method=method, kind=kind, path=str(path), info=info)

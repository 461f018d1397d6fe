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

TRAINER_VERSION = "3"  # 2: records from methods._train.group_records; 3: parameters kept for online rounds


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

    def train_pairwise(self, method: Any, groups: Any = None, init: Policy | None = None, key: tuple = ()) -> Policy:
        """Train ``method`` on the task's preference pairs from pi_sft, or on ``groups`` (from
        :meth:`preference_pairs`), starting from pi_sft or from the policy ``init``."""
        return self._trained(method, with_rewards=False, groups=groups, init=init, key=key)

    # -- online rounds (methods.iterative): samples of a policy, their rewards, pairs ------------------
    def training_samples(self, policy: Policy, k: int, round_index: int) -> Any:
        """``k`` outputs sampled from ``policy`` for each of ``exact.pairs`` prompts drawn uniformly, or, when
        ``exact.pairs`` is 0, of ``exact.steps x exact.batch_size`` prompts: one fresh group for every group a
        round's training draws, as offline training draws fresh groups from pi_sft."""
        from bench.exact._online import sample_groups

        e = self.spec.exact
        return sample_groups(self.logp(policy.id), k, e.pairs or e.steps * e.batch_size, [self.seed, round_index])

    def reward(self, samples: Any) -> np.ndarray:
        return self.problem.reward[samples.prompts.numpy()[:, None], samples.outputs.numpy()]

    def logratios(self, policy: Policy, samples: Any) -> np.ndarray:
        """log pi(y|x) - log pi_sft(y|x) of the samples under ``policy``, [B, K]."""
        idx = (samples.prompts.numpy()[:, None], samples.outputs.numpy())
        return self.logp(policy.id)[idx] - self.problem.sft_logp()[idx]

    def preference_pairs(self, samples: Any, chosen: np.ndarray, rejected: np.ndarray, sources: Any = None) -> Any:
        from bench.exact._online import pairs_from

        return pairs_from(samples, chosen, rejected, sources)

    def mixed_pairs(self, pairs: Any, share: float, round_index: int, relabel: float = 0.0) -> Any:
        """``pairs`` with a random ``share`` of them replaced by offline pairs from pi_sft (as offline training
        draws them: fresh, or from the fixed dataset of ``exact.pairs`` groups), and a further ``relabel``
        share by such pairs tagged ``data-relabelled``."""
        from bench.exact._online import mixed_pairs

        return mixed_pairs(self.problem, pairs, share, self.spec.exact.pairs, self.seed, round_index, relabel)

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

    def _trained(self, method: Any, with_rewards: bool, groups: Any = None, init: Policy | None = None,
                 key: tuple = ()) -> Policy:
        from bench.exact._online import groups_key
        from bench.exact._train import train_exact

        e = self.spec.exact
        params = asdict(method.params)
        extra = () if groups is None and init is None else (*key, groups_key(groups), init and init.id)
        pid = content_key("policy", "exact-trained", TRAINER_VERSION, self.identity, method.name, params,
                          self.policy_class, self.seed, e.steps, e.batch_size, e.lr, e.pairs, e.record_every, *extra)
        info = {"class": self.policy_class, "seed": self.seed, "steps": e.steps, "batch_size": e.batch_size,
                "completions_per_prompt": int(params.get("k", 2)) if with_rewards else 2}
        prior = self.store.metrics([init.id]) if init is not None else []
        if init is not None:
            info.update(based_on=init.id, round=int(json.loads(self.store.policy(init.id)["info_json"]).get("round", 1)) + 1)

        def train() -> tuple[np.ndarray, list[dict[str, Any]]]:
            start = None if init is None else np.load(self._path(init.id, "state"))
            step0 = max((r["step"] for r in prior), default=0)
            logp, records, seconds, state = train_exact(method, self.problem, self.policy_class, self.seed, e,
                                                        with_rewards, groups=groups, init=start, step0=step0)
            self._save(self._path(pid, "state"), state)
            info["train_seconds"] = round(seconds, 3)
            return logp, records

        return self._ensure(pid, method.name, "trained", params, info, train, prior)

    # -- storage -------------------------------------------------------------------------------------
    def _path(self, pid: str, part: str = "") -> Path:
        """The policy's log-probs, or (``part="state"``) a trained policy's parameters."""
        return self.artifacts / "exact" / (f"{pid}.{part}.npy" if part else f"{pid}.npy")

    @staticmethod
    def _save(path: Path, array: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, array)
        tmp.replace(path)

    def logp(self, pid: str) -> np.ndarray:
        return np.load(self._path(pid))

    def _ensure(self, pid: str, method: str, kind: str, params: dict, info: dict, build: Any,
                prior: list[dict[str, Any]] = ()) -> Policy:
        row = self.store.policy(pid)
        if row is not None and self._path(pid).is_file():
            return Policy(id=pid, method=method, kind=kind, info=json.loads(row["info_json"]))
        logp, records = build()
        # Training records end with the final step's exact metrics; other policies are measured here.
        points = records or [{"step": 0, **evaluate(logp, self.problem.sft_logp(), self.problem.reward,
                                                    self.problem.beta)}]
        info = {**info, "final": {k: points[-1][k] for k in METRICS}}
        # An online round's metrics continue its starting policy's (``prior``), so curves span all rounds.
        own = [{"step": r["step"], "name": k, "value": float(r[k])} for r in points for k in METRICS]
        start = own[0]["step"] if own else 0
        metrics = [{k: r[k] for k in ("step", "name", "value")} for r in prior if r["step"] < start] + own
        path = self._path(pid)
        self._save(path, logp)
        self.store.put_policy({"id": pid, "method": method, "kind": kind, "params_json": json.dumps(params),
                               "path": str(path), "info_json": json.dumps(info)}, steps=records, metrics=metrics)
        return Policy(id=pid, method=method, kind=kind, path=str(path), info=info)

"""The reward-KL frontier (the EXO paper's Figure 2) of a task with an oracle reward.

On held-out prompts, sampled at the frontier's temperature (1 by default):
- SFT: a pool of ``pool`` samples per prompt; its mean oracle reward; KL 0.
- Best-of-N at every N of ``bon_n`` from that one pool: the reward model picks, the oracle measures. The
  expected oracle reward of the best of N drawn without replacement from the pool is estimated without bias
  by weighting the pool's i-th lowest-scored sample (by the reward model) with C(i-1, N-1) / C(M, N). KL is
  the analytic log N - (N-1)/N, an upper bound on KL(Best-of-N || SFT).
- Every checkpoint of every trained method (``Policy.info["checkpoints"]``, the final one included):
  ``samples`` samples per prompt; mean oracle reward; KL(pi || pi_sft) = E_{y ~ pi}[log pi(y|x) - log
  pi_sft(y|x)], estimated by the mean over the samples, both log-probs from a transformers forward pass on
  the same token ids (the sample re-tokenized). Unbiased only when the samples come from pi itself:
  temperature 1 and top-p 1.
Each estimate is a mean over prompts of per-prompt means, with its standard error over prompts; n counts
samples. The per-prompt means of trained checkpoints are stored too (names ``r/<prompt>`` and
``kl/<prompt>``), so the report can compare two methods at the same step over identical prompts (paired). Points are stored in the ``metrics`` table under the policy and the step (N for Best-of-N), with
names carrying a key of the frontier's settings, so a rerun computes nothing again.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from bench.generation import PromptRef, Sampler, SamplingParams
from bench.hashing import content_key

log = logging.getLogger(__name__)
FRONTIER_VERSION = "1"
METRICS = ("oracle_reward", "kl")


@dataclass(frozen=True)
class Checkpoint:
    method: str
    policy_id: str  # the trained policy the metrics are stored under
    step: int
    sample_policy_id: str  # the policy row its samples belong to (the trained policy for the final step)
    path: str


def mean_se(groups: list[list[float]]) -> tuple[float, float]:
    """Mean over groups of the group means, and its standard error over groups (0 with one group)."""
    means = [sum(g) / len(g) for g in groups if g]
    m = sum(means) / len(means)
    if len(means) < 2:
        return m, 0.0
    var = sum((x - m) ** 2 for x in means) / (len(means) - 1)
    return m, math.sqrt(var / len(means))


def best_of_n_expectation(selector: list[float], reward: list[float], n: int) -> float:
    """Unbiased estimate, from a pool of M samples, of the reward of the best (by ``selector``) of n samples
    drawn without replacement: sum_i C(i-1, n-1) / C(M, n) * reward of the i-th lowest-selected sample."""
    m = len(selector)
    order = sorted(range(m), key=lambda i: (selector[i], i))
    total = math.comb(m, n)
    return sum(math.comb(rank, n - 1) / total * reward[i] for rank, i in enumerate(order))


def best_of_n_kl(n: int) -> float:
    """The analytic log N - (N-1)/N: an upper bound on KL(Best-of-N || SFT) (Beirami et al. 2024)."""
    return math.log(n) - (n - 1) / n


def checkpoints_of(policy: Any) -> list[tuple[int, str]]:
    """(step, path) of a trained policy's checkpoints, the final one last."""
    found = [(int(c["step"]), str(c["path"])) for c in policy.info.get("checkpoints", [])]
    if not found or found[-1][1] != policy.path:
        found.append((int(policy.info.get("steps", 0)), str(policy.path)))
    return sorted(dict(found).items())


class Frontier:
    def __init__(self, runner: Any, ctx: Any, task: Any, rm: Any) -> None:
        from bench.models._prompting import encode_prompt

        spec = runner.spec
        self.store, self.ctx, self.rm, self.fs = runner.store, ctx, rm, spec.frontier
        self.oracle = task.oracle(ctx)
        texts = task.heldout_prompts(self.fs.prompts)
        self.refs = [PromptRef(content_key("prompt", t), tuple(encode_prompt(ctx.tokenizer, task, t,
                                                                             spec.eval.max_prompt_tokens)))
                     for t in texts]
        self.store.add_prompts([(r.prompt_id, t) for r, t in zip(self.refs, texts, strict=True)])
        for judge in (self.oracle, rm):
            judge.prompt_text.update({r.prompt_id: t for r, t in zip(self.refs, texts, strict=True)})
        params = SamplingParams(temperature=self.fs.temperature, top_p=1.0, max_tokens=spec.eval.max_new_tokens)
        self.sampler = Sampler(runner.store, runner.engine_factory, spec.engine.kind, spec.seed, params)
        self.key = content_key("frontier", FRONTIER_VERSION, self.sampler.sampling_key,
                               [r.prompt_id for r in self.refs], self.oracle.id, rm.id, self.fs.samples, self.fs.pool)
        self.prefix = f"frontier/{self.key[:12]}/"

    def done(self, policy_id: str, step: int) -> bool:
        """A checkpoint's point and its per-prompt means are stored (points stored before the per-prompt
        means existed are computed again, the point itself kept as it was)."""
        names = {self.prefix + m for m in METRICS}
        names |= {f"{self.prefix}{m}/{r.prompt_id}" for r in self.refs for m in ("r", "kl")}
        return names <= {r["name"] for r in self.store.metrics([policy_id]) if r["step"] == step}

    def run(self, methods: dict[str, Any], policies: dict[str, Any]) -> dict[str, Any]:
        from methods.builtin import BestOfN

        base = self.ctx.base_policy()
        bon = {n: policies[n] for n, m in methods.items() if isinstance(m, BestOfN)}
        todo = [c for c in self._checkpoints(methods, policies) if not self.done(c.policy_id, c.step)]
        samples: dict[Checkpoint, dict] = {}
        try:
            pool = self.sampler.ensure(base.id, str(base.path), self.refs, self.fs.pool, label="frontier SFT pool")
            for c in todo:
                samples[c] = self.sampler.ensure(c.sample_policy_id, c.path, self.refs, self.fs.samples,
                                                 label=f"frontier {c.method} step {c.step}")
        finally:
            self.sampler.close()
        self._pool_points(base.id, pool, bon)
        if todo:
            self._checkpoint_points(samples)
        curves = [{"method": "sft", "policy_id": base.id, "kind": "sft"}]
        curves += [{"method": n, "policy_id": p.id, "kind": "bon"} for n, p in bon.items()]
        curves += [{"method": n, "policy_id": p.id, "kind": "trained"} for n, p in policies.items()
                   if p.kind == "trained"]
        return {"key": self.key, "metric_prefix": self.prefix, "prompts": len(self.refs),
                "samples": self.fs.samples, "pool": self.fs.pool, "bon_n": self.fs.ns(),
                "temperature": self.fs.temperature, "sampling_key": self.sampler.sampling_key,
                "oracle": {"id": self.oracle.id, "info": self.oracle.info}, "curves": curves}

    def _checkpoints(self, methods: dict[str, Any], policies: dict[str, Any]) -> list[Checkpoint]:
        out = []
        for name, policy in policies.items():
            if policy.kind != "trained" or policy.path is None:
                continue
            for step, path in checkpoints_of(policy):
                pid = policy.id if path == policy.path else self._checkpoint_policy(name, policy, step, path)
                out.append(Checkpoint(name, policy.id, step, pid, path))
        return out

    def _checkpoint_policy(self, method: str, policy: Any, step: int, path: str) -> str:
        pid = content_key("policy", "checkpoint", policy.id, step)
        self.store.put_policy({"id": pid, "method": method, "kind": "checkpoint", "params_json": "{}",
                               "path": path, "info_json": json.dumps({"of": policy.id, "step": step})})
        return pid

    def _row(self, policy_id: str, step: int, name: str, value: float, se: float | None, n: int) -> dict:
        return {"policy_id": policy_id, "step": step, "name": self.prefix + name, "value": value, "stderr": se,
                "n": n}

    def _pool_points(self, base_id: str, pool: dict, bon: dict[str, Any]) -> None:
        oracle = self.oracle.score_generations(pool)
        rows = [self._row(base_id, 0, "kl", 0.0, None, sum(len(g) for g in pool.values()))]
        reward, se = mean_se([[oracle[g["id"]] for g in gens] for gens in pool.values()])
        rows.append(self._row(base_id, 0, "oracle_reward", reward, se, rows[0]["n"]))
        if bon:
            selector = self.rm.score_generations(pool)
            for n in self.fs.ns():
                per_prompt = [[best_of_n_expectation([selector[g["id"]] for g in gens],
                                                     [oracle[g["id"]] for g in gens], n)] for gens in pool.values()]
                value, err = mean_se(per_prompt)
                for policy in bon.values():
                    rows += [self._row(policy.id, n, "oracle_reward", value, err, len(per_prompt) * self.fs.pool),
                             self._row(policy.id, n, "kl", best_of_n_kl(n), None, len(per_prompt) * self.fs.pool)]
        self.store.put_metrics(rows)

    def _checkpoint_points(self, samples: dict[Checkpoint, dict]) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        base = self.ctx.base_policy()
        sft = AutoModelForCausalLM.from_pretrained(str(base.path), dtype=torch.float32).eval()
        for c, grouped in samples.items():
            oracle = self.oracle.score_generations(grouped)
            model = AutoModelForCausalLM.from_pretrained(c.path, dtype=torch.float32).eval()
            diffs = log_ratios(model, sft, self.ctx.tokenizer, self.refs, grouped,
                               self.ctx.spec.eval.max_new_tokens)
            del model
            n = sum(len(g) for g in grouped.values())
            means = {name: {pid: sum(values[g["id"]] for g in gens) / len(gens) for pid, gens in grouped.items()}
                     for name, values in (("r", oracle), ("kl", diffs))}  # per prompt: also the paired comparisons
            reward, r_se = mean_se([[m] for m in means["r"].values()])
            kl, k_se = mean_se([[m] for m in means["kl"].values()])
            log.info("frontier %s step %d: oracle reward %.3f +- %.3f, KL %.3f +- %.3f (n=%d)", c.method, c.step,
                     reward, r_se, kl, k_se, n)
            rows = [self._row(c.policy_id, c.step, "oracle_reward", reward, r_se, n),
                    self._row(c.policy_id, c.step, "kl", kl, k_se, n)]
            rows += [self._row(c.policy_id, c.step, f"{name}/{pid}", m, None, len(grouped[pid]))
                     for name, by_prompt in means.items() for pid, m in by_prompt.items()]
            self.store.put_metrics(rows)  # one transaction: a checkpoint's point and its per-prompt means


def log_ratios(model: Any, sft: Any, tok: Any, refs: list[PromptRef], grouped: dict, max_new: int,
               batch: int = 8) -> dict[str, float]:
    """log pi(y|x) - log pi_sft(y|x) of every sample, both on the same (re-tokenized) ids; a sample that
    stopped carries its end-of-turn token, one cut at the length limit does not."""
    import torch

    from bench.models._prompting import sample_ids
    from methods._train import sequence_logps

    prompt = {r.prompt_id: r.ids for r in refs}
    rows = [g for gens in grouped.values() for g in gens]
    out: dict[str, float] = {}
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            part = rows[i:i + batch]
            comps = [sample_ids(tok, g, max_new) for g in part]
            prompts = [prompt[g["prompt_id"]] for g in part]
            lp = sequence_logps(model, prompts, comps, tok.pad_token_id, False)
            lq = sequence_logps(sft, prompts, comps, tok.pad_token_id, False)
            out.update({g["id"]: float(a - b) for g, a, b in zip(part, lp, lq, strict=True)})
    return out

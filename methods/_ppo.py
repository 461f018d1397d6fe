"""PPO on language models, on CPU: the policy (float32 weights, bf16 autocast) with a linear value head on its
last hidden states, a frozen reference copy, rollouts sampled through bench's transformers engine wrapped
around the policy in memory, rewards from the task's reward model.

Each round takes ``rollout_batch`` training prompts (in a seeded order, cycling), samples one completion of
each at temperature 1 (PPO's ratios need samples of pi itself), scores them, computes per-token
KL-penalised rewards, GAE and whitened advantages, then runs ``ppo_epochs`` passes of ``minibatches``
optimizer steps each. Every ``save_every`` rounds the whole training state (policy, value head, optimizer,
round, RNG states, records, frontier checkpoints so far) is written atomically, and a rerun of the same
spec resumes from it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from bench.generation import PromptRef, Request, SamplingParams, sample_seed
from bench.locks import artifact_lock
from methods import _ppo_math as pm
from methods._context import MethodContext, Policy
from methods._pairwise import checkpoint_steps, trained_policy
from methods._reward_setting import training_refs
from methods._train import _collate, save_checkpoint

log = logging.getLogger(__name__)
PPO_VERSION = "1"


def rounds(params: Any, n_prompts: int) -> int:
    """Default: one pass over the training prompts."""
    return params.iterations or max(1, math.ceil(n_prompts / params.rollout_batch))


def train_ppo_policy(ctx: MethodContext, method: Any) -> Policy:
    p, t = method.params, ctx.spec.train
    texts, refs = training_refs(ctx, 0)
    rm = ctx.reward_model()
    sampling = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=t.max_completion_tokens)
    pid = ctx.policy_key(method, "ppo", PPO_VERSION, rm.id, asdict(sampling), [r.prompt_id for r in refs])
    target = ctx.artifacts / "policies" / pid
    with artifact_lock(target):
        found = trained_policy(ctx, method, pid)
        if found is not None:
            return found
        trainer = PPOTrainer(ctx, method, refs, dict(zip([r.prompt_id for r in refs], texts, strict=True)),
                             rm, sampling, target)
        records, checkpoints, seconds = trainer.run()
    info = {"train_seconds": seconds, "steps": len(records), "rounds": len(records), "prompts": len(refs),
            "rollout_batch": p.rollout_batch, "final": records[-1] if records else {},
            "checkpoints": [*checkpoints, {"step": len(records), "path": str(target)}]}
    ctx.store.put_policy({"id": pid, "method": method.name, "kind": "trained",
                          "params_json": json.dumps(asdict(p)), "path": str(target),
                          "info_json": json.dumps(info)}, steps=records)
    return Policy(id=pid, method=method.name, kind="trained", path=str(target), info=info)


def forward(model: Any, head: Any, prompts: list, completions: list, pad: int, bf16: bool, width: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log pi(y_t | x, y_<t) and values V(x, y_<t), [B, width] (zero beyond each completion)."""
    ids, attn, pos, cmask, p_len = _collate(prompts, completions, pad)
    c_len = cmask.shape[1]
    keep = torch.arange(p_len - 1, p_len - 1 + c_len)  # the positions that predict the completion tokens
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        hidden = model.get_decoder()(input_ids=ids, attention_mask=attn, position_ids=pos).last_hidden_state
    # The lm-head in float32, for precise log-ratios (PPO's ratios and the KL penalty are differences of them).
    hidden = hidden[:, keep].float()
    logits = model.get_output_embeddings()(hidden)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, p_len:p_len + c_len, None]).squeeze(-1)
    values = head(hidden).squeeze(-1)
    right = (0, width - c_len)
    return torch.nn.functional.pad(logp * cmask, right), torch.nn.functional.pad(values * cmask, right)


class PPOTrainer:
    def __init__(self, ctx: MethodContext, method: Any, refs: list[PromptRef], texts: dict[str, str], rm: Any,
                 sampling: SamplingParams, target: Path) -> None:
        from transformers import AutoModelForCausalLM

        self.ctx, self.p, self.refs, self.texts, self.rm = ctx, method.params, refs, texts, rm
        self.sampling, self.target, self.t = sampling, target, ctx.spec.train
        self.pad = ctx.tokenizer.pad_token_id
        path = str(ctx.base.path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self.ref = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval().requires_grad_(False)
        self.head = torch.nn.Linear(self.model.config.hidden_size, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        self.opt = torch.optim.AdamW([*self.model.parameters(), *self.head.parameters()],
                                     lr=self.p.lr or self.t.lr, weight_decay=0.0)
        self.gen = torch.Generator().manual_seed(ctx.seed)
        self.order = torch.randperm(len(refs), generator=torch.Generator().manual_seed(ctx.seed)).tolist()
        self.total = rounds(self.p, len(refs))
        self.keep = checkpoint_steps(self.total, self.t.checkpoints)
        self.state_path = ctx.artifacts / "ppo" / target.name / "state.pt"
        self.records: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []

    # -- the training state, for resuming ---------------------------------------------------------------
    def save_state(self, done: int) -> None:
        state = {"round": done, "model": self.model.state_dict(), "head": self.head.state_dict(),
                 "opt": self.opt.state_dict(), "gen": self.gen.get_state(), "torch": torch.get_rng_state(),
                 "records": self.records, "checkpoints": self.checkpoints}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(f"state.tmp{os.getpid()}")
        torch.save(state, tmp)
        tmp.replace(self.state_path)
        log.info("ppo: saved the training state after round %d of %d", done, self.total)

    def load_state(self) -> int:
        if not self.state_path.is_file():
            return 0
        state = torch.load(self.state_path, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.head.load_state_dict(state["head"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        torch.set_rng_state(state["torch"])
        self.records, self.checkpoints = state["records"], state["checkpoints"]
        log.info("ppo: resuming from the saved state after round %d of %d", state["round"], self.total)
        return int(state["round"])

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
        torch.manual_seed(self.ctx.seed)
        start = self.load_state()
        t0 = time.time() - (self.records[-1]["seconds"] if self.records else 0.0)
        for r in range(start, self.total):
            rec = self.round(r)
            rec.update(step=r + 1, seconds=time.time() - t0)
            self.records.append(rec)
            log.info("ppo: round %d of %d: score %.3f, KL %.3f, clipfrac %.2f", r + 1, self.total, rec["score"],
                     rec["kl"], rec["clipfrac"])
            if r + 1 in self.keep:  # an intermediate checkpoint for the reward-KL frontier
                path = self.target.with_name(f"{self.target.name}-step{r + 1}")
                save_checkpoint(self.model, self.ctx.tokenizer, path)
                self.checkpoints.append({"step": r + 1, "path": str(path)})
            if self.p.save_every and (r + 1) % self.p.save_every == 0 and r + 1 < self.total:
                self.save_state(r + 1)
        save_checkpoint(self.model, self.ctx.tokenizer, self.target)
        if self.state_path.is_file():
            self.state_path.unlink()
        return self.records, self.checkpoints, time.time() - t0

    def rollouts(self, r: int) -> dict[str, Any]:
        from bench.generation._hf import HFEngine

        b = self.p.rollout_batch
        picked = [self.refs[self.order[(r * b + j) % len(self.refs)]] for j in range(b)]
        reqs = [Request(x.ids, sample_seed(self.ctx.seed, x.prompt_id, r * b + j)) for j, x in enumerate(picked)]
        self.model.eval()
        samples = HFEngine.wrap(self.model, self.ctx.tokenizer).generate(reqs, self.sampling)
        scores = torch.tensor(self.rm.reward_texts([self.texts[x.prompt_id] for x in picked], [s.text for s in samples]))
        prompts, completions = [x.ids for x in picked], [s.token_ids for s in samples]
        width = max(len(c) for c in completions)
        mask = torch.tensor([[1.0] * len(c) + [0.0] * (width - len(c)) for c in completions])
        old, values, ref = [], [], []
        with torch.no_grad():
            for i in range(0, b, self.t.micro_batch):
                sl = slice(i, i + self.t.micro_batch)
                lp, v = forward(self.model, self.head, prompts[sl], completions[sl], self.pad, self.t.autocast_bf16, width)
                old.append(lp)
                values.append(v)
                ref.append(forward(self.ref, self.head, prompts[sl], completions[sl], self.pad, self.t.autocast_bf16,
                                   width)[0])
        old_t, values_t, ref_t = torch.cat(old), torch.cat(values), torch.cat(ref)
        rewards = pm.kl_penalized_rewards(scores, old_t, ref_t, mask, self.p.beta)
        adv, returns = pm.gae(rewards, values_t, mask, self.p.gamma, self.p.lam)
        if self.p.whiten_advantages:
            adv = pm.whiten(adv, mask)
        kl = ((old_t - ref_t) * mask).sum(-1)
        return {"prompts": prompts, "completions": completions, "mask": mask, "old": old_t, "values": values_t,
                "adv": adv, "returns": returns, "width": width, "score": scores, "kl": kl,
                "length": mask.sum(-1)}

    def round(self, r: int) -> dict[str, Any]:
        b = self.rollouts(r)
        self.model.train()
        window: list[dict[str, float]] = []
        # Micro-batches keep the grouping (hence the padding) of the rollout pass, so that before the first
        # update the new log-probs equal the old ones exactly; minibatches shuffle whole micro-batches.
        size = self.t.micro_batch
        micro = [list(range(i, min(i + size, len(b["prompts"])))) for i in range(0, len(b["prompts"]), size)]
        for _ in range(self.p.ppo_epochs):
            order = torch.randperm(len(micro), generator=self.gen)
            for mb in order.chunk(min(self.p.minibatches, len(micro))):
                window.append(self.update(b, [micro[i] for i in mb.tolist()]))
        kl, n = b["kl"], len(b["kl"])
        # Before the round's first step the policy is the one that sampled: its log-probs must match exactly.
        mismatch = window[0].pop("max_logp_change")
        out = {k: sum(w[k] for w in window) / len(window) for k in window[0] if k != "max_logp_change"}
        return {**out, "first_step_logp_mismatch": mismatch, "score": b["score"].mean().item(), "kl": kl.mean().item(),
                "kl_se": kl.std().item() / math.sqrt(n) if n > 1 else 0.0,
                "reward": (b["score"] - self.p.beta * kl).mean().item(), "length": b["length"].mean().item()}

    def update(self, b: dict[str, Any], parts: list[list[int]]) -> dict[str, float]:
        """One optimizer step on the micro-batches ``parts`` (rollout indices), weighted by their real tokens."""
        self.opt.zero_grad(set_to_none=True)
        tokens = b["mask"][[i for part in parts for i in part]].sum()
        sums = {"loss": 0.0, "policy_loss": 0.0, "value_loss": 0.0, "clipfrac": 0.0, "value_clipfrac": 0.0,
                "approx_kl": 0.0, "max_logp_change": 0.0}
        for part in parts:
            m = b["mask"][part]
            logp, values = forward(self.model, self.head, [b["prompts"][j] for j in part],
                                   [b["completions"][j] for j in part], self.pad, self.t.autocast_bf16, b["width"])
            pg, clipfrac = pm.clipped_policy_loss(logp, b["old"][part], b["adv"][part], m, self.p.clip_range)
            vl, vclip = pm.clipped_value_loss(values, b["values"][part], b["returns"][part], m,
                                              self.p.clip_range_value)
            share = m.sum() / tokens
            loss = (pg + self.p.vf_coef * vl) * share
            loss.backward()
            approx_kl = pm.masked_mean(b["old"][part] - logp.detach(), m)
            sums["max_logp_change"] = max(sums["max_logp_change"], float(((logp.detach() - b["old"][part]).abs() * m).max()))
            for key, v in (("loss", loss), ("policy_loss", pg * share), ("value_loss", vl * share),
                           ("clipfrac", clipfrac * share), ("value_clipfrac", vclip * share),
                           ("approx_kl", approx_kl * share)):
                sums[key] += float(v.detach())
        params = [*self.model.parameters(), *self.head.parameters()]
        sums["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, 1.0).item()
        self.opt.step()
        return sums

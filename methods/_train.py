"""A compact torch training loop on CPU for methods whose loss is over K completions of a prompt.

A group is a prompt with K completions: (chosen, rejected) for preference pairs, or K samples with their
rewards in the reward-model setting. Reference log-probs are computed once, before the first update, and
cached on disk (shared by every method trained on the same groups). Batches are left-padded prompts followed by right-padded
completions, so the lm-head runs only over completion positions.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.progress import progress
from methods._base import LossInputs, relabel_by_policy, relabel_generator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokGroup:
    """A prompt and K completions (token ids); ``rewards`` only in the reward-model setting; ``source`` the
    pair's origin in an online round (a code of ``methods.PAIR_SOURCES``), else ``None``."""

    prompt: tuple[int, ...]
    completions: tuple[tuple[int, ...], ...]
    rewards: tuple[float, ...] | None = None
    source: int | None = None


def TokPair(prompt: tuple[int, ...], chosen: tuple[int, ...], rejected: tuple[int, ...],  # noqa: N802
            source: int | None = None) -> TokGroup:
    """A preference pair as a group of two, chosen first."""
    return TokGroup(prompt, (chosen, rejected), source=source)


def _collate(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad: int
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """ids, attention mask, position ids, completion mask (over the kept positions), prompt width."""
    p_len = max(len(p) for p in prompts)
    c_len = max(len(c) for c in completions)
    rows, masks, cmask = [], [], []
    for p, c in zip(prompts, completions, strict=True):
        left, right = p_len - len(p), c_len - len(c)
        rows.append([pad] * left + list(p) + list(c) + [pad] * right)
        masks.append([0] * left + [1] * (len(p) + len(c)) + [0] * right)
        cmask.append([1] * len(c) + [0] * right)
    ids, attn = torch.tensor(rows), torch.tensor(masks)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    return ids, attn, pos, torch.tensor(cmask, dtype=torch.float32), p_len


def sequence_logps(model: Any, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                   pad: int, bf16: bool) -> torch.Tensor:
    """Sum of log pi(completion token | prefix) for each (prompt, completion)."""
    device = next(model.parameters()).device
    ids, attn, pos, cmask, p_len = (t.to(device) if isinstance(t, torch.Tensor) else t
                                    for t in _collate(prompts, completions, pad))
    c_len = cmask.shape[1]
    keep = torch.arange(p_len - 1, p_len - 1 + c_len, device=device)  # positions whose logits predict the completion
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, attention_mask=attn, position_ids=pos, logits_to_keep=keep).logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    targets = ids[:, p_len:p_len + c_len]
    token_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return (token_logp * cmask).sum(-1)


def group_logps(model: Any, batch: Sequence[TokGroup], pad: int, bf16: bool) -> torch.Tensor:
    """[len(batch), K] log-probs of every group's completions, in one forward pass."""
    k = len(batch[0].completions)
    prompts = [g.prompt for g in batch for _ in range(k)]
    completions = [c for g in batch for c in g.completions]
    return sequence_logps(model, prompts, completions, pad, bf16).view(len(batch), k)



def reference_logps(model: Any, pairs: Sequence[TokGroup], pad: int, micro: int, bf16: bool) -> torch.Tensor:
    model.eval()
    parts = []
    with torch.no_grad(), progress(total=len(pairs), desc="reference log-probs", unit="group") as bar:
        for i in range(0, len(pairs), micro):
            parts.append(group_logps(model, pairs[i:i + micro], pad, bf16))
            bar.update(len(pairs[i:i + micro]))
    return torch.cat(parts).cpu()


@dataclass
class TrainConfig:
    lr: float
    batch_size: int
    micro_batch: int
    epochs: int
    bf16: bool
    seed: int


LossFn = Callable[[LossInputs], torch.Tensor]


def train_device() -> torch.device:
    """Where one process trains and scores: a GPU if there is one (untested on this CPU-only machine)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Parallel:
    """Where training steps run: here, one process. ``methods._ddp`` runs the same loop on data-parallel
    ranks (torch.distributed.run + accelerate), each rank taking a contiguous slice of every batch."""

    rank, world = 0, 1

    def prepare(self, model: Any, opt: Any) -> tuple[Any, Any]:
        return model, opt

    def shard(self, n: int) -> slice:
        """This rank's part of a batch of ``n`` groups (sizes differ by at most one)."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)

    def backward(self, loss: torch.Tensor, sync: bool) -> None:
        loss.backward()

    def clip(self, model: Any, max_norm: float) -> float:
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()

    def gather(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """Every rank's rows, in rank order (so in batch order)."""
        return t

    def total(self, x: float) -> float:
        return x


def train_pairwise(model: Any, pairs: Sequence[TokGroup], ref: torch.Tensor, loss_fn: LossFn,
                   beta: float, cfg: TrainConfig, pad: int, label: str = "",
                   on_step: Callable[[int], None] | None = None, par: Parallel | None = None
                   ) -> tuple[list[dict], float]:
    """Train ``model`` in place on groups; ``loss_fn(LossInputs)`` (policy and reference log-probs [B, K],
    rewards [B, K] or None) gives the per-group loss. Returns the per-step records and the training seconds."""
    par = par or Parallel()
    torch.manual_seed(cfg.seed)
    order_gen = torch.Generator().manual_seed(cfg.seed)
    # uniforms for relabelling pairs by the policy, drawn for the whole batch so every rank sees the same
    relabel_gen = relabel_generator(cfg.seed) if any(p.source is not None for p in pairs) else None
    steps_per_epoch = math.ceil(len(pairs) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, total // 10)
    model, opt = par.prepare(model, torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    model.train()
    records: list[dict] = []
    t0 = time.time()
    with progress(total=total, desc=f"train {label}".strip(), unit="step", disable=par.rank > 0) as bar:
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(pairs), generator=order_gen).tolist()
            for step_in_epoch in range(steps_per_epoch):
                idx = order[step_in_epoch * cfg.batch_size:(step_in_epoch + 1) * cfg.batch_size]
                u = None if relabel_gen is None else torch.rand(len(idx), generator=relabel_gen)
                rec = _step(model, opt, [pairs[i] for i in idx], ref[idx], loss_fn, beta, cfg, pad, par, u)
                sched.step()
                rec.update(step=len(records), epoch=epoch, lr=sched.get_last_lr()[0], seconds=time.time() - t0)
                records.append(rec)
                if on_step is not None:  # e.g. save an intermediate checkpoint after this many updates
                    on_step(len(records))
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.4f}", acc=f"{rec['reward_accuracy']:.2f}")
    return records, time.time() - t0


def _step(model: Any, opt: Any, batch: list[TokGroup], ref: torch.Tensor, loss_fn: LossFn, beta: float,
          cfg: TrainConfig, pad: int, par: Parallel, uniforms: torch.Tensor | None = None) -> dict:
    """One update on ``batch``: this rank's slice in micro-batches; the loss is normalised by the whole
    batch, and ranks' averaged gradients are scaled back to a sum, so any number of ranks makes one update."""
    opt.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    part = par.shard(len(batch))
    mine, weight = batch[part], 1.0
    ref, u = ref[part], None if uniforms is None else uniforms[part]
    if not mine:  # fewer groups than ranks in a last batch: take part in the all-reduce with zero weight
        mine, ref, weight = batch[:1], ref.new_zeros((1, ref.shape[1])), 0.0
        u = None if uniforms is None else uniforms[:1]
    rewards = torch.tensor([g.rewards for g in mine], dtype=torch.float32) if mine[0].rewards else None
    sources = torch.tensor([g.source or 0 for g in mine]) if any(g.source is not None for g in mine) else None
    ratios, total_loss, swapped = [], 0.0, 0
    starts = range(0, len(mine), cfg.micro_batch)
    for i in starts:
        micro_rewards = None if rewards is None else rewards[i:i + cfg.micro_batch].to(device)
        inputs = LossInputs(group_logps(model, mine[i:i + cfg.micro_batch], pad, cfg.bf16),
                            ref[i:i + cfg.micro_batch].to(device), micro_rewards,
                            None if sources is None else sources[i:i + cfg.micro_batch].to(device))
        if u is not None:  # data pairs relabelled by the policy at this step (SAIL's DDP)
            inputs, n = relabel_by_policy(inputs, beta, u[i:i + cfg.micro_batch])
            swapped += n if weight else 0
        loss = loss_fn(inputs).sum() * weight / len(batch)
        par.backward(loss * par.world, sync=i == starts[-1])
        total_loss += loss.item()
        ratios.append(inputs.logratios.detach().cpu())
    grad_norm = par.clip(model, 10.0)
    opt.step()
    r = par.gather(torch.cat(ratios)[:len(mine) if weight else 0])
    all_rewards = par.gather(rewards[:len(mine) if weight else 0] if rewards is not None else None)
    # share of the step's pairs whose label the policy swapped (relabelled data pairs); same call on every rank
    relabelled = {} if uniforms is None else {"relabelled": par.total(swapped / len(batch))}
    return {"loss": par.total(total_loss), "grad_norm": grad_norm, **group_records(r, all_rewards, beta), **relabelled}


def group_records(r: torch.Tensor, rewards: torch.Tensor | None, beta: float) -> dict:
    """Implicit-reward records: for pairs the chosen-over-rejected margin and accuracy; for K samples
    the margin between the implicit rewards of the best- and worst-rewarded samples."""
    if rewards is None:
        best, worst = r[:, 0], r[:, 1]
    else:
        rows = torch.arange(len(r))
        best, worst = r[rows, rewards.argmax(1)], r[rows, rewards.argmin(1)]
    margin = beta * (best - worst)
    # KL(pi || pi_ref) = E_{y ~ pi_ref}[w log w], w = pi / pi_ref: unbiased when the step's sequences are
    # samples of pi_ref (the reward-model setting); on human preference data it is only a proxy.
    w_log_w = (r.double().exp() * r.double()).flatten()
    return {"reward_margin": margin.mean().item(), "reward_accuracy": (margin > 0).float().mean().item(),
            "logratio_chosen": best.mean().item(), "logratio_rejected": worst.mean().item(),
            "logratio_mean": r.mean().item(), "kl_is": w_log_w.mean().item(),
            "kl_is_se": (w_log_w.std().item() / len(w_log_w) ** 0.5) if len(w_log_w) > 1 else 0.0}


def save_checkpoint(model: Any, tokenizer: Any, target: Path) -> None:
    """Write the checkpoint next to ``target`` and rename it into place (never half-written)."""
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)

"""Training a policy on groups of completions: tokenize, reference log-probs once (cached), train, save."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.hashing import content_key
from bench.locks import artifact_lock
from bench.models._prompting import encode_completion, encode_prompt
from methods._context import MethodContext, Policy

if TYPE_CHECKING:
    from methods._base import Method
    from methods._train import TokGroup

log = logging.getLogger(__name__)


def tokenize_pairs(ctx: MethodContext) -> list[TokGroup]:
    from methods._train import TokPair

    tok, t = ctx.tokenizer, ctx.spec.train
    out = []
    for p in ctx.data.train_pairs:
        prompt = tuple(encode_prompt(tok, ctx.task, p.prompt, t.max_prompt_tokens))
        out.append(TokPair(prompt, tuple(encode_completion(tok, p.chosen, t.max_completion_tokens)),
                           tuple(encode_completion(tok, p.rejected, t.max_completion_tokens))))
    return out


def cached_reference(ctx: MethodContext, pairs: list[TokGroup]):  # -> torch.Tensor
    """Reference log-probs of every group under the base policy, computed once and kept on disk."""
    import torch
    from transformers import AutoModelForCausalLM

    from methods._train import reference_logps, train_device

    t = ctx.spec.train
    key = content_key("reflogps", ctx.base.identity, [(g.prompt, g.completions) for g in pairs], t.autocast_bf16)
    path = ctx.artifacts / "reference" / f"{key}.pt"
    if path.is_file():
        return torch.load(path)
    model = AutoModelForCausalLM.from_pretrained(str(ctx.base.path), dtype=torch.float32).to(train_device())
    ref = reference_logps(model, pairs, ctx.tokenizer.pad_token_id, t.micro_batch, t.autocast_bf16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(ref, tmp)
    tmp.rename(path)
    return ref


def checkpoint_steps(total: int, n: int) -> set[int]:
    """``n`` evenly spaced intermediate steps (numbers of updates done) in 1..total-1; fewer if total is small."""
    return {round(total * i / (n + 1)) for i in range(1, n + 1)} - {0, total}


def trained_policy(ctx: MethodContext, method: Method, pid: str) -> Policy | None:
    """The policy ``pid`` if it was trained before and its checkpoint is still on disk."""
    target = ctx.artifacts / "policies" / pid
    row = ctx.store.policy(pid)
    if row is None or not (target / "config.json").is_file():
        return None
    return Policy(id=pid, method=method.name, kind="trained", path=str(target), info=json.loads(row["info_json"]))


def train_policy(ctx: MethodContext, method: Method, groups: list[TokGroup] | None = None,
                 extra_key: tuple = (), init: Policy | None = None) -> Policy:
    """Train ``method`` on ``groups`` (default: the task's preference pairs) with ``method.group_loss``,
    starting from the base model or from the policy ``init`` (the reference stays the base model)."""
    pid = ctx.policy_key(method, *extra_key, *((init.id,) if init is not None else ()))
    target = ctx.artifacts / "policies" / pid
    with artifact_lock(target):
        found = trained_policy(ctx, method, pid)
        return found if found is not None else _train(ctx, method, pid, target, groups, init)


def _train(ctx: MethodContext, method: Method, pid: str, target: Path, groups: list[TokGroup] | None,
           init: Policy | None = None) -> Policy:
    from methods._train import TrainConfig

    pairs = groups if groups is not None else tokenize_pairs(ctx)
    ref = cached_reference(ctx, pairs)
    t = ctx.spec.train
    start = str(ctx.base.path if init is None else init.path)
    cfg = TrainConfig(lr=t.lr, batch_size=t.batch_size, micro_batch=t.micro_batch, epochs=t.epochs,
                      bf16=t.autocast_bf16, seed=ctx.seed)
    keep = checkpoint_steps(math.ceil(len(pairs) / t.batch_size) * t.epochs, t.checkpoints)
    if t.processes > 1:  # data-parallel ranks (methods._ddp) write the checkpoints
        from methods._ddp import train_distributed

        records, seconds, checkpoints = train_distributed(method, pairs, ref, cfg, ctx.tokenizer.pad_token_id,
                                                          start, target, keep, t.processes)
    else:
        records, seconds, checkpoints = _train_here(ctx, method, pairs, ref, cfg, start, target, keep)
    info = {"train_seconds": seconds, "steps": len(records), "pairs": len(pairs),
            "completions_per_prompt": len(pairs[0].completions) if pairs else 0,
            **({"based_on": init.id, "round": int(init.info.get("round", 1)) + 1} if init is not None else {}),
            "final": records[-1] if records else {},
            "checkpoints": [*checkpoints, {"step": len(records), "path": str(target)}]}
    ctx.store.put_policy({"id": pid, "method": method.name, "kind": "trained",
                          "params_json": json.dumps(asdict(method.params)), "path": str(target),
                          "info_json": json.dumps(info)}, steps=records)
    log.info("trained %s: %d steps in %.1f s", method.name, len(records), seconds)
    return Policy(id=pid, method=method.name, kind="trained", path=str(target), info=info)


def _train_here(ctx: MethodContext, method: Method, pairs: list[TokGroup], ref: Any, cfg: Any, start: str,
                target: Path, keep: set[int]) -> tuple[list[dict], float, list[dict]]:
    """Train in this process; returns the step records, training seconds and intermediate checkpoints."""
    import torch
    from transformers import AutoModelForCausalLM

    from methods._train import save_checkpoint, train_device, train_pairwise

    model = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32).to(train_device())
    checkpoints: list[dict] = []

    def on_step(done: int) -> None:
        if done in keep:  # an intermediate checkpoint for the reward-KL frontier, written atomically
            path = target.with_name(f"{target.name}-step{done}")
            save_checkpoint(model, ctx.tokenizer, path)
            checkpoints.append({"step": done, "path": str(path)})

    records, seconds = train_pairwise(model, pairs, ref, method.group_loss, method.implicit_beta(), cfg,
                                      ctx.tokenizer.pad_token_id, label=method.name, on_step=on_step)
    save_checkpoint(model, ctx.tokenizer, target)
    return records, seconds, checkpoints

"""Online rounds on a language-model task (``methods.iterative``): training-prompt samples of a policy, their
reward-model scores, their log-ratios under a policy, and preference pairs built from them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.generation import PromptRef
from methods._reward_setting import TRAIN_OFFSET, tokenized_groups, training_refs

if TYPE_CHECKING:
    from methods._context import MethodContext, Policy
    from methods._train import TokGroup


@dataclass(frozen=True)
class Samples:
    """K samples of a policy per training prompt: the prompts, the stored generations, the token groups."""

    refs: list[PromptRef]
    texts: list[str]
    rows: dict[str, list[dict[str, Any]]]
    groups: list[TokGroup]


def training_samples(ctx: MethodContext, policy: Policy, k: int, round_index: int) -> Samples:
    texts, refs = training_refs(ctx, 0)
    ctx.store.add_prompts([(r.prompt_id, t) for r, t in zip(refs, texts, strict=True)])
    if policy.path is None:
        raise ValueError(f"policy {policy.method} has no weights to sample from")
    try:
        rows = ctx.sampler.ensure(policy.id, policy.path, refs, k, label=f"{policy.method} round {round_index} samples",
                                  first_index=TRAIN_OFFSET)
    finally:
        ctx.sampler.close()  # free the engine before training
    return Samples(refs, texts, rows, tokenized_groups(ctx, refs, rows, None))


def reward(ctx: MethodContext, samples: Samples) -> np.ndarray:
    rm = ctx.reward_model()
    rm.prompt_text.update({r.prompt_id: t for r, t in zip(samples.refs, samples.texts, strict=True)})
    scores = rm.rewards(samples.rows)
    return np.array([[scores[g["id"]] for g in samples.rows[r.prompt_id]] for r in samples.refs], dtype=np.float64)


def logratios(ctx: MethodContext, policy: Policy, samples: Samples) -> np.ndarray:
    import torch
    from transformers import AutoModelForCausalLM

    from methods._pairwise import cached_reference
    from methods._train import reference_logps, train_device

    t = ctx.spec.train
    model = AutoModelForCausalLM.from_pretrained(str(policy.path), dtype=torch.float32).to(train_device())
    logps = reference_logps(model, samples.groups, ctx.tokenizer.pad_token_id, t.micro_batch, t.autocast_bf16)
    return (logps - cached_reference(ctx, samples.groups)).double().numpy()


def preference_pairs(samples: Samples, chosen: np.ndarray, rejected: np.ndarray,
                     sources: np.ndarray | None = None) -> list[TokGroup]:
    from methods._train import TokPair

    tags = [None] * len(samples.groups) if sources is None else [int(x) for x in sources]
    return [TokPair(g.prompt, g.completions[int(c)], g.completions[int(r)], source)
            for g, c, r, source in zip(samples.groups, chosen, rejected, tags, strict=True)]


def mixed_pairs(ctx: MethodContext, pairs: list[TokGroup], share: float, round_index: int,
                relabel: float = 0.0) -> list[TokGroup]:
    from methods._base import DATA, DATA_RELABELLED, mixed_counts
    from methods._pairwise import tokenize_pairs

    offline = tokenize_pairs(ctx)
    rng = np.random.default_rng([int(ctx.seed), round_index, 0x0FF])
    n = len(pairs)
    m, total = mixed_counts(n, share, relabel)
    slots = rng.choice(n, size=total, replace=False)
    picked = rng.choice(len(offline), size=total, replace=total > len(offline))
    out = list(pairs)
    for j, (slot, i) in enumerate(zip(slots, picked, strict=True)):
        out[int(slot)] = replace(offline[int(i)], source=DATA if j < m else DATA_RELABELLED)
    return out

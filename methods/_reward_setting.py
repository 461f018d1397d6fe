"""The reward-model setting: K samples per training prompt from the SFT policy, scored, trained on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bench.generation import PromptRef
from bench.hashing import content_key
from bench.models._prompting import encode_prompt, sample_ids
from methods._context import MethodContext, Policy
from methods._pairwise import train_policy, trained_policy

if TYPE_CHECKING:
    from methods._base import RewardModelMethod
    from methods._train import TokGroup

log = logging.getLogger(__name__)
# Training samples use SFT sample indices disjoint from evaluation samples and Best-of-N candidates.
TRAIN_OFFSET = 20_000


def training_prompts(ctx: MethodContext, limit: int) -> list[str]:
    """Distinct prompts of the training pairs in use, in file order."""
    prompts = list(dict.fromkeys(p.prompt for p in ctx.data.train_pairs))
    if limit > len(prompts):
        log.warning("prompts = %d, but the training pairs in use have %d distinct prompts: all %d are used",
                    limit, len(prompts), len(prompts))
    return prompts if limit <= 0 else prompts[:limit]


def training_refs(ctx: MethodContext, limit: int) -> tuple[list[str], list[PromptRef]]:
    """The training prompts (see :func:`training_prompts`) and their rendered, tokenized references."""
    texts = training_prompts(ctx, limit)
    max_prompt = ctx.spec.train.max_prompt_tokens
    return texts, [PromptRef(content_key("prompt", t), tuple(encode_prompt(ctx.tokenizer, ctx.task, t, max_prompt)))
                   for t in texts]


def train_groups(ctx: MethodContext, method: RewardModelMethod) -> Policy:
    params = method.params
    texts, refs = training_refs(ctx, params.prompts)
    rm = ctx.reward_model()
    # Each training seed draws its own K samples per prompt (sample indices disjoint from other seeds'):
    # sampling from the SFT policy is part of the method, so a seed replicates it. The first seed keeps
    # the indices (and the identity) a single-seed run gives it.
    replica = ctx.seed - ctx.spec.seed
    first = TRAIN_OFFSET + replica * params.k
    extra = ("reward-model setting", rm.id, ctx.sampler.sampling_key, [r.prompt_id for r in refs],
             *((("samples from", first),) if replica else ()))
    found = trained_policy(ctx, method, ctx.policy_key(method, *extra))
    if found is not None:
        return found  # nothing is sampled or scored again
    ctx.store.add_prompts([(r.prompt_id, t) for r, t in zip(refs, texts, strict=True)])
    base = ctx.base_policy()
    try:
        samples = ctx.sampler.ensure(base.id, str(base.path), refs, params.k, label=f"{method.name} training samples",
                                     first_index=first)
    finally:
        ctx.sampler.close()  # free the engine before training
    rm.prompt_text.update({r.prompt_id: t for r, t in zip(refs, texts, strict=True)})
    scores = rm.rewards(samples)  # calibrated: softmax(r / beta_r) needs the reward scale
    groups = tokenized_groups(ctx, refs, samples, scores)
    log.info("%s: %d prompts x %d samples scored by the reward model", method.name, len(groups), params.k)
    return train_policy(ctx, method, groups=groups, extra_key=extra)


def tokenized_groups(ctx: MethodContext, refs: list[PromptRef], samples: dict, scores: dict[str, float] | None
            ) -> list[TokGroup]:
    """Tokenized groups of the samples per prompt, with the samples' scores as rewards (if given)."""
    from methods._train import TokGroup

    tok, max_completion = ctx.tokenizer, ctx.spec.train.max_completion_tokens
    groups = []
    for ref in refs:
        rows = samples[ref.prompt_id]
        completions = [tuple(sample_ids(tok, g, max_completion)) for g in rows]
        rewards = None if scores is None else tuple(float(scores[g["id"]]) for g in rows)
        groups.append(TokGroup(ref.ids, tuple(completions), rewards))
    return groups


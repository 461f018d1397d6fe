"""Online rounds on the exact task: groups sampled from a policy's table, reordered into preference pairs."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from bench.exact._train import Batch
from bench.hashing import content_key


def sample_groups(logp: np.ndarray, k: int, n: int, seed: Any) -> Batch:
    """``n`` groups: a prompt drawn uniformly and ``k`` outputs drawn from ``logp`` [P, N] (with replacement)."""
    rng = np.random.default_rng(seed)
    prompts = rng.integers(logp.shape[0], size=n)
    outputs = np.empty((n, k), dtype=np.int64)
    for p in range(logp.shape[0]):  # per prompt: no [n, N] probability matrix
        rows = np.flatnonzero(prompts == p)
        probs = np.exp(logp[p] - logp[p].max())
        outputs[rows] = rng.choice(logp.shape[1], size=(len(rows), k), p=probs / probs.sum())
    return Batch(torch.from_numpy(prompts), torch.from_numpy(outputs), None)


def pairs_from(samples: Batch, chosen: np.ndarray, rejected: np.ndarray, sources: np.ndarray | None = None) -> Batch:
    """(chosen, rejected) pairs: per row, the outputs in columns ``chosen`` and ``rejected``, tagged with
    ``sources`` (codes of ``methods.PAIR_SOURCES``) when given."""
    rows = torch.arange(len(samples.prompts))
    cols = torch.stack([torch.as_tensor(chosen), torch.as_tensor(rejected)], dim=1)
    tags = None if sources is None else torch.as_tensor(np.asarray(sources, dtype=np.int64))
    return Batch(samples.prompts, samples.outputs[rows[:, None], cols], None, tags)


def mixed_pairs(problem: Any, pairs: Batch, share: float, dataset_size: int, seed: int, round_index: int,
                relabel: float = 0.0) -> Batch:
    """``pairs`` with a random ``share`` of its rows replaced by offline preference pairs: fresh draws from
    pi_sft with Bradley–Terry labels, or draws from the fixed dataset of ``dataset_size`` groups that offline
    training uses (the same seed builds the same dataset); a further ``relabel`` share of rows gets such
    pairs tagged ``data-relabelled``."""
    from bench.exact._train import Sampler
    from methods._base import DATA, DATA_RELABELLED, mixed_counts

    n = len(pairs.prompts)
    m, total = mixed_counts(n, share, relabel)
    sampler = Sampler(problem, 2, False, dataset_size, seed)
    sampler.gen.manual_seed(int(np.random.default_rng([seed, round_index, 0x0FF]).integers(2**62)))
    offline = sampler.batch(total)
    slots = torch.randperm(n, generator=sampler.gen)[:total]
    prompts, outputs = pairs.prompts.clone(), pairs.outputs.clone()
    prompts[slots], outputs[slots] = offline.prompts, offline.outputs
    sources = None  # untagged pairs are data; relabelled rows must be tagged
    if pairs.sources is not None or total > m:
        sources = pairs.sources.clone() if pairs.sources is not None else torch.full((n,), DATA)
        sources[slots[:m]], sources[slots[m:]] = DATA, DATA_RELABELLED
    return Batch(prompts, outputs, None, sources)


def groups_key(groups: Batch | None) -> str | None:
    """A content identity of a fixed set of groups (part of the trained policy's identity)."""
    if groups is None:
        return None
    data = groups.prompts.numpy().tobytes() + groups.outputs.numpy().tobytes()
    if groups.sources is not None:
        data += b"sources" + groups.sources.numpy().tobytes()
    return content_key("exact-groups", hashlib.sha256(data).hexdigest())

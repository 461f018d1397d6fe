"""Cached sampling: only (policy, prompt, sample index) triples missing from the store are generated."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.generation._types import Engine, Request, SamplingParams, sample_seed
from bench.hashing import content_key
from bench.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptRef:
    prompt_id: str
    ids: tuple[int, ...]  # rendered by the policy's chat template, truncated to the prompt budget


def generation_id(policy_id: str, prompt_id: str, sampling_key: str, index: int) -> str:
    return content_key("generation", policy_id, prompt_id, sampling_key, index)


class Sampler:
    """Draws samples through an engine, started only when something is missing, and stores them."""

    def __init__(self, store: Any, engine_factory: Callable[[str], Engine], engine_kind: str, seed: int,
                 params: SamplingParams, chunk: int = 128) -> None:
        self.store, self.engine_factory, self.engine_kind = store, engine_factory, engine_kind
        self.seed, self.params, self.chunk = seed, params, chunk
        self.sampling_key = params.key(engine_kind, seed)
        self.generated = 0
        self._engine: Engine | None = None
        self._engine_path: str | None = None

    def _engine_for(self, model_path: str) -> Engine:
        """Keep one engine open while consecutive requests sample the same checkpoint."""
        if self._engine is not None and self._engine_path != model_path:
            self.close()
        if self._engine is None:
            self._engine = self.engine_factory(model_path)
            self._engine_path = model_path
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            engine, self._engine, self._engine_path = self._engine, None, None
            engine.close()

    def ensure(self, policy_id: str, model_path: str, prompts: Sequence[PromptRef], n: int,
               label: str = "", first_index: int = 0) -> dict[str, list[dict[str, Any]]]:
        """Samples first_index..first_index+n-1 of every prompt, grouped by prompt id in index order."""
        wanted = range(first_index, first_index + n)
        have = self.store.generations(policy_id, self.sampling_key, [p.prompt_id for p in prompts])
        present = {(g["prompt_id"], g["sample_index"]) for g in have}
        todo = [(p, i) for p in prompts for i in wanted if (p.prompt_id, i) not in present]
        if todo:
            self._generate(policy_id, model_path, todo, label)
        return self.store.generations_by_prompt(policy_id, self.sampling_key, [p.prompt_id for p in prompts], wanted)

    def _generate(self, policy_id: str, model_path: str, todo: list[tuple[PromptRef, int]], label: str) -> None:
        log.info("sampling %d completions for %s", len(todo), label or policy_id)
        engine = self._engine_for(model_path)
        with progress(total=len(todo), desc=f"generate {label}".strip(), unit="sample") as bar:
            for start in range(0, len(todo), self.chunk):
                part = todo[start:start + self.chunk]
                reqs = [Request(p.ids, sample_seed(self.seed, p.prompt_id, i)) for p, i in part]
                samples = engine.generate(reqs, self.params)
                rows = [{
                    "id": generation_id(policy_id, p.prompt_id, self.sampling_key, i),
                    "policy_id": policy_id, "prompt_id": p.prompt_id, "sampling_key": self.sampling_key,
                    "sample_index": i, "text": s.text, "n_tokens": s.n_tokens, "logprob": s.logprob,
                    "finish_reason": s.finish_reason,
                } for (p, i), s in zip(part, samples, strict=True)]
                self.generated += self.store.put_generations(rows)  # one transaction per chunk
                bar.update(len(part))

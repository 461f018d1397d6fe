"""The engine interface shared by the vLLM engine and the transformers fallback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from bench.hashing import content_key


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    max_tokens: int

    def key(self, engine_kind: str, seed: int) -> str:
        """Identity of how samples were drawn; with the sample index and prompt it names a sample."""
        return content_key("sampling", engine_kind, seed, asdict(self))


@dataclass(frozen=True)
class Request:
    """One sample of one prompt: token ids already rendered by the model's chat template."""

    prompt_ids: tuple[int, ...]
    seed: int


@dataclass(frozen=True)
class Sample:
    text: str
    n_tokens: int
    logprob: float | None  # sum over sampled tokens (stop token included) of log pi(token), temperature 1
    finish_reason: str  # stop | length
    token_ids: tuple[int, ...] = ()  # the sampled ids (stop token included), where the engine gives them


class Engine(Protocol):
    kind: str

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Sample]:
        """One sample per request, reproducible from the request's seed."""
        ...

    def close(self) -> None: ...


def sample_seed(base_seed: int, prompt_id: str, index: int) -> int:
    """A per-sample seed: sample ``index`` of a prompt is the same whatever else is in the batch."""
    return int(content_key("seed", base_seed, prompt_id, index, length=8), 16) & 0x7FFFFFFF

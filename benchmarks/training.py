"""Training steps: bench's DPO and EXO steps vs TRL's ``DPOTrainer`` (loss types ``sigmoid`` and
``exo_pair``) on the same model (embedded SmolLM2-135M), the same TL;DR pairs and batch (2 pairs per step,
bf16 autocast on CPU), seconds per step (median over the steps after the first) and peak memory (max
RSS of a fresh process per configuration).

bench computes reference log-probs once before training (not in the step). TRL is measured twice:
``matched`` does the same work per step as bench (``precompute_ref_log_probs=True``, no gradient
checkpointing), ``defaults`` is what a TRL user gets out of the box (a reference forward in every step, and
gradient checkpointing, which ``DPOConfig`` turns on by default: one more policy forward in the backward).

The machine is shared, so configurations run in fresh processes in an alternating order (bench, TRL, TRL,
bench, then TRL defaults; reversed in every second of ``--rounds``) and the table reports the median over
all timed steps of all rounds, with the load average seen by each process. ``--log`` keeps finished runs,
so an interrupted benchmark resumes.

    .venv/bin/python benchmarks/training.py [--steps 4] [--rounds 1] [--log /tmp/you/training.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BATCH = 2
CONFIGS = ("bench-dpo", "trl-sigmoid", "trl-exo", "bench-exo", "trl-sigmoid-defaults")


def _data(steps: int):
    from bench.tasks import TASKS, resolve_data_dir

    task = TASKS.get("tldr")()
    data = task.load(resolve_data_dir(None), train_pairs=BATCH * steps, val_pairs=1)
    return task, list(data.train_pairs[: BATCH * steps])


def _intervals(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of this process) between consecutive stamps."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:], strict=False)]


def _bench(kind: str, steps: int) -> list[tuple[float, float]]:
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
    stamps: list[tuple[float, float]] = []

    def timed_loss(inputs):
        stamps.append((time.perf_counter(), time.process_time()))  # one call per step (micro batch = batch)
        return method.group_loss(inputs)

    cfg = TrainConfig(lr=1e-6, batch_size=BATCH, micro_batch=BATCH, epochs=1, bf16=True, seed=0)
    train_pairwise(model, groups, ref, timed_loss, method.implicit_beta(), cfg, tok.pad_token_id)
    return _intervals(stamps)


def _trl(loss_type: str, steps: int, defaults: bool) -> list[tuple[float, float]]:
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
    stamps: list[tuple[float, float]] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, ANN003
            stamps.append((time.perf_counter(), time.process_time()))

    tuning = {} if defaults else {"precompute_ref_log_probs": True, "gradient_checkpointing": False}
    with tempfile.TemporaryDirectory() as out:
        cfg = DPOConfig(output_dir=out, per_device_train_batch_size=BATCH, max_steps=steps, learning_rate=1e-6,
                        beta=0.5, loss_type=[loss_type], label_smoothing=1e-3 if loss_type == "exo_pair" else 0.0,
                        bf16=True, use_cpu=True, report_to=[], logging_steps=1, save_strategy="no",
                        max_length=448, dataloader_num_workers=0, **tuning)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             callbacks=[Stamp()])
        stamps.append((time.perf_counter(), time.process_time()))
        trainer.train()
    return _intervals(stamps)


def _one(config: str, steps: int) -> None:
    """Run one configuration in this (fresh) process and print its step times and peak memory."""
    os.environ.setdefault("BENCH_NO_PROGRESS", "1")
    import torch

    side, kind, *variant = config.split("-")
    load0 = os.getloadavg()[0]
    if side == "bench":
        times = _bench(kind, steps)
    else:
        times = _trl({"exo": "exo_pair"}.get(kind, kind), steps, variant == ["defaults"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"config": config, "step_seconds": [t for t, _ in times], "step_cpu": [c for _, c in times],
                      "peak_gb": peak, "threads": torch.get_num_threads(),
                      "load": [load0, os.getloadavg()[0]]}))


def _run(config: str, steps: int) -> dict:
    from benchmarks._machine import run_child

    result = run_child(__file__, config, "--steps", str(steps))
    print(f"{config}: {', '.join(f'{t:.1f}' for t in result['step_seconds'])} s, load {result['load']}", flush=True)
    return result


def _table(results: dict[str, list[dict]], steps: int, rounds: int) -> list[str]:
    def timed(c: str, key: str) -> list[float]:  # the first interval holds warm-up: dropped in every round
        return [t for r in results[c] for t in (r[key][1:] or r[key])]

    results = {c: rs for c, rs in results.items() if rs}  # configurations that ran
    rounds = len({r["round"] for rs in results.values() for r in rs})
    wall = {c: statistics.median(timed(c, "step_seconds")) for c in results}
    cpu = {c: statistics.median(timed(c, "step_cpu")) for c in results}
    table = ["| configuration | wall s / step (median) | min-max | CPU s / step (median) | steps timed | "
             "peak RSS (GB) | load (1-min, start-end of each run) |", "|---|---|---|---|---|---|---|"]
    for c in results:
        w = timed(c, "step_seconds")
        loads = ", ".join(f"{r['load'][0]:.1f}-{r['load'][1]:.1f}" for r in results[c])
        table.append(f"| {c} | {wall[c]:.2f} | {min(w):.2f}-{max(w):.2f} | {cpu[c]:.2f} | {len(w)} | "
                     f"{max(r['peak_gb'] for r in results[c]):.2f} | {loads} |")

    def ratio(a: str, b: str) -> str:
        if a not in wall or b not in wall:
            return "not measured"
        return f"**{wall[a] / wall[b]:.2f}x** wall, {cpu[a] / cpu[b]:.2f}x CPU"

    table += ["", f"TRL over bench, per step (>1: bench faster): DPO vs TRL sigmoid matched "
              f"{ratio('trl-sigmoid', 'bench-dpo')}; vs TRL sigmoid defaults {ratio('trl-sigmoid-defaults', 'bench-dpo')}; "
              f"EXO vs TRL exo_pair matched {ratio('trl-exo', 'bench-exo')}. "
              f"{BATCH} TL;DR pairs per step, prompts <= 384 and completions <= 64 tokens, bf16 autocast, AdamW, "
              f"{next(iter(results.values()))[0]['threads']} torch threads; {steps} steps per process (the first dropped), "
              f"{rounds} rounds in alternating order. TRL matched: precomputed reference log-probs, no gradient "
              f"checkpointing (bench's work per step); defaults: reference forward in every step and gradient "
              f"checkpointing. CPU s = the process's user+system time, less sensitive than wall time to other work "
              f"on the cores."]
    return table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1, help="0: only tabulate the runs kept in --log")
    ap.add_argument("--log", type=Path, help="JSON lines of finished runs: kept, and a rerun skips them")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="which configurations, in this order")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return _one(args.one, args.steps)
    configs = tuple(args.configs.split(","))
    done = [json.loads(x) for x in args.log.read_text().splitlines()] if args.log and args.log.exists() else []
    results: dict[str, list[dict]] = {c: [r for r in done if r["config"] == c] for c in CONFIGS}
    for r in range(args.rounds):
        for config in (configs if r % 2 == 0 else configs[::-1]):
            if any(x.get("round") == r for x in results[config]):
                continue
            results[config].append({**_run(config, args.steps), "round": r})
            if args.log:
                with args.log.open("a") as f:
                    f.write(json.dumps(results[config][-1]) + "\n")
    from benchmarks._machine import report

    report("Training steps", _table(results, args.steps, args.rounds))


if __name__ == "__main__":
    main()

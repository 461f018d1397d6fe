"""Data-parallel training of one policy on ``train.processes`` ranks, on existing engines: the ranks are
started by ``torch.distributed.run`` and run :func:`methods._train.train_pairwise` through ``accelerate``
(DistributedDataParallel; NCCL, one GPU per rank, on GPU machines; gloo on CPU).

The parent (the bench run) writes a job (groups, reference log-probs, method, settings) to a folder, starts
the ranks and waits; rank 0 writes the checkpoints and the step records; the parent alone writes the store.
Every rank takes a contiguous slice of each batch and the ranks' gradients are summed, so the updates are
those of one process up to the order of floating-point sums (tested against one process).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from methods._train import Parallel, TokGroup, TrainConfig, save_checkpoint, train_pairwise

log = logging.getLogger(__name__)


class Accelerated(Parallel):
    """:class:`Parallel` on the ranks of an ``accelerate.Accelerator``."""

    def __init__(self) -> None:
        from accelerate import Accelerator

        self.acc = Accelerator(cpu=not torch.cuda.is_available())
        self.rank, self.world = self.acc.process_index, self.acc.num_processes
        self.model: Any = None

    def prepare(self, model: Any, opt: Any) -> tuple[Any, Any]:
        self.model, opt = self.acc.prepare(model, opt)
        return self.model, opt

    def backward(self, loss: torch.Tensor, sync: bool) -> None:
        if sync:
            self.acc.backward(loss)
            return
        with self.acc.no_sync(self.model):  # accumulate micro-batches locally; all-reduce on the last one
            self.acc.backward(loss)

    def clip(self, model: Any, max_norm: float) -> float:
        return float(self.acc.clip_grad_norm_(model.parameters(), max_norm))

    def gather(self, t: torch.Tensor | None) -> torch.Tensor | None:
        from accelerate.utils import gather_object

        parts = gather_object([t])
        return None if parts[0] is None else torch.cat(parts)

    def total(self, x: float) -> float:
        from accelerate.utils import gather_object

        return float(sum(gather_object([x])))


def _die_with_parent() -> None:
    """In the launcher, before it starts (Linux): SIGTERM when bench dies, even by SIGKILL, so the launcher
    stops its ranks instead of training on as orphans."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _launch(cmd: list[str], result: Path, grace_s: float = 60.0) -> int | None:
    """Run the launcher until it exits; once the result is written, give it ``grace_s`` to exit and stop it
    if a rank hangs on the way out (the training is done by then)."""
    proc = subprocess.Popen(cmd, env=os.environ.copy(), preexec_fn=_die_with_parent)
    finished_at = None
    while proc.poll() is None:
        if finished_at is None and result.is_file():
            finished_at = time.monotonic()
        if finished_at is not None and time.monotonic() - finished_at > grace_s:
            log.warning("training finished but its ranks did not exit after %.0f s: stopping them", grace_s)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            break
        time.sleep(0.5)
    return proc.returncode


def train_distributed(method: Any, pairs: Sequence[TokGroup], ref: torch.Tensor, cfg: TrainConfig, pad: int,
                      start: str, target: Path, keep: set[int], processes: int
                      ) -> tuple[list[dict], float, list[dict]]:
    """Train on ``processes`` ranks; returns the step records, training seconds and intermediate checkpoints."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.job*"):  # left by a killed run (the caller holds the lock)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.job") as tmp:
        job = Path(tmp)
        torch.save({"method": method, "pairs": list(pairs), "ref": ref, "cfg": cfg, "pad": pad, "start": start,
                    "target": str(target), "keep": sorted(keep)}, job / "job.pt")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "methods._ddp", str(job)]
        result = job / "result.json"
        code = _launch(cmd, result)
        if not result.is_file():
            raise RuntimeError(f"training {method.name} on {processes} processes failed (exit {code}); "
                               "the ranks' errors are above. Set train.processes=1 to train in this process.")
        out = json.loads(result.read_text())
    return out["records"], out["seconds"], out["checkpoints"]


def _worker(job: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = torch.load(job / "job.pt", weights_only=False)
    par = Accelerated()
    model = AutoModelForCausalLM.from_pretrained(spec["start"], dtype=torch.float32)
    target, keep, checkpoints = Path(spec["target"]), set(spec["keep"]), []

    def on_step(done: int) -> None:
        if done in keep and par.rank == 0:  # rank 0 writes; the others go on to the next all-reduce
            path = target.with_name(f"{target.name}-step{done}")
            save_checkpoint(par.acc.unwrap_model(par.model), tokenizer, path)
            checkpoints.append({"step": done, "path": str(path)})

    tokenizer = AutoTokenizer.from_pretrained(spec["start"])
    method = spec["method"]
    records, seconds = train_pairwise(model, spec["pairs"], spec["ref"], method.group_loss, method.implicit_beta(),
                                      spec["cfg"], spec["pad"], label=f"{method.name} x{par.world}",
                                      on_step=on_step, par=par)
    par.acc.wait_for_everyone()
    if par.rank == 0:
        save_checkpoint(par.acc.unwrap_model(par.model), tokenizer, target)
        tmp = job / "result.json.tmp"
        tmp.write_text(json.dumps({"records": records, "seconds": seconds, "checkpoints": checkpoints}))
        tmp.replace(job / "result.json")
    par.acc.wait_for_everyone()  # rank 0's files are in place before any rank leaves
    # Leave without tearing the process group down: with gloo, destroy_process_group once hung a rank
    # whose peer had already exited (seen in CI); everything is written and the peers exit together.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))

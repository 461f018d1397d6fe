"""Data-parallel training (``train.processes``): two real ranks started by torch.distributed.run, through
accelerate (gloo on CPU), make the same updates as one process."""

import json
from dataclasses import replace

import pytest
import torch
from test_train import _pairs
from transformers import AutoModelForCausalLM

from methods import METHODS
from methods._ddp import train_distributed
from methods._train import TrainConfig, reference_logps, train_pairwise

SAIL = ("sail", {"beta": 0.5, "rho": 0.2, "pi": 0.2, "gamma": 0.3})


# 7 pairs: batches of 3 and 3, then 1 group for 2 ranks (one rank idle). SAIL's pairs carry every source,
# relabelled data pairs included: their per-step labels must be the same draws on two ranks as on one.
@pytest.mark.parametrize(("name", "params"), [("exo", {"beta_pi": 0.5}), SAIL], ids=["exo", "sail-sources"])
def test_two_ranks_make_the_updates_of_one_process(tiny_models, tmp_path, name, params):
    start = str(tiny_models["policy"])
    pairs = _pairs(7)
    if name == "sail":
        pairs = [replace(p, source=i % 4) for i, p in enumerate(pairs)]
    base = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32)
    ref = reference_logps(base, pairs, pad=2, micro=4, bf16=False)
    method = METHODS.get(name).from_params(params)
    cfg = TrainConfig(lr=1e-3, batch_size=6, micro_batch=2, epochs=2, bf16=False, seed=3)

    one = AutoModelForCausalLM.from_pretrained(start, dtype=torch.float32)
    records, _ = train_pairwise(one, pairs, ref, method.group_loss, method.implicit_beta(), cfg, pad=2)
    target = tmp_path / "policies" / "two"
    ranked, seconds, checkpoints = train_distributed(method, pairs, ref, cfg, 2, start, target, {2}, processes=2)

    assert len(ranked) == len(records) == 4 and seconds > 0
    for a, b in zip(records, ranked, strict=True):
        for key in ("loss", "grad_norm", "reward_margin", "reward_accuracy", "logratio_chosen", "kl_is",
                    *(("relabelled",) if name == "sail" else ())):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key
    assert records[-1]["loss"] != records[0]["loss"]  # it did train
    two = AutoModelForCausalLM.from_pretrained(str(target), dtype=torch.float32)
    for (name, p), q in zip(one.state_dict().items(), two.state_dict().values(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), name
    assert [c["step"] for c in checkpoints] == [2] and (tmp_path / "policies" / "two-step2" / "config.json").is_file()
    assert not any(p.name.startswith(".two.job") for p in target.parent.iterdir())  # the job folder is gone


def test_a_failing_rank_is_a_clear_error(tiny_models, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama"}))  # no weights: every rank fails
    cfg = TrainConfig(lr=1e-3, batch_size=2, micro_batch=1, epochs=1, bf16=False, seed=0)
    with pytest.raises(RuntimeError, match="on 2 processes failed.*train.processes=1"):
        train_distributed(METHODS.get("dpo").from_params({"beta": 0.1}), _pairs(2), torch.zeros(2, 2), cfg, 2, str(broken),
                          tmp_path / "policies" / "x", set(), processes=2)
    assert not (tmp_path / "policies" / "x").exists()


def _holding(path):
    """Processes whose command line names ``path`` (the launcher and its ranks)."""
    from pathlib import Path

    out = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "cmdline").read_bytes():
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def test_ranks_stop_when_bench_is_killed_and_a_rerun_clears_the_job(tiny_models, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    target = tmp_path / "policies" / "p"
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, torch\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_train import _pairs\n"
        "from methods import METHODS\n"
        "from methods._ddp import train_distributed\n"
        "from methods._train import TrainConfig\n"
        "cfg = TrainConfig(lr=1e-3, batch_size=2, micro_batch=1, epochs=100000, bf16=False, seed=0)\n"
        "train_distributed(METHODS.get('dpo').from_params({'beta': 0.1}), _pairs(4), torch.zeros(4, 2), cfg, 2,\n"
        f"                  {str(tiny_models['policy'])!r}, __import__('pathlib').Path({str(target)!r}), set(), 2)\n")
    parent = subprocess.Popen([sys.executable, str(script)], env={**os.environ, "BENCH_NO_PROGRESS": "1"})
    deadline = time.time() + 120
    while len(_holding(target.parent)) < 3 and time.time() < deadline:  # the launcher and both ranks
        time.sleep(0.5)
    assert len(_holding(target.parent)) >= 3 and parent.poll() is None
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 60
    while _holding(target.parent) and time.time() < deadline:
        time.sleep(0.5)
    assert _holding(target.parent) == []  # no rank trains on as an orphan
    assert list(target.parent.glob(".p.job*")) and not target.exists()  # the killed job's folder is left
    cfg = TrainConfig(lr=1e-3, batch_size=2, micro_batch=1, epochs=1, bf16=False, seed=0)
    train_distributed(METHODS.get("dpo").from_params({"beta": 0.1}), _pairs(4), torch.zeros(4, 2), cfg, 2,
                      str(tiny_models["policy"]), target, set(), processes=2)
    assert not list(target.parent.glob(".p.job*")) and (target / "config.json").is_file()


def test_a_launcher_that_hangs_after_the_result_is_stopped(tmp_path):
    import sys
    import time

    from methods._ddp import _launch

    result = tmp_path / "result.json"
    hang = f"import pathlib, time; pathlib.Path({str(result)!r}).write_text('{{}}'); time.sleep(600)"
    t0 = time.monotonic()
    code = _launch([sys.executable, "-c", hang], result, grace_s=1.0)
    assert result.is_file() and code is not None and code != 0 and time.monotonic() - t0 < 30

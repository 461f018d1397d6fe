"""PPO on tiny random language models: end to end through the runner, and resumed after a SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import threading

from conftest import REPO, tiny_run_args

from bench.generation import make_engine
from bench.runner import Runner
from bench.spec import build_spec, flags_layer

PPO_SETS = ("eval.prompts=2", "eval.samples=1", "train.max_completion_tokens=8", "ppo.rollout_batch=2")


def _spec(tiny_models, *extra):
    return build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
        "eval.max_new_tokens=6", "engine.kind=hf", "train.pairs=8", *PPO_SETS, *extra,
    ], task="tldr", methods="ppo", preset="smoke", model=str(tiny_models["policy"]))])


def test_ppo_trains_records_checkpoints_and_reruns_nothing(tiny_models, mini_data, store, tmp_path):
    spec = _spec(tiny_models, "ppo.iterations=3", "ppo.minibatches=2", "train.checkpoints=1")
    run_id = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=lambda p: make_engine("hf", p)).run()
    policy = next(p for p in store.run_policies(run_id) if p["method"] == "ppo")
    assert policy["setting"] == "reward-model" and policy["kind"] == "trained"
    info = json.loads(policy["info_json"])
    # one intermediate checkpoint (round 2 of 3, rounded from 1.5) and the final one, the policy's own path
    assert [c["step"] for c in info["checkpoints"]] == [2, 3] and info["checkpoints"][-1]["path"] == policy["path"]
    for c in info["checkpoints"]:
        assert (tmp_path / "out" / "artifacts" / "policies" / c["path"].rsplit("/", 1)[1] / "config.json").is_file()
    steps = store.train_steps(policy["id"])
    assert [s["step"] for s in steps] == [1, 2, 3]
    for key in ("score", "kl", "kl_se", "reward", "policy_loss", "value_loss", "clipfrac", "approx_kl", "length"):
        assert all(key in s for s in steps), key
    assert steps[0]["kl"] == 0.0  # the first rollouts come from pi_ref itself, scored in the same batches
    # before each round's first step, the policy's log-probs equal those of the rollout pass exactly
    assert all(s["first_step_logp_mismatch"] == 0.0 for s in steps)
    assert not list((tmp_path / "out" / "artifacts" / "ppo").rglob("state.pt"))  # removed once trained
    counts = store.counts()
    Runner(spec, store, tmp_path / "out", mini_data, engine_factory=lambda p: make_engine("hf", p)).run()
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 1}


class _Run:
    """``bench run`` in a subprocess, its log read line by line as it runs."""

    def __init__(self, args):
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-m", "bench", *args], env=env, cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.saved = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            if "saved the training state" in line:
                self.saved.set()
        self.saved.set()


def test_ppo_killed_mid_training_resumes_from_its_saved_state(tiny_models, mini_data, tmp_path):
    db, out = str(tmp_path / "b.db"), tmp_path / "out"
    sets = (*PPO_SETS, "ppo.iterations=12", "ppo.save_every=3")
    args = tiny_run_args(tiny_models, mini_data, db, out, methods="ppo", extra=sets)
    first = _Run(args)
    assert first.saved.wait(timeout=300)
    assert first.proc.poll() is None, "".join(first.lines[-20:])  # still training when killed
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    done_before = [ln for ln in first.lines if "ppo: round " in ln]
    saved = [int(ln.split("after round ")[1].split()[0]) for ln in first.lines if "saved the training state" in ln]
    second = _Run(args)
    assert second.proc.wait(timeout=600) == 0, "".join(second.lines[-20:])
    resumed = [ln for ln in second.lines if "resuming from the saved state" in ln]
    assert len(resumed) == 1 and f"after round {saved[-1]} of 12" in resumed[0]
    rounds = [int(ln.split("ppo: round ")[1].split()[0]) for ln in second.lines if "ppo: round " in ln]
    assert rounds == list(range(saved[-1] + 1, 13))  # not from scratch
    assert len(done_before) >= saved[-1] >= 3
    from bench.store import Store

    store = Store(db)
    policy = next(p for p in store.run_policies(store.latest_run_id()) if p["method"] == "ppo")
    assert [s["step"] for s in store.train_steps(policy["id"])] == list(range(1, 13))  # records kept across the kill
    store.close()

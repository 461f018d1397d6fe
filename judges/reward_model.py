"""The reward-model judge: a scalar head on a small encoder, trained with the Bradley-Terry loss.

Input is ``response [SEP] prompt``; truncation cuts the longer of the two first, so a response
shorter than half the budget is always seen whole. A prompt loses its end, or, for tasks whose prompt's end
matters most (dialogues: ``Task.keep_prompt_end``), its start.
Scores are cached per (judge, generation) in the store, so a rerun scores nothing again.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.hashing import content_key
from bench.progress import progress
from judges._scored import CachedScores

log = logging.getLogger(__name__)
RM_VERSION = "1"


def _build(backbone_path: str, hidden: int | None = None) -> Any:
    import torch
    from transformers import AutoModel

    class ScalarRM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = AutoModel.from_pretrained(backbone_path, dtype=torch.float32)
            self.head = torch.nn.Linear(hidden or self.backbone.config.hidden_size, 1)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    return ScalarRM()


def _encode(tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], max_tokens: int,
            keep_end: bool = False) -> dict:
    if keep_end:
        return _encode_keep_end(tokenizer, prompts, responses, max_tokens)
    enc = tokenizer(list(responses), list(prompts), truncation="longest_first", max_length=max_tokens,
                    padding=True, return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def _encode_keep_end(tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], max_tokens: int) -> dict:
    """As ``longest_first`` truncation (the longer side is cut first), but a prompt keeps its end: an
    over-long prompt is cut at the character where its first kept token starts."""
    room = max_tokens - tokenizer.num_special_tokens_to_add(pair=True)
    cut = []
    for prompt, response in zip(prompts, responses, strict=True):
        r = len(tokenizer(response, add_special_tokens=False, verbose=False).input_ids)
        enc = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True, verbose=False)  # uncut on purpose
        n = len(enc["input_ids"])
        keep = room - min(r, max(room - n, room // 2))
        cut.append(prompt[enc["offset_mapping"][n - keep][0]:] if 0 < keep < n else prompt)
    return _encode(tokenizer, cut, responses, max_tokens)


def _val_margins(model: Any, tok: Any, pairs: Sequence[Any], max_tokens: int, batch: int, keep_end: bool = False
                 ) -> tuple[list[str], list[float]]:
    """Per held-out pair: its prompt's key and the margin r(chosen) - r(rejected)."""
    import torch

    keys, margins = [], []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            part = pairs[i:i + batch]
            prompts = [p.prompt for p in part]
            c = model(**_encode(tok, prompts, [p.chosen for p in part], max_tokens, keep_end)).tolist()
            r = model(**_encode(tok, prompts, [p.rejected for p in part], max_tokens, keep_end)).tolist()
            keys += [content_key(p.prompt) for p in part]
            margins += [a - b for a, b in zip(c, r, strict=True)]
    return keys, margins


def _bt_accuracy(keys: Sequence[str], margins: Sequence[float]) -> dict[str, float]:
    """Held-out accuracy (a tie counts 1/2) with a 95% bootstrap interval over prompts: one post has
    several comparisons, so the comparisons are not independent."""
    from bench.stats import verdict_from_scores, win_rate

    wr = win_rate([(k, verdict_from_scores(m, 0.0)) for k, m in zip(keys, margins, strict=True)], seed=0)
    return {"accuracy": wr.win_rate, "n": wr.n_total, "n_prompts": wr.n_prompts, "ci_low": wr.ci_low,
            "ci_high": wr.ci_high}


def calibrate(margins: Sequence[float], max_logit: float = 50.0) -> dict[str, Any]:
    """One temperature t >= 0 for the reward model's scores, fit by maximum likelihood of the Bradley-Terry
    model P(chosen > rejected) = sigmoid(t * margin) on held-out margins (Guo et al. 2017's temperature
    scaling, for a pairwise model). A briefly trained reward model ranks pairs far better than its margins'
    scale says (its log-loss stays near log 2); the policies that use its scores as rewards (PPO's r, the
    reward-model setting's softmax(r / beta_r), online rounds' Bradley-Terry labels) need that scale.
    The log-loss is convex in t: bisection on its derivative. t = 0 when the mean margin is not positive (the
    model is no better than chance there), 1 without held-out pairs; t is capped so that no held-out margin exceeds ``max_logit``
    (separable held-out pairs have no finite optimum). Ranking, win rates and Best-of-N do not change."""
    import numpy as np

    m = np.asarray(margins, dtype=np.float64)
    if len(m) == 0:
        return {"temperature": 1.0, "logloss_raw": None, "logloss": None, "n": 0, "capped": False,
                "method": "none: no held-out pairs, scores used as they are"}
    loss = lambda t: float(np.mean(np.logaddexp(0.0, -t * m)))  # noqa: E731
    grad = lambda t: float(np.mean(-m / (1.0 + np.exp(np.clip(t * m, -700, 700)))))  # noqa: E731
    top = max_logit / float(np.abs(m).max()) if np.abs(m).max() > 0 else 0.0
    if top == 0.0 or grad(0.0) >= 0:
        t = 0.0
    elif grad(top) <= 0:
        t = top
    else:
        lo, hi = 0.0, top
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if grad(mid) < 0 else (lo, mid)
        t = (lo + hi) / 2
    return {"temperature": t, "logloss_raw": loss(1.0), "logloss": loss(t), "n": len(m), "capped": t == top > 0,
            "method": "Bradley-Terry temperature on the held-out pairs"}


def train_reward_model(backbone: Any, train_pairs: Sequence[Any], val_pairs: Sequence[Any], spec: Any,
                       seed: int, target: Path, keep_end: bool = False) -> dict[str, Any]:
    """Fine-tune backbone + head on ``train_pairs`` with -log sigmoid(r_chosen - r_rejected)."""
    import torch
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(backbone.path))
    model = _build(str(backbone.path))
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)
    t0, losses = time.time(), []
    steps = math.ceil(len(train_pairs) / spec.batch_size) * spec.epochs
    with progress(total=steps, desc="train reward model", unit="step") as bar:
        for _ in range(spec.epochs):
            order = torch.randperm(len(train_pairs), generator=gen).tolist()
            for i in range(0, len(order), spec.batch_size):
                model.train()
                part = [train_pairs[j] for j in order[i:i + spec.batch_size]]
                prompts = [p.prompt for p in part]
                c = model(**_encode(tok, prompts, [p.chosen for p in part], spec.max_tokens, keep_end))
                r = model(**_encode(tok, prompts, [p.rejected for p in part], spec.max_tokens, keep_end))
                loss = -torch.nn.functional.logsigmoid(c - r).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    seconds = time.time() - t0
    keys, margins = _val_margins(model, tok, val_pairs, spec.max_tokens, spec.batch_size, keep_end)
    val = _bt_accuracy(keys, margins)
    calibration = calibrate(margins) if spec.calibrate else None
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.backbone.save_pretrained(tmp / "backbone")
    tok.save_pretrained(tmp / "backbone")
    torch.save(model.head.state_dict(), tmp / "head.pt")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    log.info("reward model: held-out accuracy %.3f (n=%d) after %.1f s", val["accuracy"], val["n"], seconds)
    if calibration is not None and calibration["n"]:
        log.info("reward model: rewards = %.4g x score (Bradley-Terry log-loss on %d held-out pairs %.4f -> %.4f)",
                 calibration["temperature"], calibration["n"], calibration["logloss_raw"], calibration["logloss"])
        if calibration["temperature"] == 0:
            log.warning("reward model: no better than chance on the held-out pairs (mean margin <= 0): the rewards "
                        "used for training (PPO, the reward-model setting, online rounds) are all 0")
    return {"train_seconds": seconds, "train_pairs": len(train_pairs), "final_loss": losses[-1] if losses else None,
            "val": val, "calibration": calibration, "backbone": backbone.name,
            "backbone_identity": backbone.identity}


class RewardModelJudge(CachedScores):
    """Scores generations with a trained reward model; scores are cached in the store."""

    kind = "reward_model"

    def __init__(self, judge_id: str, path: Path, store: Any, prompt_text: dict[str, str], max_tokens: int,
                 info: dict[str, Any], keep_end: bool = False) -> None:
        self.id, self.path, self.store, self.prompt_text = judge_id, path, store, prompt_text
        self.max_tokens, self.info, self.keep_end = max_tokens, info, keep_end
        self._model: Any = None
        self._tok: Any = None
        self.scored = 0

    def _load(self) -> None:
        import torch
        from transformers import AutoTokenizer

        self._tok = AutoTokenizer.from_pretrained(str(self.path / "backbone"))
        self._model = _build(str(self.path / "backbone"))
        self._model.head.load_state_dict(torch.load(self.path / "head.pt"))
        self._model.eval()

    @property
    def temperature(self) -> float:
        """The calibration factor of rewards (1 for reward models trained without calibration)."""
        cal = self.info.get("calibration")
        return 1.0 if not cal else float(cal["temperature"])

    def rewards(self, grouped: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
        """Calibrated rewards t x score of the generations (scores cached as for judging)."""
        return {k: self.temperature * v for k, v in self.score_generations(grouped).items()}

    def reward_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        return [self.temperature * v for v in self.score_texts(prompts, responses)]

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str], batch: int = 32) -> list[float]:
        import torch

        if self._model is None:
            self._load()
        order = sorted(range(len(responses)), key=lambda i: len(prompts[i]) + len(responses[i]))
        out = [0.0] * len(responses)
        with torch.no_grad(), progress(total=len(order), desc="reward-model scores", unit="seq") as bar:
            for i in range(0, len(order), batch):
                idx = order[i:i + batch]
                enc = _encode(self._tok, [prompts[j] for j in idx], [responses[j] for j in idx], self.max_tokens,
                              self.keep_end)
                for j, v in zip(idx, self._model(**enc).tolist(), strict=True):
                    out[j] = float(v)
                bar.update(len(idx))
        return out


def ensure_reward_model(*, store: Any, backbone: Any, data: Any, spec: Any, seed: int, artifacts: Path,
                        prompt_text: dict[str, str], keep_end: bool = False) -> RewardModelJudge:
    """The run's reward model: reused if one with the same identity exists, trained otherwise. ``keep_end``:
    over-long prompts lose their start (the task's ``keep_prompt_end``)."""
    rm = spec.reward_model
    train = data.train_pairs if rm.pairs <= 0 else data.train_pairs[: rm.pairs]
    val = data.val_pairs if rm.val_pairs <= 0 else data.val_pairs[: rm.val_pairs]
    config = {"version": RM_VERSION, "backbone": backbone.name, "backbone_identity": backbone.identity,
              "settings": asdict(rm), "seed": seed,
              "train": content_key([(p.prompt, p.chosen, p.rejected) for p in train]),
              "val": content_key([(p.prompt, p.chosen, p.rejected) for p in val])}
    if keep_end:  # set only then: other reward models keep their identity
        config["keep_prompt_end"] = True
    judge_id = content_key("judge", "reward_model", config)
    target = artifacts / "judges" / judge_id
    from bench.locks import artifact_lock

    with artifact_lock(target):  # a second process needing the same reward model waits and reuses it
        row = store.judge(judge_id)
        if row is None or not (target / "head.pt").is_file():
            info = train_reward_model(backbone, train, val, rm, seed, target, keep_end)
            if row is None:
                store.put_judge({"id": judge_id, "kind": "reward_model", "name": "reward_model",
                                 "config_json": json.dumps(config, sort_keys=True), "path": str(target),
                                 "info_json": json.dumps(info)})
        else:
            info = json.loads(row["info_json"])
    return RewardModelJudge(judge_id, target, store, prompt_text, rm.max_tokens, info, keep_end)

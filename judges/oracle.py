"""An oracle reward for controlled tasks: a sentiment classifier whose log-odds of positive is the reward.

A frozen sentence encoder (MiniLM by default: mean-pooled, L2-normalised embeddings) and a logistic
regression on top, fit with L-BFGS on the labelled training reviews; the L2 penalty is chosen on the
validation reviews by log-loss; the held-out accuracy on the test reviews is reported with a 95% Wilson
interval. Reviews are cut to the same token budget as the texts it scores (prefix + continuation), so the
classifier sees what it is asked to judge; texts are cut from the left, so a continuation is always seen. Trained once per content key (encoder, data, settings, seed) and
kept on disk; scores are cached per (oracle, generation) in the store like the reward model's.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.hashing import content_key
from judges._scored import CachedScores

log = logging.getLogger(__name__)
ORACLE_VERSION = "1"
PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1)  # L2 on standardised features, chosen on validation log-loss


def join_text(prefix: str, continuation: str) -> str:
    """The text the oracle scores: the review prefix followed by its continuation."""
    if not continuation or continuation[:1].isspace() or prefix[-1:].isspace():
        return prefix + continuation
    return prefix + " " + continuation


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


class Embedder:
    """Mean-pooled, L2-normalised sentence embeddings of a frozen encoder."""

    def __init__(self, path: str, max_tokens: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(path)
        self.tok.truncation_side = "left"  # keep the end: a long prefix never hides its continuation
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
        self.max_tokens = max_tokens

    def __call__(self, texts: Sequence[str], batch: int = 32) -> Any:
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = torch.zeros(len(texts), self.model.config.hidden_size)
        with torch.no_grad():
            for i in range(0, len(order), batch):
                idx = order[i:i + batch]
                enc = self.tok([texts[j] for j in idx], truncation=True, max_length=self.max_tokens,
                               padding=True, return_tensors="pt")
                states = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1)
        return out


def fit_logistic(x: Any, y: Any, l2: float) -> tuple[Any, Any]:
    """Weights and bias minimising the mean logistic loss + l2/2 |w|^2 (L-BFGS, full batch)."""
    import torch

    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")
    xd, yd = x.double(), y.double()

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xd @ w + b, yd) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def train_oracle(embed: Embedder, reviews: Any, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit the classifier; returns its parameters (tensors) and its info (accuracy with a 95% CI)."""
    import torch

    torch.manual_seed(seed)
    t0 = time.time()
    feats = {s: embed([r.text for r in getattr(reviews, s)]) for s in ("train", "validation", "test")}
    labels = {s: torch.tensor([r.label for r in getattr(reviews, s)], dtype=torch.float64) for s in feats}
    mean, std = feats["train"].mean(0), feats["train"].std(0).clamp(min=1e-6)
    z = {s: ((f - mean) / std).double() for s, f in feats.items()}

    def logloss(w: Any, b: Any, s: str) -> float:
        return torch.nn.functional.binary_cross_entropy_with_logits(z[s] @ w + b, labels[s]).item()

    fits = {l2: fit_logistic(z["train"], labels["train"], l2) for l2 in PENALTIES}
    best = min(PENALTIES, key=lambda l2: logloss(*fits[l2], "validation"))
    w, b = fits[best]
    correct = int((((z["test"] @ w + b) > 0).double() == labels["test"]).sum().item())
    n = len(labels["test"])
    low, high = wilson(correct, n)
    info = {"accuracy": correct / n, "n": n, "k": correct, "ci_low": low, "ci_high": high, "interval": "Wilson 95%",
            "l2": best, "validation_logloss": logloss(w, b, "validation"), "train_reviews": len(labels["train"]),
            "validation_reviews": len(labels["validation"]), "seconds": time.time() - t0}
    log.info("oracle: held-out accuracy %.3f [%.3f, %.3f] (n=%d) in %.1f s", info["accuracy"], low, high, n,
             info["seconds"])
    return {"w": w.float(), "b": b.float(), "mean": mean, "std": std}, info


class OracleJudge(CachedScores):
    """Scores generations with the oracle's log-odds of positive sentiment; scores cached in the store."""

    kind = "oracle"

    def __init__(self, judge_id: str, path: Path, store: Any, backbone: str, max_tokens: int,
                 info: dict[str, Any]) -> None:
        self.id, self.path, self.store, self.info = judge_id, path, store, info
        self.backbone, self.max_tokens = backbone, max_tokens
        self.prompt_text: dict[str, str] = {}
        self._embed: Embedder | None = None
        self._params: dict[str, Any] | None = None
        self.scored = 0

    def score_texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        import torch

        if self._embed is None:
            self._embed = Embedder(self.backbone, self.max_tokens)
            self._params = torch.load(self.path / "oracle.pt")
        p = self._params
        x = self._embed([join_text(a, b) for a, b in zip(prompts, responses, strict=True)])
        return (((x - p["mean"]) / p["std"]) @ p["w"] + p["b"]).tolist()


def ensure_oracle(ctx: Any, reviews: Any) -> OracleJudge:
    """The task's oracle: reused if one with the same identity exists, trained otherwise."""
    import torch

    from bench.locks import artifact_lock
    from bench.models import resolve_encoder

    fs = ctx.spec.frontier
    encoder = resolve_encoder(fs.oracle_backbone)
    config = {"version": ORACLE_VERSION, "backbone": encoder.name, "backbone_identity": encoder.identity,
              "max_tokens": fs.oracle_max_tokens, "penalties": list(PENALTIES), "data": reviews.key(),
              "seed": ctx.spec.seed}
    judge_id = content_key("judge", "oracle", config)
    target = ctx.artifacts / "judges" / judge_id
    with artifact_lock(target):
        row = ctx.store.judge(judge_id)
        if row is None or not (target / "oracle.pt").is_file():
            params, info = train_oracle(Embedder(str(encoder.path), fs.oracle_max_tokens), reviews, ctx.spec.seed)
            info.update(backbone=encoder.name, backbone_identity=encoder.identity)
            tmp = target.with_name(target.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            torch.save(params, tmp / "oracle.pt")
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
            if row is None:
                ctx.store.put_judge({"id": judge_id, "kind": "oracle", "name": "oracle",
                                     "config_json": json.dumps(config, sort_keys=True), "path": str(target),
                                     "info_json": json.dumps(info)})
        else:
            info = json.loads(row["info_json"])
    return OracleJudge(judge_id, target, ctx.store, str(encoder.path), fs.oracle_max_tokens, info)

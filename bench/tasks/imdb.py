"""IMDB positive-sentiment continuation (the EXO and DPO papers' controlled task).

Prompts are review prefixes (the first 300 characters); the policy is asked to continue the review. The
reward is known: an oracle sentiment classifier trained on labelled reviews (``judges/oracle.py``), whose
log-odds of positive sentiment is the oracle reward. Training pairs do not come from a file: after the base
model and the sampler exist, :meth:`IMDB.prepare` samples two continuations per training prefix from the
SFT policy and labels them with the oracle (the higher oracle reward is chosen; exact ties are dropped).
Those pairs train the pairwise methods and the reward model of the reward-model setting.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.hashing import content_key, file_hash
from bench.tasks._base import EvalPrompt, PreferencePair, Task, TaskData, hub_datasets
from bench.tasks._jsonl import read_jsonl

log = logging.getLogger(__name__)
HUB_ID = "stanfordnlp/imdb"
PREFIX_CHARS = 300  # the shipped prompt files cut reviews here
REVIEWS = {"train": "imdb_train.csv", "validation": "imdb_validation.csv", "test": "imdb_test.csv"}
PROMPTS = {"train": "prompts_train.jsonl", "val": "prompts_val.jsonl"}
REFERENCES = "val_preferences.jsonl"  # a classifier-preferred continuation of each validation prefix
# Preference-pair samples use SFT sample indices disjoint from evaluation, Best-of-N and rw training samples.
PAIR_OFFSET = 30_000


@dataclass(frozen=True)
class Review:
    text: str
    label: int  # 1 positive, 0 negative


@dataclass
class Reviews:
    """Labelled reviews for the oracle: fit on train, regularisation chosen on validation, accuracy on test."""

    train: list[Review] = field(default_factory=list)
    validation: list[Review] = field(default_factory=list)
    test: list[Review] = field(default_factory=list)

    def key(self) -> str:
        return content_key([[(r.text, r.label) for r in part] for part in (self.train, self.validation, self.test)])


class IMDB(Task):
    name = "imdb"
    version = "1"
    description = "IMDB review prefixes continued with positive sentiment; oracle reward = a sentiment classifier"
    instruction = ("Continue this movie review with a positive opinion of the film. Write only the "
                   "continuation.\n\n{prompt}")
    default_beta = 0.1  # the EXO paper's IMDB beta
    max_new_tokens = 48
    temperature = 0.8
    has_oracle = True

    def __init__(self) -> None:
        self.train_prefixes: list[str] = []
        self.heldout_prefixes: list[str] = []
        self.reviews = Reviews()
        self.pair_info: dict[str, Any] = {}

    def load_splits(self, data_dir: Path | None) -> TaskData:
        if data_dir is None:
            return self._from_hub()
        folder = data_dir / "imdb"
        names = [*REVIEWS.values(), *PROMPTS.values(), REFERENCES]
        missing = [folder / f for f in names if not (folder / f).is_file()]
        if missing:
            raise InputError(
                f"IMDB data not found: looked for {', '.join(str(m) for m in missing)}. Point bench at a folder "
                "holding imdb/imdb_{train,validation,test}.csv, imdb/prompts_{train,val}.jsonl and "
                "imdb/val_preferences.jsonl with --data-dir DIR or BENCH_DATA_DIR=DIR (on these machines: "
                f"../shared/data), or unset both to load {HUB_ID} from the Hugging Face hub.", source=str(folder))
        self.reviews = Reviews(**{split: read_reviews(folder / f) for split, f in REVIEWS.items()})
        self.train_prefixes = [r["prompt"] for _, r in read_jsonl(folder / PROMPTS["train"], ("prompt",))]
        self.heldout_prefixes = [r["prompt"] for _, r in read_jsonl(folder / PROMPTS["val"], ("prompt",))]
        refs = {r["prompt"]: r["chosen"] for _, r in read_jsonl(folder / REFERENCES, ("prompt", "chosen"))}
        absent = [i for i, p in enumerate(self.heldout_prefixes, 1) if p not in refs]
        if absent:
            raise InputError("validation prefix has no reference continuation in " + REFERENCES,
                             source=str(folder / PROMPTS["val"]), row=absent[0], field="prompt")
        sources = {f"imdb/{f}": file_hash(folder / f, 16) for f in names}
        return self._assemble([EvalPrompt(p, refs[p]) for p in self.heldout_prefixes], sources)

    def _from_hub(self) -> TaskData:
        datasets = hub_datasets("imdb")
        try:
            train = [Review(r["text"], int(r["label"])) for r in datasets.load_dataset(HUB_ID, split="train")]
            test = [Review(r["text"], int(r["label"])) for r in datasets.load_dataset(HUB_ID, split="test")]
        except Exception as e:
            raise InputError(f"could not load {HUB_ID} from the hub ({type(e).__name__}: {e}). Offline, point "
                             "bench at a folder holding imdb/*.csv and imdb/*.jsonl with --data-dir DIR or "
                             "BENCH_DATA_DIR=DIR.", source="imdb") from None
        # The hub's splits are shuffled by label order; a fixed interleaving keeps both labels in every cut.
        train, test = _interleave(train), _interleave(test)
        self.reviews = Reviews(train=train[:600], validation=train[600:800], test=test[:200])
        self.train_prefixes = [r.text[:PREFIX_CHARS] for r in train[800:2800]]
        held = test[200:700]
        self.heldout_prefixes = [r.text[:PREFIX_CHARS] for r in held]
        # Offline files carry a classifier-preferred continuation as reference; on the hub, the review's own.
        evals = [EvalPrompt(r.text[:PREFIX_CHARS], r.text[PREFIX_CHARS:PREFIX_CHARS + 300]) for r in held]
        return self._assemble(evals, {"hub": HUB_ID})

    def _assemble(self, evals: list[EvalPrompt], sources: dict[str, str]) -> TaskData:
        return TaskData(train_pairs=(), val_pairs=(), eval_prompts=tuple(evals), sft=(), sources=sources,
                        extra_fingerprint=content_key(self.reviews.key(), self.train_prefixes))

    def prepare(self, ctx: Any, data: TaskData) -> TaskData:
        """Preference pairs sampled from the SFT policy on training prefixes, labelled by the oracle."""
        s = ctx.spec
        sizes = (s.train.pairs, s.reward_model.pairs)
        n_val = max(0, s.reward_model.val_pairs)
        pool = self.train_prefixes[:-n_val] if n_val else self.train_prefixes
        n_train = len(pool) if 0 in sizes else min(len(pool), max(sizes))
        train = oracle_pairs(ctx, self.oracle(ctx), pool[:n_train], "imdb preference pairs")
        val = oracle_pairs(ctx, self.oracle(ctx), self.train_prefixes[len(self.train_prefixes) - n_val:],
                           "imdb validation pairs") if n_val else ([], {})
        self.pair_info = {"rule": "the continuation with the higher oracle reward is chosen; exact ties dropped",
                          "train": train[1], "val": val[1]}
        return replace(data, train_pairs=tuple(train[0]), val_pairs=tuple(val[0]))

    def heldout_prompts(self, n: int) -> list[str]:
        return self.heldout_prefixes if n <= 0 else self.heldout_prefixes[:n]

    def oracle(self, ctx: Any) -> Any:
        from judges.oracle import ensure_oracle

        return ensure_oracle(ctx, self.reviews)


def oracle_pairs(ctx: Any, oracle: Any, prefixes: list[str], label: str) -> tuple[list[PreferencePair], dict]:
    """Two SFT samples per prefix (the run's sampler); the one with the higher oracle reward is chosen."""
    from bench.generation import PromptRef
    from bench.models._prompting import encode_prompt

    max_prompt = ctx.spec.train.max_prompt_tokens
    refs = [PromptRef(content_key("prompt", t), tuple(encode_prompt(ctx.tokenizer, ctx.task, t, max_prompt)))
            for t in prefixes]
    ctx.store.add_prompts([(r.prompt_id, t) for r, t in zip(refs, prefixes, strict=True)])
    base = ctx.base_policy()
    samples = ctx.sampler.ensure(base.id, str(base.path), refs, 2, label=label, first_index=PAIR_OFFSET)
    oracle.prompt_text.update({r.prompt_id: t for r, t in zip(refs, prefixes, strict=True)})
    scores = oracle.score_generations(samples)
    pairs, ties, margins = [], 0, []
    for ref, text in zip(refs, prefixes, strict=True):
        a, b = samples[ref.prompt_id]
        sa, sb = scores[a["id"]], scores[b["id"]]
        if sa == sb:
            ties += 1
            continue
        chosen, rejected = (a, b) if sa > sb else (b, a)
        pairs.append(PreferencePair(prompt=text, chosen=chosen["text"], rejected=rejected["text"]))
        margins.append(abs(sa - sb))
    info = {"prefixes": len(prefixes), "pairs": len(pairs), "ties_dropped": ties,
            "mean_oracle_margin": sum(margins) / len(margins) if margins else None}
    log.info("%s: %d pairs from %d prefixes (%d ties dropped)", label, len(pairs), len(prefixes), ties)
    return pairs, info


def read_reviews(path: Path) -> list[Review]:
    """A labelled-review CSV with columns review and sentiment (0 or 1); errors name the row and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 ({e.reason} at byte {e.start})", source=str(path)) from None
    rows = csv.DictReader(text.splitlines(keepends=True))
    missing = [c for c in ("review", "sentiment") if c not in (rows.fieldnames or [])]
    if missing:
        raise InputError(f"missing column; the header has {rows.fieldnames}", source=str(path), field=missing[0])
    out = []
    for row in rows:
        line = rows.line_num
        review, label = (row.get("review") or "").strip(), (row.get("sentiment") or "").strip()
        if not review:
            raise InputError("empty review", source=str(path), row=line, field="review")
        if label not in ("0", "1"):
            raise InputError(f"expected 0 or 1, got {label!r}", source=str(path), row=line, field="sentiment")
        out.append(Review(review, int(label)))
    if not out:
        raise InputError("no reviews", source=str(path))
    if len({r.label for r in out}) < 2:
        raise InputError("reviews of only one sentiment: the oracle needs both", source=str(path), field="sentiment")
    return out


def _interleave(reviews: list[Review]) -> list[Review]:
    pos = [r for r in reviews if r.label == 1]
    neg = [r for r in reviews if r.label == 0]
    return [r for pair in zip(pos, neg, strict=False) for r in pair]

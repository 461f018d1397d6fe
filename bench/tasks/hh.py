"""Anthropic HH-RLHF dialogues (Bai et al. 2022): the assistant's next reply, helpful and harmless.

The EXO paper's HH experiments follow DPO's: the whole dataset (its four subsets helpful-base,
helpful-rejection-sampled, helpful-online and harmless-base), one reply per dialogue, judged by GPT-4 for
helpfulness (``hh_v1``) against the SFT policy and against the human-chosen reply.

Each row holds two whole dialogues that share everything before their last ``Assistant:`` turn. The prompt
is that shared history (``Human: ...\\n\\nAssistant: ...\\n\\nHuman: ...``, turned into chat messages for the
policy); the responses are the two last replies. Rows whose histories differ or whose replies are empty or
identical carry no usable preference: they are left out, counted, logged, and named in the data's
provenance (17, 36 and 11 of the 8,552 test rows).

Splits: the train split trains the policies and the reward model; the test split gives the reward model's
held-out pairs and the evaluation prompts (one per distinct history, its chosen reply the reference). A
local subset folder without ``train.jsonl.gz`` (``../shared/data`` ships only the test splits) has its test
split partitioned by a hash of each dialogue's first human turn: one in five held out, so no conversation
opening is on both sides. Rows are ordered by a hash of their history, so every cut mixes the subsets.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.hashing import content_key, file_hash
from bench.tasks._base import PreferencePair, SftExample, Task, TaskData, dedupe_eval_prompts, hub_datasets
from bench.tasks._jsonl import read_jsonl

log = logging.getLogger(__name__)
HUB_ID = "Anthropic/hh-rlhf"
SUBSETS = ("helpful-base", "helpful-rejection-sampled", "helpful-online", "harmless-base")
REPLY = "\n\nAssistant:"
HELD_OUT_ONE_IN = 5  # local test-only subsets: the share of first human turns held out
SPLIT_RULE = ("test split partitioned by sha256 of the first human turn: 1 in 5 held out "
              "(validation pairs and evaluation prompts), the rest trains")
_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ ]?")
_ROLES = {"Human": "user", "Assistant": "assistant"}


def split_row(chosen: str, rejected: str, where: dict[str, Any]) -> tuple[str, str, str] | str:
    """``(history, chosen reply, rejected reply)`` of a row, or why it carries no preference.

    A dialogue without an ``Assistant:`` turn is not HH data: an error naming the file, row and field."""
    i, j = chosen.rfind(REPLY), rejected.rfind(REPLY)
    for name, at in (("chosen", i), ("rejected", j)):
        if at < 0:
            raise InputError("expected a dialogue ending in an '\\n\\nAssistant:' turn", field=name, **where)
    history = chosen[:i].strip()
    if history != rejected[:j].strip():
        return "histories differ"
    if not history.startswith("Human:"):
        return "history does not start with a Human turn"
    a, b = chosen[i + len(REPLY):].strip(), rejected[j + len(REPLY):].strip()
    if not a or not b:
        return "empty reply"
    if a == b:
        return "identical replies"
    return history, a, b


def turns(history: str) -> list[dict[str, str]]:
    """Chat messages of a dialogue history; text before the first marker belongs to the human."""
    parts = _TURN.split(history)
    messages = [{"role": "user", "content": parts[0].strip()}] if parts[0].strip() else []
    messages += [{"role": _ROLES[role], "content": text.strip()}
                 for role, text in zip(parts[1::2], parts[2::2], strict=True)]
    return messages or [{"role": "user", "content": history}]


def held_out(history: str) -> bool:
    first = _TURN.split(history)[2] if history.startswith("Human:") else history
    return int(content_key("hh split", first.strip(), length=8), 16) % HELD_OUT_ONE_IN == 0


class HH(Task):
    name = "hh"
    version = "1"
    description = "Anthropic HH-RLHF dialogues: the next assistant reply, human comparisons (helpful, harmless)"
    instruction = "{prompt}"  # unused: messages() turns the dialogue into chat turns
    judge_template = "hh_v1"
    default_beta = 0.5  # the EXO paper's HH beta
    max_new_tokens = 128
    temperature = 0.8
    keep_prompt_end = True

    def messages(self, prompt: str) -> list[dict[str, str]]:
        return turns(prompt)

    def shorten(self, tokenizer: Any, body: list[int], keep: int) -> str:
        """Keep the dialogue's end: whole turns from the first human turn that fits; if the last human turn
        alone is over budget, its end, marked with an ellipsis."""
        tail = tokenizer.decode(body[-keep:], skip_special_tokens=True) if keep > 0 else ""
        m = re.search(r"(?:^|\n)Human:", tail)
        return tail[m.start():].lstrip("\n") if m else "Human: ... " + tail.lstrip()

    def load_splits(self, data_dir: Path | None) -> TaskData:
        if data_dir is None:
            return self._from_hub()
        folder = data_dir / "hh"
        missing = [folder / s / "test.jsonl.gz" for s in SUBSETS if not (folder / s / "test.jsonl.gz").is_file()]
        if missing:
            raise InputError(
                f"HH-RLHF data not found: looked for {', '.join(str(m) for m in missing)}. Point bench at a folder "
                f"holding hh/<subset>/test.jsonl.gz (and train.jsonl.gz where you have it) for {', '.join(SUBSETS)} "
                "with --data-dir DIR or BENCH_DATA_DIR=DIR (on these machines: ../shared/data), or unset both to "
                f"load {HUB_ID} from the Hugging Face hub.", source=str(folder))
        train: list[PreferencePair] = []
        held: list[PreferencePair] = []
        left: Counter[str] = Counter()
        sources: dict[str, str] = {}
        partitioned: list[str] = []
        for subset in SUBSETS:
            files = {split: folder / subset / f"{split}.jsonl.gz" for split in ("train", "test")}
            for path in files.values():
                if path.is_file():
                    sources[f"hh/{subset}/{path.name}"] = file_hash(path, 16)
            test = _rows(_local(files["test"]), left)
            if files["train"].is_file():
                train += _rows(_local(files["train"]), left)
                held += test
            else:
                partitioned.append(subset)
                for p in test:
                    (held if held_out(p.prompt) else train).append(p)
        if partitioned:
            sources["hh split"] = f"{', '.join(partitioned)}: {SPLIT_RULE}"
        return _assemble(train, held, left, sources)

    def _from_hub(self) -> TaskData:
        datasets = hub_datasets("hh")
        try:
            loaded = {(subset, split): datasets.load_dataset(HUB_ID, data_dir=subset, split=split)
                      for subset in SUBSETS for split in ("train", "test")}
        except Exception as e:  # network or hub errors: say where we looked and what to do
            raise InputError(f"could not load {HUB_ID} from the hub ({type(e).__name__}: {e}). Offline, point "
                             "bench at a folder holding hh/<subset>/*.jsonl.gz with --data-dir DIR or "
                             "BENCH_DATA_DIR=DIR.", source="hh") from None
        parts: dict[str, list[PreferencePair]] = {"train": [], "test": []}
        left: Counter[str] = Counter()
        for (subset, split), rows in loaded.items():
            where = f"{HUB_ID}:{subset}/{split}"
            parts[split] += _rows(((r, {"source": where, "row": i, "row_label": "row"})
                                   for i, r in enumerate(rows, 1)), left)
        return _assemble(parts["train"], parts["test"], left, {"hub": f"{HUB_ID}:{','.join(SUBSETS)}"})


def _local(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for lineno, row in read_jsonl(path, ("chosen", "rejected")):
        yield row, {"source": str(path), "row": lineno}


def _rows(rows: Iterable[tuple[dict[str, Any], dict[str, Any]]], left: Counter[str]) -> list[PreferencePair]:
    """The usable rows' pairs; the others are counted in ``left`` by reason. ``rows``: (row, where it stands)."""
    pairs = []
    for row, where in rows:
        got = split_row(row["chosen"], row["rejected"], where)
        if isinstance(got, str):
            left[got] += 1
        else:
            pairs.append(PreferencePair(*got))
    return pairs


def _assemble(train: list[PreferencePair], held: list[PreferencePair], left: Counter[str], sources: dict[str, str]
              ) -> TaskData:
    if not train or not held:
        raise InputError("no usable HH rows in the training or the held-out split", source=next(iter(sources), "hh"))
    if left:
        what = ", ".join(f"{n} {reason}" for reason, n in sorted(left.items()))
        log.info("hh: %d rows carry no preference and are left out (%s)", sum(left.values()), what)
        sources["hh left out"] = what

    def order(pairs: list[PreferencePair]) -> list[PreferencePair]:
        return sorted(pairs, key=lambda p: content_key("hh order", p.prompt, p.chosen, p.rejected))

    train_pairs, val_pairs = order(train), order(held)
    sft = tuple({p.prompt: SftExample(p.prompt, p.chosen) for p in train_pairs}.values())
    return TaskData(train_pairs=tuple(train_pairs), val_pairs=tuple(val_pairs),
                    eval_prompts=dedupe_eval_prompts(val_pairs), sft=sft, sources=sources)

"""TL;DR summarization (Stiennon et al. 2020): OpenAI's summarize-from-feedback comparisons."""

from __future__ import annotations

from pathlib import Path

from bench.errors import InputError
from bench.hashing import file_hash
from bench.tasks._base import PreferencePair, SftExample, Task, TaskData, dedupe_eval_prompts, hub_datasets
from bench.tasks._jsonl import read_jsonl

HUB_ID = "openai/summarize_from_feedback"
FILES = {"train": "train_summarization.jsonl", "val": "val_summarization.jsonl"}


class TLDR(Task):
    name = "tldr"
    judge_template = "tldr_v1"
    version = "1"
    description = "Reddit TL;DR summarization; human comparisons of summaries (summarize-from-feedback)"
    instruction = "Write a one-sentence TL;DR summary of this Reddit post.\n\n{prompt}"
    default_beta = 0.5
    max_new_tokens = 64
    temperature = 0.8

    def load_splits(self, data_dir: Path | None) -> TaskData:
        if data_dir is None:
            return self._from_hub()
        folder = data_dir / "tldr"
        missing = [folder / f for f in FILES.values() if not (folder / f).is_file()]
        if missing:
            raise InputError(
                f"TL;DR data not found: looked for {', '.join(str(m) for m in missing)}. Point bench at a "
                "folder holding tldr/train_summarization.jsonl and tldr/val_summarization.jsonl with "
                "--data-dir DIR or BENCH_DATA_DIR=DIR (on these machines: ../shared/data), or unset both "
                f"to load {HUB_ID} from the Hugging Face hub.",
                source=str(folder),
            )
        train = _read_pairs(folder / FILES["train"])
        val = _read_pairs(folder / FILES["val"])
        sources = {f"tldr/{f}": file_hash(folder / f, 16) for f in FILES.values()}
        return _assemble(train, val, sources)

    def _from_hub(self) -> TaskData:
        datasets = hub_datasets("tldr")
        try:
            train = [_hub_pair(r) for r in datasets.load_dataset(HUB_ID, "comparisons", split="train")]
            val = [_hub_pair(r) for r in datasets.load_dataset(HUB_ID, "comparisons", split="validation")]
        except Exception as e:  # network or hub errors: say where we looked and what to do
            raise InputError(
                f"could not load {HUB_ID} from the hub ({type(e).__name__}: {e}). Offline, point bench at a "
                "folder holding tldr/*.jsonl with --data-dir DIR or BENCH_DATA_DIR=DIR.", source="tldr",
            ) from None
        return _assemble(train, val, {"hub": f"{HUB_ID}:comparisons"})


def _hub_pair(row: dict) -> PreferencePair:
    summaries = [s["text"].strip() for s in row["summaries"]]
    choice = int(row["choice"])
    return PreferencePair(prompt=row["info"]["post"].strip(), chosen=summaries[choice],
                          rejected=summaries[1 - choice])


def _read_pairs(path: Path) -> list[PreferencePair]:
    return [PreferencePair(prompt=r["prompt"].strip(), chosen=r["chosen"].strip(), rejected=r["rejected"].strip())
            for _, r in read_jsonl(path, ("prompt", "chosen", "rejected"))]


def _assemble(train: list[PreferencePair], val: list[PreferencePair], sources: dict[str, str]) -> TaskData:
    # Policies and the reward model train on the train split; the reward model's held-out accuracy is
    # measured on validation comparisons; evaluation prompts are the validation split's distinct posts,
    # each with the human-chosen summary of its first comparison as the reference.
    sft = tuple({p.prompt: SftExample(p.prompt, p.chosen) for p in train}.values())
    return TaskData(train_pairs=tuple(train), val_pairs=tuple(val), eval_prompts=dedupe_eval_prompts(val),
                    sft=sft, sources=sources)

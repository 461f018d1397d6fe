"""What a task is: data splits, a prompt template, generation settings and a version."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from bench.errors import InputError
from bench.hashing import content_key

ELLIPSIS = " ..."


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str
    rejected: str


@dataclass(frozen=True)
class EvalPrompt:
    prompt: str
    reference: str  # the human-chosen reference response

    @property
    def prompt_id(self) -> str:
        return content_key("prompt", self.prompt)


@dataclass(frozen=True)
class SftExample:
    prompt: str
    response: str


@dataclass(frozen=True)
class TaskData:
    """The loaded splits, and where they came from (files and their hashes, or a hub id)."""

    train_pairs: tuple[PreferencePair, ...]
    val_pairs: tuple[PreferencePair, ...]
    eval_prompts: tuple[EvalPrompt, ...]
    sft: tuple[SftExample, ...]
    sources: dict[str, str] = field(default_factory=dict)
    #: identity of inputs outside the splits (e.g. an oracle's labelled data, prefixes to sample pairs on)
    extra_fingerprint: str = ""

    def fingerprint(self) -> str:
        """Identity of the data actually used (content, not paths)."""
        parts = [[(p.prompt, p.chosen, p.rejected) for p in self.train_pairs],
                 [(p.prompt, p.chosen, p.rejected) for p in self.val_pairs],
                 [(e.prompt, e.reference) for e in self.eval_prompts]]
        return content_key(*parts, *([self.extra_fingerprint] if self.extra_fingerprint else []))


class Task:
    """Base class of tasks. Subclasses set the class attributes and implement :meth:`load_splits`."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    instruction: ClassVar[str]  # chat user message template with {prompt}
    default_beta: ClassVar[float] = 0.5
    max_new_tokens: ClassVar[int] = 64
    temperature: ClassVar[float] = 0.8
    #: defaults for methods' ``None`` params other than the task's beta (e.g. the exact task's beta_r)
    default_params: ClassVar[dict[str, float]] = {}
    #: an enumerable task whose policies are tables, trained and measured exactly (see tasks/exact.py)
    exact: ClassVar[bool] = False
    #: how many distinct outputs a prompt has, for a task that can enumerate them (None: unbounded)
    outputs_per_prompt: ClassVar[int | None] = None
    judge_template: ClassVar[str] = "generic_v1"  # the LLM judge's prompt (judges/llm_pairwise/templates)
    #: a task whose reward is known (an oracle judge): the run adds the reward-KL frontier stage
    has_oracle: ClassVar[bool] = False
    #: the prompt's end matters most (a dialogue's last turn): the reward model cuts an over-long prompt's start
    keep_prompt_end: ClassVar[bool] = False

    def messages(self, prompt: str) -> list[dict[str, str]]:
        """The chat messages that ask the policy for a response to ``prompt``."""
        return [{"role": "user", "content": self.instruction.format(prompt=prompt)}]

    def load_splits(self, data_dir: Path | None) -> TaskData:
        raise NotImplementedError

    def shorten(self, tokenizer: Any, body: list[int], keep: int) -> str:
        """The input cut to about ``keep`` of its tokens ``body``, when the prompt is over its token budget.
        The default keeps the start and marks the cut with an ellipsis."""
        return tokenizer.decode(body[:keep], skip_special_tokens=True) + ELLIPSIS

    def prepare(self, ctx: Any, data: TaskData) -> TaskData:
        """Hook run once the base model and the sampler exist (``ctx`` is the run's MethodContext), before
        the reward model: e.g. sample training pairs from the SFT policy. The default: ``data`` as is."""
        return data

    def oracle(self, ctx: Any) -> Any:
        """The oracle judge of a task with ``has_oracle`` (scores generations like the reward model)."""
        raise NotImplementedError(f"task {self.name!r} has no oracle reward")

    def heldout_prompts(self, n: int) -> list[str]:
        """The first ``n`` held-out prompts (0 = all) for the frontier; the default: the evaluation split's."""
        raise NotImplementedError(f"task {self.name!r} has no held-out prompts for a frontier")

    def load(self, data_dir: Path | None, *, train_pairs: int = 0, val_pairs: int = 0,
             eval_prompts: int = 0) -> TaskData:
        """Load the splits and cut them to the requested sizes (0 = all), in file order."""
        data = self.load_splits(data_dir)

        def cut(items: tuple, n: int) -> tuple:
            return items if n <= 0 else items[:n]

        return TaskData(
            train_pairs=cut(data.train_pairs, train_pairs), val_pairs=cut(data.val_pairs, val_pairs),
            eval_prompts=cut(data.eval_prompts, eval_prompts), sft=data.sft, sources=data.sources,
            extra_fingerprint=data.extra_fingerprint,
        )


def resolve_data_dir(explicit: str | Path | None) -> Path | None:
    """``--data-dir`` wins over ``BENCH_DATA_DIR``; None means: load from the hub."""
    value = explicit if explicit is not None else os.environ.get("BENCH_DATA_DIR")
    return Path(value).expanduser().resolve() if value else None


def hub_datasets(task: str) -> Any:
    """The ``datasets`` package, for loading a task from the hub; its absence is an error saying what to do."""
    try:
        import datasets
    except ImportError:
        raise InputError("no data directory given and the `datasets` package is missing; use --data-dir DIR "
                         "or BENCH_DATA_DIR", source=task) from None
    return datasets


def dedupe_eval_prompts(pairs: list[PreferencePair]) -> tuple[EvalPrompt, ...]:
    """One evaluation prompt per distinct prompt, with the first comparison's chosen as reference."""
    seen: dict[str, EvalPrompt] = {}
    for p in pairs:
        seen.setdefault(p.prompt, EvalPrompt(prompt=p.prompt, reference=p.chosen))
    return tuple(seen.values())

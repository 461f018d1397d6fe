"""An external system as a leaderboard entry: its outputs are imported from a file, not sampled from a
trained policy. The file is JSONL with one row per output: ``{"prompt": ..., "output": ...}``; a prompt may
have several rows (its samples, in file order). Every evaluation prompt of the run needs at least one."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bench.errors import InputError
from bench.hashing import file_hash
from methods._base import Method

if TYPE_CHECKING:
    from methods._context import MethodContext, Policy


class External(Method):
    """Imported outputs of a system (``--set external.path=FILE``); judged like any policy's samples."""

    name = "external"
    setting: ClassVar[str] = "external"

    @dataclass(frozen=True)
    class Params:
        path: str = ""
        label: str = ""  # what the system is, for the report (e.g. "PPO 1.3B, Stiennon et al.")

    @cached_property
    def outputs(self) -> dict[str, list[str]]:
        """The file's outputs by prompt text, read and validated whole on first use."""
        from bench.tasks._jsonl import read_jsonl

        if not self.params.path:
            raise InputError("the external method needs a file of outputs", source="spec", field="external.path")
        outputs: dict[str, list[str]] = defaultdict(list)
        for _, row in read_jsonl(Path(self.params.path), ("prompt", "output")):
            outputs[row["prompt"]].append(row["output"])
        return outputs

    def policy(self, ctx: MethodContext) -> Policy:
        path = Path(self.params.path)
        prompts = len(self.outputs)  # reads and validates the whole file before anything is written
        return ctx.external_policy(self, identity=file_hash(path, 32),
                                   info={"file": str(path), "label": self.params.label, "prompts": prompts})

    def sample(self, ctx: MethodContext, policy: Policy, n: int) -> dict[str, list[dict[str, Any]]]:
        texts: dict[str, list[str]] = {}
        for prompt in ctx.data.eval_prompts:
            if prompt.prompt not in self.outputs:
                raise InputError(f"no output for the evaluation prompt {prompt.prompt[:60]!r}...",
                                 source=self.params.path, field="prompt")
            texts[prompt.prompt_id] = self.outputs[prompt.prompt][:n]
        return ctx.store_outputs(policy, texts)

"""Tasks: data splits, prompt template, generation settings and a version, registered by name."""

from bench._registry import Registry
from bench.tasks._base import (
    EvalPrompt,
    PreferencePair,
    SftExample,
    Task,
    TaskData,
    resolve_data_dir,
)

TASKS: Registry[type[Task]] = Registry("task", entry_point_group="bench.tasks")
TASKS.register("tldr", "bench.tasks.tldr:TLDR")
TASKS.register("exact", "bench.tasks.exact:Exact")
TASKS.register("imdb", "bench.tasks.imdb:IMDB")
TASKS.register("hh", "bench.tasks.hh:HH")

__all__ = ["TASKS", "EvalPrompt", "PreferencePair", "SftExample", "Task", "TaskData", "resolve_data_dir"]

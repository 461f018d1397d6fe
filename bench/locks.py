"""Inter-process locks beside artifacts, so two bench processes that need the same artifact (a converted
model, a reward model, a trained policy) build it once: the second waits, then finds it done."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def artifact_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path.lock`` for the block (released when the process dies, too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

"""Progress bars on long work (tqdm on stderr; silent when BENCH_NO_PROGRESS is set)."""

from __future__ import annotations

import os
from typing import Any


def progress(disable: bool = False, **kwargs: Any) -> Any:
    from tqdm import tqdm

    return tqdm(disable=disable or bool(os.environ.get("BENCH_NO_PROGRESS")), dynamic_ncols=True, **kwargs)

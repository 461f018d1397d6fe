"""Progress bars on long work (tqdm on stderr; silent when BENCH_NO_PROGRESS is set)."""

from __future__ import annotations

import os
from typing import Any


def progress(**kwargs: Any) -> Any:
    from tqdm import tqdm

    disable = bool(os.environ.get("BENCH_NO_PROGRESS"))
    return tqdm(disable=disable, dynamic_ncols=True, **kwargs)

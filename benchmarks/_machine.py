"""The machine a benchmark ran on, appending a result block to benchmarks/RESULTS.md, and running one
configuration of a benchmark in a fresh process."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem_gb = f"{mem / 1024 / 1024:.0f} GB"
    except (OSError, StopIteration, ValueError):
        mem_gb = "?"
    try:
        here = Path(__file__).parent
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=here).stdout.strip()
        rev += " (uncommitted changes)" if dirty else ""
    except OSError:
        rev = "?"
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gb} RAM, Python {platform.python_version()}, "
            f"git {rev or '?'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {load()}")


def load() -> str:
    """The 1/5/15-minute load averages, and whether the machine was busy (load above its core count)."""
    one, five, fifteen = os.getloadavg()
    busy = " (**under load**: other work shared the cores)" if five > (os.cpu_count() or 1) * 0.75 else ""
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}{busy}"


def append(title: str, table: str) -> None:
    block = f"\n## {title}\n\n{describe()}\n\n{table.rstrip()}\n"
    with RESULTS.open("a", encoding="utf-8") as f:
        if RESULTS.stat().st_size == 0:
            f.write("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n")
        f.write(block)


def report(title: str, lines: list[str]) -> None:
    """Print a result table and append it to RESULTS.md under ``title`` with the machine's description."""
    text = "\n".join(lines)
    print(text)
    append(title, text)


def run_child(script: str, config: str, *args: str) -> dict:
    """Run ``script --one config *args`` in a fresh Python process (so each configuration has the machine to
    itself and its own peak memory) and return the JSON object on the last line it prints."""
    out = subprocess.run([sys.executable, script, "--one", config, *args], capture_output=True, text=True,
                         check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{config} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])

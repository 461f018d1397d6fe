"""Open a page in headless Chromium (Debian ``chromium``) and report what happened: the DOM after load,
console messages, and every network request the page made (from Chromium's own net log)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--log-level=0"]


@dataclass(frozen=True)
class PageLoad:
    dom: str
    console: list[str]
    page_requests: list[str]  # non-file URLs the page itself asked for


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("headless Chromium is needed: apt-get install chromium (scripts/test.sh does it)")
    return path


def _page_requests(net_log: Path) -> list[str]:
    """URL requests whose network isolation key is the file:// page (Chromium's own background traffic,
    e.g. update checks, has other keys)."""
    data = json.loads(net_log.read_text())
    start_job = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for e in data["events"]:
        p = e.get("params", {})
        own = e["type"] == start_job and "file://" in str(p.get("network_isolation_key", ""))
        if own and not str(p.get("url", "")).startswith("file:"):
            urls.append(p["url"])
    return urls


def load(path: Path, work: Path, screenshot: Path | None = None) -> PageLoad:
    work.mkdir(parents=True, exist_ok=True)
    net_log = work / "net.json"
    cmd = [chromium(), *FLAGS, f"--user-data-dir={work / 'profile'}", f"--log-net-log={net_log}",
           "--dump-dom", path.resolve().as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"chromium failed ({out.returncode}): {out.stderr[-2000:]}")
    console = re.findall(r":CONSOLE[^\]]*\] (.*)", out.stderr)
    if screenshot is not None:
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={work / 'profile2'}", "--window-size=1280,1600",
                        f"--screenshot={screenshot}", path.resolve().as_uri()], capture_output=True, timeout=120,
                       check=True)
    return PageLoad(dom=out.stdout, console=console, page_requests=_page_requests(net_log))

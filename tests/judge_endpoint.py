"""A small local OpenAI-compatible chat endpoint that misbehaves on purpose (429, 5xx, timeouts, 400,
401, garbage answers), from a fixed queue or at a seeded random rate; it counts requests and in-flight
concurrency, records what it did with each request, and the Authorization header it was sent."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RANDOM_FAULTS = ("429", "500", "503", "timeout", "garbage")
# 200 answers in which the template finds no verdict: empty, a refusal, a bad label, a cut-off answer
GARBAGE = ("", "I cannot decide which summary is better.", "Comparison: both are fine.\nPreferred: C",
           "Comparison: the first one is more conc", "\u00bf\u00bf\u00bf ###")

# 200 answers that are not chat completions: a proxy's error page, a cut-off body, another service's JSON
MALFORMED = {"html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
             "truncated": b'{"id": "c", "object": "chat.completion", "choi',
             "foreign": b'{"status": "ok"}'}


class Endpoint:
    """``answer(prompt_text) -> str`` decides the reply; ``faults`` is a queue of actions taken first, one
    per request: "429", "500", "503", "400", "401", "timeout" (no answer for ``hang_s``), "garbage" (a 200
    answer without a verdict), "html", "truncated", "foreign" (a 200 body that is no chat completion), "ok".
    Once the queue is empty, each request draws a fault from ``fault_kinds`` with probability ``fault_rate``
    (a ``random.Random(seed)`` shared by all requests, drawn in arrival order). While ``fail_after`` is
    set, every request after the first ``fail_after`` gets a 503 (action "down": the server went down); set
    it to None to bring the server back. ``sent`` lists (action, prompt text) for every request, in arrival
    order."""

    def __init__(self, answer: Callable[[str], str], faults: list[str] | None = None, delay_s: float = 0.0,
                 hang_s: float = 3.0, fault_rate: float = 0.0, seed: int = 0,
                 fault_kinds: tuple[str, ...] = RANDOM_FAULTS, fail_after: int | None = None) -> None:
        self.answer, self.faults, self.delay_s, self.hang_s = answer, list(faults or []), delay_s, hang_s
        self.fault_rate, self.fault_kinds, self.fail_after = fault_rate, fault_kinds, fail_after
        self.rng = random.Random(seed)
        self.sent: list[tuple[str, str]] = []
        self.requests = 0
        self.in_flight = self.max_in_flight = 0
        self.auth: set[str] = set()
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> Endpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def next_action(self) -> str:
        """What to do with the next request (called under the lock, once per request)."""
        if self.fail_after is not None and self.requests > self.fail_after:
            return "down"
        if self.faults:
            return self.faults.pop(0)
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(self.fault_kinds)
        return "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ep = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on this request (timed out, or its run was cancelled)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with ep.lock:
                    ep.requests += 1
                    ep.in_flight += 1
                    ep.max_in_flight = max(ep.max_in_flight, ep.in_flight)
                    ep.auth.add(self.headers.get("Authorization", ""))
                    ep.bodies.append(body)
                    action, n = ep.next_action(), ep.requests
                    ep.sent.append((action, body["messages"][-1]["content"]))
                try:
                    self._act(action, body, n)
                finally:
                    with ep.lock:
                        ep.in_flight -= 1

            def _act(self, action: str, body: dict[str, Any], n: int) -> None:
                if action == "timeout":
                    time.sleep(ep.hang_s)
                    return
                if action in ("429", "500", "503", "400", "401", "down"):
                    status = 503 if action == "down" else int(action)
                    headers = {"retry-after": "0.01"} if action == "429" else {}
                    self._send(status, {"error": {"message": f"fault {action}", "type": "x"}}, headers)
                    return
                if action in MALFORMED:
                    self._send(200, MALFORMED[action], content_type="text/html" if action == "html" else
                               "application/json")
                    return
                time.sleep(ep.delay_s)
                if action == "garbage":
                    text = GARBAGE[n % len(GARBAGE)]
                else:
                    text = ep.answer(body["messages"][-1]["content"])
                self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}})

        return Handler

"""A small local OpenAI-compatible chat endpoint that misbehaves on purpose (429, 5xx, timeouts, 400,
401), counts requests and in-flight concurrency, and records the Authorization header it was sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Endpoint:
    """``answer(prompt_text) -> str`` decides the reply; ``faults`` is a queue of actions taken first, one
    per request: "429", "500", "503", "400", "401", "timeout" (no answer for ``hang_s``), "ok"."""

    def __init__(self, answer: Callable[[str], str], faults: list[str] | None = None, delay_s: float = 0.0,
                 hang_s: float = 3.0) -> None:
        self.answer, self.faults, self.delay_s, self.hang_s = answer, list(faults or []), delay_s, hang_s
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ep = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with ep.lock:
                    ep.requests += 1
                    ep.in_flight += 1
                    ep.max_in_flight = max(ep.max_in_flight, ep.in_flight)
                    ep.auth.add(self.headers.get("Authorization", ""))
                    ep.bodies.append(body)
                    action = ep.faults.pop(0) if ep.faults else "ok"
                try:
                    self._act(action, body)
                finally:
                    with ep.lock:
                        ep.in_flight -= 1

            def _act(self, action: str, body: dict[str, Any]) -> None:
                if action == "timeout":
                    time.sleep(ep.hang_s)
                    return
                if action in ("429", "500", "503", "400", "401"):
                    headers = {"retry-after": "0.01"} if action == "429" else {}
                    self._send(int(action), {"error": {"message": f"fault {action}", "type": "x"}}, headers)
                    return
                time.sleep(ep.delay_s)
                text = ep.answer(body["messages"][-1]["content"])
                self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}})

        return Handler

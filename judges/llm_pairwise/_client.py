"""Calls to any OpenAI-compatible chat endpoint: concurrent (a semaphore), with retries and exponential
backoff on rate limits (429), server errors (5xx), timeouts, dropped connections and malformed 200 answers
(a body that is not a chat completion, e.g. a proxy's error page or a cut-off body).

The API key is read from the environment variable the spec names; it is handed to the client and
nowhere else: not stored, not logged, not in any error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bench.errors import BenchError

log = logging.getLogger(__name__)
RETRYABLE_STATUS = (408, 409, 429)


@dataclass(frozen=True)
class CallSettings:
    base_url: str
    model: str
    api_key_env: str
    temperature: float
    max_tokens: int
    concurrency: int
    max_retries: int
    timeout_s: float
    backoff_s: float = 1.0  # first retry waits about this long; doubled each time, capped at 60 s
    response_regex: str | None = None  # sent as vLLM structured outputs when set


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    attempts: int
    error: str | None = None  # the endpoint refused this request itself (HTTP 400): an invalid verdict


class JudgeEndpointError(BenchError):
    """The endpoint failed in a way retrying does not fix, or kept failing after every retry."""

    exit_code = 1


def api_key(settings: CallSettings) -> str:
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    host = urlparse(settings.base_url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return "EMPTY"  # a local server needs no key
    raise BenchError(f"the LLM judge at {settings.base_url} needs an API key: set the environment variable "
                     f"{settings.api_key_env} (or point llm_judge.api_key_env at the variable that holds it)")


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


class MalformedResponse(Exception):
    """A 200 answer that is not a chat completion (a proxy's HTML page, a cut-off or foreign JSON body)."""


def _reply(resp: Any, latency_s: float, attempt: int) -> Reply:
    try:
        text = resp.choices[0].message.content or ""
    except (AttributeError, TypeError, IndexError, KeyError):
        raise MalformedResponse("a malformed response (not a chat completion)") from None
    usage = getattr(resp, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    return Reply(text, *tokens, latency_s, attempt)


def _classify(exc: Exception) -> tuple[str, int | None]:
    """``retry``, ``refused`` (this request is bad: HTTP 400/413/422) or ``fatal`` (401, 403, 404, ...)."""
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return "retry", None
    if isinstance(exc, MalformedResponse | json.JSONDecodeError):
        return "retry", None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in RETRYABLE_STATUS or status >= 500:
            return "retry", status
        if status in (400, 413, 422):
            return "refused", status
        return "fatal", status
    return "fatal", None


def _describe(exc: Exception) -> str:
    if isinstance(exc, MalformedResponse):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return "a malformed response (not JSON)"
    return type(exc).__name__


async def _call(client: Any, s: CallSettings, messages: list[dict[str, str]], sem: asyncio.Semaphore) -> Reply:
    async with sem:
        for attempt in range(1, s.max_retries + 2):
            t0 = time.monotonic()
            try:
                extra = {"structured_outputs": {"regex": s.response_regex}} if s.response_regex else None
                resp = await client.chat.completions.create(model=s.model, messages=messages,
                                                            temperature=s.temperature, max_tokens=s.max_tokens,
                                                            extra_body=extra)
                return _reply(resp, time.monotonic() - t0, attempt)
            except Exception as exc:  # classified below; anything unknown is re-raised
                kind, status = _classify(exc)
                what = f"HTTP {status}" if status else _describe(exc)
                if kind == "refused":
                    return Reply("", None, None, time.monotonic() - t0, attempt, error=f"refused: {what}")
                if kind == "fatal":
                    hint = {401: "check the API key", 403: "check the API key's permissions",
                            404: f"check llm_judge.model ({s.model!r}) and llm_judge.base_url"}.get(status or 0, "")
                    raise JudgeEndpointError(f"LLM judge at {s.base_url} failed: {what}"
                                             + (f"; {hint}" if hint else "")) from None
                if attempt > s.max_retries:
                    raise JudgeEndpointError(f"LLM judge at {s.base_url}: {what} after {attempt} attempts; the "
                                             "answers received so far are stored, rerun to resume") from None
                delay = _retry_after(exc) or min(60.0, s.backoff_s * 2 ** (attempt - 1)) * (0.5 + random.random())
                log.info("LLM judge: %s, retry %d in %.1f s", what, attempt, delay)
                await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def _run_all(s: CallSettings, requests: Sequence[tuple[str, list[dict[str, str]]]],
                   on_reply: Callable[[str, Reply], Awaitable[None] | None]) -> None:
    import openai

    client = openai.AsyncOpenAI(base_url=s.base_url, api_key=api_key(s), max_retries=0, timeout=s.timeout_s)
    sem = asyncio.Semaphore(s.concurrency)

    async def one(key: str, messages: list[dict[str, str]]) -> tuple[str, Reply]:
        return key, await _call(client, s, messages, sem)

    tasks = [asyncio.create_task(one(k, m)) for k, m in requests]
    try:
        for fut in asyncio.as_completed(tasks):
            key, reply = await fut
            result = on_reply(key, reply)
            if asyncio.iscoroutine(result):
                await result
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.close()


def call_all(s: CallSettings, requests: Sequence[tuple[str, list[dict[str, str]]]],
             on_reply: Callable[[str, Reply], Any]) -> None:
    """Send every (key, messages) request; ``on_reply(key, reply)`` runs as each answer arrives, so answers
    are kept even if a later request fails for good."""
    if requests:
        asyncio.run(_run_all(s, requests, on_reply))

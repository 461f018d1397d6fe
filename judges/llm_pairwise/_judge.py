"""The LLM pairwise judge: every pair in both orders, through any OpenAI-compatible endpoint.

Each order is one call, cached in the store under the hash of what decides its answer (model, rendered
messages, temperature, max tokens): a rerun, or a second run that shows the judge the same texts, makes
no call. The pair's judgment row holds both orders' verdicts (in the pair's terms) and its outcome:
agree -> that verdict; disagree -> tie; either order unreadable -> invalid (counted, not a loss).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from typing import Any

from bench.errors import InputError
from bench.hashing import content_key
from bench.progress import progress
from judges._verdicts import combine_orders
from judges.llm_pairwise._client import CallSettings, Reply, call_all
from judges.llm_pairwise._templates import Template, load_template

log = logging.getLogger(__name__)
FLUSH_EVERY = 1  # each answer is written as it arrives: an interruption loses only calls in flight


def _order_verdict(call_verdict: str, first_is_a: bool) -> str:
    """A call's verdict (first / second / invalid) in the pair's terms (A / B / invalid)."""
    if call_verdict == "invalid":
        return "invalid"
    return "A" if (call_verdict == "first") == first_is_a else "B"


class LLMPairwiseJudge:
    """Judges (prompt, gen_a, gen_b) pairs; ``spec`` is the run's ``llm_judge`` section."""

    kind = "llm"

    def __init__(self, store: Any, spec: Any, template: Template | None = None) -> None:
        self.store, self.spec = store, spec
        self.template = template or load_template(spec.template)
        self.settings = CallSettings(base_url=spec.base_url, model=spec.model, api_key_env=spec.api_key_env,
                                     temperature=spec.temperature, max_tokens=spec.max_tokens,
                                     concurrency=spec.concurrency, max_retries=spec.max_retries,
                                     timeout_s=spec.timeout_s, backoff_s=spec.backoff_s,
                                     response_regex=self.template.response if spec.constrain else None)
        if spec.constrain and not self.template.response:
            raise InputError(f"template {self.template.name!r} has no 'response' pattern to constrain answers to",
                             source="llm_judge.constrain")
        identity = {"model": spec.model, "template": self.template.name, "template_hash": self.template.hash,
                    "temperature": spec.temperature, "max_tokens": spec.max_tokens}
        if spec.constrain:
            identity["constrained_to"] = self.template.response
        self.id = content_key("judge", "llm", identity)
        self.name = f"llm:{spec.model}"
        # everything needed to rebuild the judge, never the key itself (only the variable's name)
        self.config = {**identity, "spec": dataclasses.asdict(spec), "template_source": self.template.source}
        self.calls_made = self.cache_hits = 0
        self.cost_usd = 0.0

    def register(self) -> None:
        self.store.put_judge({"id": self.id, "kind": "llm", "name": self.name,
                              "config_json": json.dumps(self.config, sort_keys=True), "info_json": "{}"})

    def request(self, prompt: str, first: str, second: str) -> tuple[str, list[dict[str, str]]]:
        messages = self.template.render(prompt, first, second)
        key = content_key("llm-call", self.spec.model, messages, self.spec.temperature, self.spec.max_tokens,
                          *([self.settings.response_regex] if self.settings.response_regex else []))
        return key, messages

    def _call_row(self, key: str, reply: Reply) -> dict[str, Any]:
        verdict, rationale = self.template.parse(reply.text) if reply.error is None else ("invalid", None)
        cost = None
        if reply.prompt_tokens is not None and reply.completion_tokens is not None:
            cost = (reply.prompt_tokens * self.spec.price_prompt + reply.completion_tokens * self.spec.price_completion) / 1e6
        return {"id": key, "model": self.spec.model, "template_hash": self.template.hash,
                "response_text": reply.text if reply.error is None else reply.error, "verdict": verdict,
                "rationale": rationale, "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens, "latency_s": reply.latency_s, "cost_usd": cost,
                "attempts": reply.attempts}

    def _fetch(self, requests: dict[str, list[dict[str, str]]]) -> dict[str, dict[str, Any]]:
        """Cached calls, and the missing ones made now (stored as they arrive)."""
        known = self.store.judge_calls(list(requests))
        self.cache_hits += len(known)
        todo = [(k, m) for k, m in requests.items() if k not in known]
        buffer: list[dict[str, Any]] = []

        def flush() -> None:
            self.store.put_judge_calls(buffer)
            known.update({r["id"]: r for r in buffer})
            buffer.clear()

        with progress(total=len(todo), desc=f"LLM judge ({self.spec.model})", unit="call") as bar:
            def on_reply(key: str, reply: Reply) -> None:
                row = self._call_row(key, reply)
                buffer.append(row)
                self.calls_made += 1
                self.cost_usd += row["cost_usd"] or 0.0
                bar.update(1)
                if len(buffer) >= FLUSH_EVERY:
                    flush()

            try:
                call_all(self.settings, todo, on_reply)
            finally:
                if buffer:
                    flush()
        return known

    def judge_pairs(self, pairs: Sequence[tuple[str, str, str]], texts: dict[str, str],
                    prompt_text: dict[str, str]) -> int:
        """Judge every (prompt_id, gen_a, gen_b) not judged yet, in both orders; returns new judgments."""
        from bench.results import judgment_id

        self.register()
        ids = {judgment_id(self.id, a, b): (p, a, b) for p, a, b in pairs}
        missing = sorted(set(ids) - self.store.judgment_ids(list(ids)))
        plan: dict[str, tuple[str, str]] = {}
        requests: dict[str, list[dict[str, str]]] = {}
        for jid in missing:
            p, a, b = ids[jid]
            k_ab, m_ab = self.request(prompt_text[p], texts[a], texts[b])
            k_ba, m_ba = self.request(prompt_text[p], texts[b], texts[a])
            requests[k_ab], requests[k_ba] = m_ab, m_ba
            plan[jid] = (k_ab, k_ba)
        calls = self._fetch(requests)
        rows = []
        for jid, (k_ab, k_ba) in plan.items():
            p, a, b = ids[jid]
            ab = _order_verdict(calls[k_ab]["verdict"], first_is_a=True)
            ba = _order_verdict(calls[k_ba]["verdict"], first_is_a=False)
            rows.append({"id": jid, "judge_id": self.id, "prompt_id": p, "gen_a": a, "gen_b": b,
                         "verdict": combine_orders(ab, ba), "verdict_ab": ab, "verdict_ba": ba,
                         "detail_json": json.dumps({"call_ab": k_ab, "call_ba": k_ba,
                                                    "template": self.template.name,
                                                    "template_hash": self.template.hash})})
        return self.store.put_judgments(rows)

"""Render prompts with a model's chat template, cutting the task's input to fit a token budget."""

from __future__ import annotations

from typing import Any


def _render(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    if getattr(tokenizer, "chat_template", None):
        out = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "input_ids"):  # transformers 5 returns a BatchEncoding
            out = out["input_ids"]
        return list(out)
    text = "\n\n".join(m["content"] for m in messages) + "\n"
    return tokenizer(text, add_special_tokens=True).input_ids


def encode_prompt(tokenizer: Any, task: Any, prompt: str, max_tokens: int) -> list[int]:
    """Token ids of the task's prompt for ``prompt``; if too long, the task cuts its input
    (:meth:`bench.tasks.Task.shorten`: by default at its end)."""
    ids = _render(tokenizer, task.messages(prompt))
    if len(ids) <= max_tokens:
        return ids
    body = tokenizer(prompt, add_special_tokens=False).input_ids
    overflow = len(ids) - max_tokens
    keep = len(body) - overflow - 4
    while keep > 0:
        cut = task.shorten(tokenizer, body, keep)
        ids = _render(tokenizer, task.messages(cut))
        if len(ids) <= max_tokens:
            return ids
        keep -= max(4, len(ids) - max_tokens)
    raise ValueError(f"max_prompt_tokens={max_tokens} leaves no room for the task's input")


def encode_completion(tokenizer: Any, text: str, max_tokens: int) -> list[int]:
    """A response's ids followed by the end-of-turn token (what the policy emits to stop)."""
    ids = tokenizer(text, add_special_tokens=False).input_ids[: max_tokens - 1]
    return ids + [tokenizer.eos_token_id]


def sample_ids(tokenizer: Any, sample: dict[str, Any], max_tokens: int) -> list[int]:
    """The token ids of a stored sample (its text re-tokenized): a sample that stopped carries the
    end-of-turn token; one cut at the ``max_tokens`` limit did not end its turn and does not."""
    ids = encode_completion(tokenizer, sample["text"], max_tokens + 1)
    return ids if sample["finish_reason"] == "stop" else ids[:-1] or ids

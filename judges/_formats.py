"""Annotation files: bench's own format (CSV or JSONL) and adapters for published judge data.

bench's format has one row per judgment, with the fields

    prompt | prompt_id            the prompt's text, or the id of a prompt already in the database
    system_a, system_b            the two systems' names
    text_a, text_b                (optional) their outputs; without them the systems' stored outputs are used
    verdict                       A, B or tie (one presentation order, or the order is not known)
    verdict_ab, verdict_ba        (instead of verdict) each order's verdict in the pair's terms, also invalid
    annotator                     who judged (or --annotator for the whole file)
    rationale                     (optional)

The adapters turn PandaLM's test set (three annotators), LLMBar's gold labels and GPT-4 results (both
orders) and the TL;DR PPO-vs-reference GPT-4 file into the same rows, so they go through the same checks.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import InputError
from judges._verdicts import parse_label


@dataclass(frozen=True)
class Annotation:
    row: int  # line (CSV, JSONL) or record (JSON array) number, for error messages
    system_a: str
    system_b: str
    annotator: str
    prompt: str | None = None
    prompt_id: str | None = None
    text_a: str | None = None
    text_b: str | None = None
    verdict_ab: str | None = None
    verdict_ba: str | None = None
    verdict: str | None = None  # when the order is not known
    rationale: str | None = None


@dataclass(frozen=True)
class Parsed:
    annotations: list[Annotation]
    row_label: str  # "line" or "record"
    skipped: int = 0  # rows that carry no verdict (e.g. outputs without a judgment), counted and reported


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 ({e.reason} at byte {e.start})", source=str(path), row=line) from None
    if not text.strip():
        raise InputError("file is empty", source=str(path))
    return text


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    rows, start = [], 2
    try:
        for row in reader:
            if None in row:
                raise InputError(f"{len(row[None])} more values than the header has columns", source=str(path),
                                 row=start)
            rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        raise InputError(f"malformed CSV ({e})", source=str(path), row=reader.line_num) from None
    if not rows:
        raise InputError("no rows under the header", source=str(path))
    return rows


def _jsonl_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    from bench.tasks._jsonl import read_jsonl

    return list(read_jsonl(path, ()))


def _json_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(_decode(path))
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON ({e.msg})", source=str(path), row=e.lineno) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError("expected a JSON array of objects", source=str(path))
    return [(i, r) for i, r in enumerate(data, start=1)]


def _text(row: dict[str, Any], name: str, where: dict[str, Any], required: bool = True) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and value == "" and not required):
        if required:
            raise InputError("missing field", field=name, **where)
        return None
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", field=name, **where)
    if required and not value.strip():
        raise InputError("empty string", field=name, **where)
    return value


def _label(row: dict[str, Any], name: str, allowed: tuple[str, ...], where: dict[str, Any]) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    label = parse_label(value, allowed)
    if label is None:
        raise InputError(f"bad label {value!r}; expected one of {', '.join(allowed)}", field=name, **where)
    return label


def read_bench(path: Path, annotator: str | None) -> Parsed:
    rows = _csv_rows(path) if path.suffix.lower() == ".csv" else _jsonl_rows(path)
    out = []
    for line, row in rows:
        where = {"source": str(path), "row": line}
        prompt, prompt_id = _text(row, "prompt", where, False), _text(row, "prompt_id", where, False)
        if (prompt is None) == (prompt_id is None):
            raise InputError("give exactly one of prompt (text) and prompt_id", field="prompt", **where)
        verdict = _label(row, "verdict", ("A", "B", "tie"), where)
        ab = _label(row, "verdict_ab", ("A", "B", "tie", "invalid"), where)
        ba = _label(row, "verdict_ba", ("A", "B", "tie", "invalid"), where)
        if verdict is None and ab is None and ba is None:
            raise InputError("missing field (or verdict_ab / verdict_ba)", field="verdict", **where)
        if verdict is not None and (ab or ba):
            raise InputError("give verdict or per-order verdicts, not both", field="verdict", **where)
        who = _text(row, "annotator", where, False) or annotator
        if not who:
            raise InputError("missing field (or pass --annotator)", field="annotator", **where)
        out.append(Annotation(row=line, prompt=prompt, prompt_id=prompt_id, system_a=_text(row, "system_a", where),
                              system_b=_text(row, "system_b", where), text_a=_text(row, "text_a", where, False),
                              text_b=_text(row, "text_b", where, False), verdict=verdict, verdict_ab=ab,
                              verdict_ba=ba, annotator=who, rationale=_text(row, "rationale", where, False)))
    return Parsed(out, "line")


PANDALM_LABELS = {0: "tie", 1: "A", 2: "B"}


def _scalar_text(rec: dict[str, Any], name: str, where: dict[str, Any]) -> str:
    """A response that the published JSON stores as a bare scalar (six PandaLM responses are ``true``: the
    model answered "True") is read as its text; anything else must be a string."""
    value = rec.get(name)
    if isinstance(value, bool | int | float) and value is not None:
        return str(value)
    return _text(rec, name, where, False) or ""


def read_pandalm(path: Path, annotator: str | None) -> Parsed:
    """PandaLM's testset-v1.json: one record per pair, labelled 0 (tie), 1 or 2 by three annotators."""
    out = []
    for i, rec in _json_records(path):
        where = {"source": str(path), "row": i, "row_label": "record"}
        systems = _text(rec, "cmp_key", where).split("_")
        if len(systems) != 2:
            raise InputError("expected two system names joined by '_'", field="cmp_key", **where)
        # instruction, then the input; one record has a blank instruction and only an input
        parts = [p.strip() for p in (_text(rec, "instruction", where, False), _text(rec, "input", where, False)) if p]
        prompt = "\n\n".join(p for p in parts if p)
        if not prompt:
            raise InputError("empty instruction and input", field="instruction", **where)
        for k in (1, 2, 3):
            value = rec.get(f"annotator{k}")
            if value not in PANDALM_LABELS:
                raise InputError(f"bad label {value!r}; expected 0, 1 or 2", field=f"annotator{k}", **where)
            out.append(Annotation(row=i, prompt=prompt, system_a=systems[0], system_b=systems[1],
                                  text_a=_scalar_text(rec, "response1", where),
                                  text_b=_scalar_text(rec, "response2", where),
                                  verdict=PANDALM_LABELS[value], annotator=f"annotator{k}"))
    return Parsed(out, "record")


def _llmbar(path: Path, rec: dict[str, Any], i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    where = {"source": str(path), "row": i, "row_label": "record"}
    base = {"row": i, "prompt": _text(rec, "input", where), "system_a": "output_1", "system_b": "output_2",
            "text_a": _text(rec, "output_1", where), "text_b": _text(rec, "output_2", where)}
    return base, where


def read_llmbar(path: Path, annotator: str | None) -> Parsed:
    """LLMBar's gold labels (dataset.json, or the label inside an evaluator's result.json): 1 or 2."""
    out = []
    for i, rec in _json_records(path):
        base, where = _llmbar(path, rec, i)
        if rec.get("label") not in (1, 2):
            raise InputError(f"bad label {rec.get('label')!r}; expected 1 or 2", field="label", **where)
        out.append(Annotation(**base, verdict="A" if rec["label"] == 1 else "B", annotator=annotator or "gold"))
    return Parsed(out, "record")


def read_llmbar_result(path: Path, annotator: str | None) -> Parsed:
    """An LLMBar evaluator's result.json: per pair, the winner with output_1 shown first (swap = False) and
    second (swap = True), already in the pair's own terms. Strategies that re-ask (Swap) keep several rounds;
    the last round is the evaluator's answer, as in LLMBar's own statistics."""
    out = []
    for i, rec in _json_records(path):
        base, where = _llmbar(path, rec, i)
        rounds = rec.get("results")
        if not isinstance(rounds, list) or not rounds or not isinstance(rounds[-1], dict):
            raise InputError("expected a non-empty list of rounds", field="results", **where)
        verdicts, rationale = {}, []
        for key in ("swap = False", "swap = True"):
            answer = rounds[-1].get(key)
            if not isinstance(answer, dict):
                raise InputError("missing order", field=f"results[-1].{key}", **where)
            verdicts[key] = {"1": "A", "2": "B"}.get(str(answer.get("winner")), "invalid")
            completion = answer.get("completion")
            rationale.append(completion[0] if isinstance(completion, list) and completion else str(completion))
        out.append(Annotation(**base, verdict_ab=verdicts["swap = False"], verdict_ba=verdicts["swap = True"],
                              annotator=annotator or "judge", rationale="\n---\n".join(rationale)))
    return Parsed(out, "record")


def read_tldr_gpt4(path: Path, annotator: str | None) -> Parsed:
    """summarize_from_feedback_details' PPO-1.3B vs human reference file: GPT-4's verdict (``preferred``:
    ours or reference) in one order (``shuffled_index`` 0: the PPO summary was Summary A, shown first).
    Rows without a verdict carry outputs only; they are counted as skipped."""
    out, skipped = [], 0
    for line, row in _csv_rows(path):
        where = {"source": str(path), "row": line}
        preferred = (row.get("preferred") or "").strip()
        if not preferred:
            skipped += 1
            continue
        if preferred not in ("ours", "reference"):
            raise InputError(f"bad label {preferred!r}; expected ours or reference", field="preferred", **where)
        order = (row.get("shuffled_index") or "").strip()
        if order not in ("0", "1"):
            raise InputError(f"expected 0 or 1, got {order!r}", field="shuffled_index", **where)
        verdict = "A" if preferred == "ours" else "B"
        out.append(Annotation(row=line, prompt=_text(row, "query", where), system_a="ppo-1.3b",
                              system_b="reference", text_a=_text(row, "postprocessed_response", where),
                              text_b=_text(row, "reference_responses", where), annotator=annotator or "gpt-4",
                              verdict_ab=verdict if order == "0" else None,
                              verdict_ba=verdict if order == "1" else None,
                              rationale=row.get("explanation") or None))
    return Parsed(out, "line", skipped)


FORMATS: dict[str, Callable[[Path, str | None], Parsed]] = {
    "bench": read_bench, "pandalm": read_pandalm, "llmbar": read_llmbar, "llmbar-result": read_llmbar_result,
    "tldr-gpt4": read_tldr_gpt4,
}


def read_annotations(path: Path, fmt: str = "bench", annotator: str | None = None) -> Parsed:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}", source="--format")
    if fmt == "bench" and path.suffix.lower() not in (".csv", ".jsonl"):
        raise InputError("expected a .csv or .jsonl file (or pass --format)", source=str(path))
    return FORMATS[fmt](path, annotator)

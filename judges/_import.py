"""``bench import-annotations``: validate a whole annotation file, then write it in one transaction.

Systems given with their texts become imported systems (policies of kind ``external``); systems given by
name only must already have an output for the prompt: a method of ``--run``, or a system imported before.
Every row is checked before anything is written: an unknown prompt or system, a bad label or a duplicate
stops the import with the row's number, and the database is left as it was.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.hashing import content_key, file_hash
from bench.store import Store
from bench.store import _schema as s
from judges._formats import Annotation, Parsed, read_annotations
from judges._verdicts import combine_orders

JUDGE_KINDS = ("human", "llm")


def imported_judge_id(kind: str, name: str) -> str:
    return content_key("judge", "imported", kind, name)


def imported_policy_id(system: str) -> str:
    return content_key("policy", "imported", system)


def annotation_id(judge_id: str, gen_a: str, gen_b: str, annotator: str) -> str:
    return content_key("judgment", judge_id, gen_a, gen_b, annotator)


@dataclass
class _Plan:
    prompts: dict[str, str] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    generations: dict[str, dict[str, Any]] = field(default_factory=dict)
    judgments: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[tuple, int] = field(default_factory=dict)


class _Resolver:
    """Finds (or plans) the prompt and the two generations of each row."""

    def __init__(self, store: Store, run_id: str | None, source: str, row_label: str) -> None:
        self.store, self.source, self.row_label = store, source, row_label
        self.run_systems: dict[str, tuple[str, str]] = {}  # method -> (policy id, sampling key)
        if run_id:
            run = store.run(run_id)
            plan = json.loads(run["plan_json"]) if run and run.get("plan_json") else {}
            if not plan.get("methods"):
                raise InputError(f"run {run_id} has no generations to annotate", source="--run")
            self.run_systems = {m["method"]: (m["policy_id"], plan["sampling_key"]) for m in plan["methods"]}
            self.run_systems["reference"] = (plan["reference_policy"], "reference")

    def error(self, a: Annotation, message: str, field_name: str) -> InputError:
        return InputError(message, source=self.source, row=a.row, field=field_name, row_label=self.row_label)

    def prompt(self, a: Annotation, plan: _Plan) -> str:
        if a.prompt is not None:
            pid = content_key("prompt", a.prompt)
            plan.prompts[pid] = a.prompt
            return pid
        assert a.prompt_id is not None
        if a.prompt_id not in plan.prompts and not self.store.existing_prompts([a.prompt_id]):
            raise self.error(a, f"unknown prompt id {a.prompt_id!r}", "prompt_id")
        plan.prompts.setdefault(a.prompt_id, "")
        return a.prompt_id

    def generation(self, a: Annotation, side: str, prompt_id: str, plan: _Plan) -> str:
        system, text = getattr(a, f"system_{side}"), getattr(a, f"text_{side}")
        if text is not None:
            pid = imported_policy_id(system)
            plan.policies[pid] = {"id": pid, "method": system, "kind": "external", "params_json": "{}",
                                  "info_json": json.dumps({"imported": True, "system": system})}
            gid = content_key("generation", pid, prompt_id, "imported", text)
            plan.generations[gid] = {"id": gid, "policy_id": pid, "prompt_id": prompt_id, "sampling_key": "imported",
                                     "sample_index": 0, "text": text, "n_tokens": len(text.split()),
                                     "logprob": None, "finish_reason": "imported", "source_id": None}
            return gid
        if system in self.run_systems:
            policy, key = self.run_systems[system]
        else:
            policy, key = imported_policy_id(system), "imported"
        found = [g for g in self.store.generations(policy, key, [prompt_id]) if g["sample_index"] == 0]
        found += [g for g in plan.generations.values() if g["policy_id"] == policy and g["prompt_id"] == prompt_id]
        ids = sorted({g["id"] for g in found})
        if not ids:
            known = ", ".join(sorted(self.run_systems)) or "none (pass --run, or give the texts)"
            raise self.error(a, f"unknown system {system!r}, or it has no output for this prompt; systems of the "
                                f"run: {known}", f"system_{side}")
        if len(ids) > 1:
            raise self.error(a, f"system {system!r} has {len(ids)} outputs for this prompt; give text_{side}",
                             f"system_{side}")
        return ids[0]


def _plan_import(store: Store, parsed: Parsed, judge_id: str, run_id: str | None, source: str) -> _Plan:
    resolver = _Resolver(store, run_id, source, parsed.row_label)
    plan = _Plan()
    for a in parsed.annotations:
        prompt_id = resolver.prompt(a, plan)
        gen_a = resolver.generation(a, "a", prompt_id, plan)
        gen_b = resolver.generation(a, "b", prompt_id, plan)
        if gen_a == gen_b:
            raise resolver.error(a, "both sides are the same output", "system_b")
        key = (prompt_id, frozenset((gen_a, gen_b)), a.annotator)
        if key in plan.seen:
            raise resolver.error(a, f"duplicate: {parsed.row_label} {plan.seen[key]} has the same prompt, "
                                    f"outputs and annotator", "annotator")
        plan.seen[key] = a.row
        jid = annotation_id(judge_id, gen_a, gen_b, a.annotator)
        verdict = a.verdict or combine_orders(a.verdict_ab, a.verdict_ba)
        plan.judgments[jid] = {"id": jid, "judge_id": judge_id, "prompt_id": prompt_id, "gen_a": gen_a,
                               "gen_b": gen_b, "verdict": verdict, "verdict_ab": a.verdict_ab,
                               "verdict_ba": a.verdict_ba, "annotator": a.annotator, "_row": a.row,
                               "detail_json": json.dumps({"source": source, "row": a.row,
                                                          "rationale": a.rationale})}
    _check_conflicts(store, plan, resolver, parsed, judge_id)
    return plan


def _check_conflicts(store: Store, plan: _Plan, resolver: _Resolver, parsed: Parsed, judge_id: str) -> None:
    """A row already in the database must say the same thing; otherwise the file contradicts it."""
    existing = {j["id"]: j for j in store.judgments(judge_id, list(plan.judgments))}
    by_row = {a.row: a for a in parsed.annotations}
    for jid, row in plan.judgments.items():
        old = existing.get(jid)
        if old and (old["verdict"], old["verdict_ab"], old["verdict_ba"]) != (
                row["verdict"], row["verdict_ab"], row["verdict_ba"]):
            raise resolver.error(by_row[row["_row"]], f"contradicts the stored judgment ({old['verdict']})",
                                 "verdict")


def import_annotations(store: Store, path: Path, *, fmt: str = "bench", judge: str = "human",
                       kind: str = "human", annotator: str | None = None, run_id: str | None = None
                       ) -> dict[str, Any]:
    """Validate ``path`` whole, then write its judgments (and any new prompts, systems and outputs)."""
    if kind not in JUDGE_KINDS:
        raise InputError(f"unknown judge kind {kind!r}; known: {', '.join(JUDGE_KINDS)}", source="--kind")
    parsed = read_annotations(path, fmt, annotator)
    judge_id = imported_judge_id(kind, judge)
    plan = _plan_import(store, parsed, judge_id, run_id, str(path))
    judge_row = {"id": judge_id, "kind": kind, "name": judge, "path": None,
                 "config_json": json.dumps({"imported": True, "kind": kind, "name": judge}, sort_keys=True),
                 "info_json": json.dumps({"first_import": {"file": str(path), "sha256": file_hash(path)}})}
    now = time.time()
    judgments = [{k: v for k, v in j.items() if k != "_row"} | {"created_at": now} for j in plan.judgments.values()]
    added = store.insert_all([
        (s.prompts, [{"id": k, "text": v} for k, v in plan.prompts.items() if v]),
        (s.policies, [{**p, "path": None, "created_at": now} for p in plan.policies.values()]),
        (s.generations, [{**g, "created_at": now} for g in plan.generations.values()]),
        (s.judges, [{**judge_row, "created_at": now}]),
        (s.judgments, judgments),
    ])
    annotators: dict[str, int] = defaultdict(int)
    for j in plan.judgments.values():
        annotators[j["annotator"]] += 1
    return {"judge": judge, "judge_id": judge_id, "rows": len(parsed.annotations), "skipped": parsed.skipped,
            "new_judgments": added.get("judgments", 0), "new_outputs": added.get("generations", 0),
            "annotators": dict(annotators)}

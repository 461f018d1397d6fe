"""Reading judges back: a judge's outcomes and win rates per pair of systems, and two judges compared."""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from typing import Any

from bench.errors import BenchError
from bench.stats import win_rate
from judges._agreement import agreement, pair_views


def resolve_judge(store: Any, ref: str) -> tuple[dict[str, Any], str | None]:
    """``NAME`` or ``ID-PREFIX``, optionally ``@ANNOTATOR``: the judge row and the annotator (or None)."""
    name, _, annotator = ref.partition("@")
    judges = store.all_judges()
    found = [j for j in judges if j["name"] == name] or [j for j in judges if j["id"].startswith(name)]
    if len(found) != 1:
        names = [j["name"] for j in judges]
        if found:
            raise BenchError(f"judge {name!r} is ambiguous: ids {', '.join(j['id'][:12] for j in found)}")
        hint = difflib.get_close_matches(name, names, n=1)
        raise BenchError(f"no judge {name!r} in {store.url}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                         + f" (judges: {', '.join(names) or 'none'})")
    return found[0], annotator or None


def compare_judges(store: Any, x: str, y: str, *, n_boot: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    (jx, ax), (jy, ay) = resolve_judge(store, x), resolve_judge(store, y)
    views = []
    for judge, annotator in ((jx, ax), (jy, ay)):
        rows = store.judgments_with_texts(judge["id"])
        if annotator and not any(r["annotator"] == annotator for r in rows):
            known = sorted({r["annotator"] for r in rows if r["annotator"]})
            raise BenchError(f"judge {judge['name']!r} has no annotator {annotator!r} (annotators: "
                             f"{', '.join(known) or 'none'})")
        views.append(pair_views(rows, annotator))
    names = (x, y) if x != y else (f"{x} (1)", f"{y} (2)")
    return agreement(views[0], views[1], names, n_boot=n_boot, seed=seed)


def judge_summary(store: Any, judge_id: str, *, n_boot: int = 2000) -> dict[str, Any]:
    """A judge's pair outcomes (the annotators' majority) and the win rate of each pair of systems."""
    rows = store.judgments_with_texts(judge_id)
    views = pair_views(rows)
    policy_of = {r["gen_a"]: r["policy_a"] for r in rows} | {r["gen_b"]: r["policy_b"] for r in rows}
    names: dict[str, str] = {}
    for pid in set(policy_of.values()):
        policy = store.policy(pid)
        names[pid] = policy["method"] if policy else pid[:12]
    by_systems: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for v in views.values():
        by_systems[(names[policy_of[v.gen_a]], names[policy_of[v.gen_b]])].append((v.prompt_id, v.verdict))
    systems = [{"system_a": a, "system_b": b, **win_rate(outcomes, n_boot=n_boot, seed=0).as_dict()}
               for (a, b), outcomes in sorted(by_systems.items())]
    counts = Counter(v.verdict for v in views.values())
    return {"outcomes": {k: counts.get(k, 0) for k in ("A", "B", "tie", "invalid")},
            "annotators": len({r["annotator"] for r in rows}), "systems": systems, "n_pairs": len(views)}

"""How far two judges agree, and how each is biased, over the pairs both judged.

A pair is a prompt and two outputs, whichever order each judge stored them in. Every statistic is a share
of counts (or Cohen's kappa of a confusion matrix), with a 95% interval from a seeded bootstrap that
resamples prompts, since pairs of one prompt are correlated:

- ``agreement``: same outcome (A, B or tie), over pairs neither judge left invalid;
  ``agreement_without_ties``: over pairs both judges decided; ``cohen_kappa`` over A / B / tie.
- per judge: ``invalid_rate``, ``tie_rate``; ``length_bias`` = P(prefers the longer output), over its
  decided pairs whose outputs differ in length (characters).
- per judge that saw both orders: ``order_consistency`` (its two orders agree), ``order_kappa``,
  ``position_bias`` = P(prefers the output shown first) over its decided order-verdicts, and its agreement
  with the other judge in each order (``agreement_first_order``, ``agreement_second_order``, their
  average, and ``agreement_both_orders``): LLMBar's accuracy figures when the other judge is the gold label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.stats import cluster_bootstrap, cohen_kappa
from judges._verdicts import flip, majority

CATEGORIES = ("A", "B", "tie")


@dataclass(frozen=True)
class PairView:
    """One judge's view of a pair: its outcome with A = ``gen_a``, as the judge stored the pair."""

    prompt_id: str
    gen_a: str
    gen_b: str
    verdict: str
    ab: str | None  # gen_a shown first
    ba: str | None  # gen_b shown first
    len_a: int
    len_b: int

    def oriented(self, gen_a: str) -> PairView:
        """The same view with ``gen_a`` as side A (kappa and A/B labels depend on the orientation)."""
        if gen_a == self.gen_a:
            return self
        return PairView(self.prompt_id, self.gen_b, self.gen_a, flip(self.verdict) or "", flip(self.ba), flip(self.ab),
                        self.len_b, self.len_a)


def pair_views(rows: Sequence[dict[str, Any]], annotator: str | None = None) -> dict[tuple, PairView]:
    """A judge's judgments (with texts) as one view per pair, keyed by prompt and the unordered outputs;
    several annotators of a pair give their majority."""
    grouped: dict[tuple, list[PairView]] = defaultdict(list)
    for r in rows:
        if annotator is not None and r.get("annotator") != annotator:
            continue
        view = PairView(r["prompt_id"], r["gen_a"], r["gen_b"], r["verdict"], r["verdict_ab"], r["verdict_ba"],
                        len(r["text_a"]), len(r["text_b"]))
        key = (r["prompt_id"], *sorted((r["gen_a"], r["gen_b"])))
        grouped[key].append(view.oriented(grouped[key][0].gen_a) if grouped[key] else view)
    out = {}
    for k, views in grouped.items():
        v = views[0]
        out[k] = v if len(views) == 1 else PairView(v.prompt_id, v.gen_a, v.gen_b, majority(x.verdict for x in views),
                                                    None, None, v.len_a, v.len_b)
    return out


def _columns(x: PairView, y: PairView) -> dict[str, float]:
    """Indicator counts of one shared pair; summed over pairs they give every statistic."""
    c: dict[str, float] = {}
    valid = x.verdict != "invalid" and y.verdict != "invalid"
    c["valid"], c["agree"] = valid, valid and x.verdict == y.verdict
    decided = x.verdict in ("A", "B") and y.verdict in ("A", "B")
    c["decided"], c["agree_decided"] = decided, decided and x.verdict == y.verdict
    for a in CATEGORIES:
        for b in CATEGORIES:
            c[f"cm_{a}_{b}"] = valid and x.verdict == a and y.verdict == b
    for tag, me, other in (("x", x, y), ("y", y, x)):
        c[f"{tag}_n"] = 1
        c[f"{tag}_invalid"] = me.verdict == "invalid"
        c[f"{tag}_valid"] = me.verdict != "invalid"
        c[f"{tag}_tie"] = me.verdict == "tie"
        longer = "A" if me.len_a > me.len_b else "B" if me.len_b > me.len_a else None
        c[f"{tag}_len_n"] = longer is not None and me.verdict in ("A", "B")
        c[f"{tag}_len_k"] = longer is not None and me.verdict == longer
        _order_columns(c, tag, me, other)
    return {k: float(v) for k, v in c.items()}


def _order_columns(c: dict[str, Any], tag: str, me: PairView, other: PairView) -> None:
    both = me.ab is not None and me.ba is not None
    ok_ab, ok_ba = both and me.ab != "invalid", both and me.ba != "invalid"
    ok_other = other.verdict != "invalid"
    c[f"{tag}_orders"] = both
    c[f"{tag}_oc_n"], c[f"{tag}_oc_k"] = ok_ab and ok_ba, ok_ab and ok_ba and me.ab == me.ba
    for a in CATEGORIES:
        for b in CATEGORIES:
            c[f"{tag}_ocm_{a}_{b}"] = ok_ab and ok_ba and me.ab == a and me.ba == b
    # position: in order ab the first shown is A; in order ba it is B
    c[f"{tag}_pos_n"] = (ok_ab and me.ab in ("A", "B")) + (ok_ba and me.ba in ("A", "B"))
    c[f"{tag}_pos_k"] = (ok_ab and me.ab == "A") + (ok_ba and me.ba == "B")
    c[f"{tag}_o1_n"], c[f"{tag}_o1_k"] = ok_ab and ok_other, ok_ab and ok_other and me.ab == other.verdict
    c[f"{tag}_o2_n"], c[f"{tag}_o2_k"] = ok_ba and ok_other, ok_ba and ok_other and me.ba == other.verdict
    all_ok = ok_ab and ok_ba and ok_other
    c[f"{tag}_ob_n"] = all_ok
    c[f"{tag}_ob_k"] = all_ok and me.ab == other.verdict and me.ba == other.verdict


def _statistics(tags: dict[str, str], has_orders: dict[str, bool]) -> list[tuple[str, str, Any]]:
    """(statistic, judge, definition): a (numerator, denominator) pair of columns, or a function."""
    stats: list[tuple[str, str, Any]] = [
        ("agreement", "both", ("agree", "valid")),
        ("agreement_without_ties", "both", ("agree_decided", "decided")),
        ("cohen_kappa", "both", [f"cm_{a}_{b}" for a in CATEGORIES for b in CATEGORIES]),
    ]
    for tag, name in tags.items():
        stats += [("invalid_rate", name, (f"{tag}_invalid", f"{tag}_n")),
                  ("tie_rate", name, (f"{tag}_tie", f"{tag}_valid")),
                  ("length_bias", name, (f"{tag}_len_k", f"{tag}_len_n"))]
        if has_orders[tag]:
            stats += [("order_consistency", name, (f"{tag}_oc_k", f"{tag}_oc_n")),
                      ("order_kappa", name, [f"{tag}_ocm_{a}_{b}" for a in CATEGORIES for b in CATEGORIES]),
                      ("position_bias", name, (f"{tag}_pos_k", f"{tag}_pos_n")),
                      ("agreement_first_order", name, (f"{tag}_o1_k", f"{tag}_o1_n")),
                      ("agreement_second_order", name, (f"{tag}_o2_k", f"{tag}_o2_n")),
                      ("agreement_order_average", name, (f"{tag}_o1_k", f"{tag}_o1_n", f"{tag}_o2_k", f"{tag}_o2_n")),
                      ("agreement_both_orders", name, (f"{tag}_ob_k", f"{tag}_ob_n"))]
    return stats


def _fn(definition: Any, col: dict[str, int]) -> tuple[Callable[[np.ndarray], np.ndarray], str | None, str]:
    """The statistic as a function of summed columns, and the columns behind its k and n."""
    if isinstance(definition, list):
        idx = [col[c] for c in definition]
        return (lambda s: cohen_kappa(s[..., idx])), None, definition
    if len(definition) == 4:
        k1, n1, k2, n2 = (col[c] for c in definition)
        return (lambda s: (s[..., k1] / s[..., n1] + s[..., k2] / s[..., n2]) / 2), None, definition[1]
    k, n = col[definition[0]], col[definition[1]]
    return (lambda s: s[..., k] / s[..., n]), definition[0], definition[1]


def agreement(x: dict[tuple, PairView], y: dict[tuple, PairView], names: tuple[str, str], *,
              n_boot: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """Every statistic over the pairs both judges judged, one row each."""
    shared = sorted(set(x) & set(y))
    if not shared:
        return []
    per_pair = [_columns(x[k], y[k].oriented(x[k].gen_a)) for k in shared]
    columns = list(per_pair[0])
    col = {c: i for i, c in enumerate(columns)}
    prompts = sorted({k[0] for k in shared})
    row_of = {p: i for i, p in enumerate(prompts)}
    clusters = np.zeros((len(prompts), len(columns)))
    for k, values in zip(shared, per_pair, strict=True):
        clusters[row_of[k[0]]] += [values[c] for c in columns]
    totals = clusters.sum(0)
    tags = {"x": names[0], "y": names[1]}
    has_orders = {t: totals[col[f"{t}_orders"]] > 0 for t in tags}
    out = []
    for stat, judge, definition in _statistics(tags, has_orders):
        fn, k_col, n_col = _fn(definition, col)
        with np.errstate(divide="ignore", invalid="ignore"):
            value, lo, hi, se = cluster_bootstrap(clusters, fn, n_boot=n_boot, seed=seed)
        n = int(totals[[col[c] for c in n_col]].sum()) if isinstance(n_col, list) else int(totals[col[n_col]])
        out.append({"statistic": stat, "judge": judge, "value": value, "k": int(totals[col[k_col]]) if k_col else None,
                    "n": n, "ci_low": lo, "ci_high": hi, "standard_error": se, "n_pairs": len(shared),
                    "n_prompts": len(prompts)})
    return out

"""Small inline SVG line charts: no scripts, no external files, readable in print."""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape
from typing import Any

from markupsafe import Markup

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22", "#393b79", "#000000")
W, H, LEFT, RIGHT, TOP, BOTTOM = 460, 250, 56, 120, 24, 38


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.2e}"


def mean_curve(runs: list[list[dict[str, Any]]], key: str) -> list[tuple[float, float]]:
    """(step, mean over runs) of training record ``key``, e.g. over seeds; steps where it was recorded."""
    by_step: dict[float, list[float]] = defaultdict(list)
    for records in runs:
        for r in records:
            if key in r:
                by_step[r["step"]].append(float(r[key]))
    return sorted((step, sum(v) / len(v)) for step, v in by_step.items())


def mean_path(runs: list[list[dict[str, Any]]], x_key: str, y_key: str) -> list[tuple[float, float]]:
    """(mean ``x_key``, mean ``y_key``) over runs at each step where a record holds both, in step order:
    a seed-averaged trajectory through another plane than the step axis (e.g. reward against KL)."""
    by_step: dict[float, list[tuple[float, float]]] = defaultdict(list)
    for records in runs:
        for r in records:
            if x_key in r and y_key in r:
                by_step[r["step"]].append((float(r[x_key]), float(r[y_key])))
    return [(sum(x for x, _ in v) / len(v), sum(y for _, y in v) / len(v)) for _, v in sorted(by_step.items())]


def _marker(x: float, y: float, cx: float, cy: float, r: float, color: str, outline: bool = False) -> str:
    """A point (``outline``: a dark ring, for a series of one point); ``data-x``/``data-y`` carry its exact
    values (round-trip floats) and ``title`` a tooltip."""
    ring = ' stroke="#222" stroke-width="1"' if outline else ""
    return (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r}" fill="{color}"{ring} data-x="{x!r}" data-y="{y!r}">'
            f"<title>({_fmt(x)}, {_fmt(y)})</title></circle>")


def line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, x_label: str,
               y_label: str, markers: bool = False) -> Markup:
    """One line per series (name -> points), with axes, ticks and a legend on the right; ``markers`` also
    draws every point (e.g. a frontier's checkpoints)."""
    points = [p for pts in series.values() for p in pts if math.isfinite(p[1])]
    if not points:
        return Markup(f'<p class="muted">{escape(title)}: no data</p>')
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 == x0:
        x1 = x0 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return TOP + (1 - (y - y0) / (y1 - y0)) * ph

    out = [f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
           f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f'<text x="{LEFT}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{LEFT - 4}" x2="{LEFT + pw}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eee"/>'
                   f'<text x="{LEFT - 6}" y="{sy(t) + 4:.1f}" font-size="10" text-anchor="end">{_fmt(t)}</text>')
    for t in _ticks(x0, x1):
        out.append(f'<text x="{sx(t):.1f}" y="{TOP + ph + 14}" font-size="10" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 6}" font-size="11" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="12" y="{TOP + ph / 2}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 12 {TOP + ph / 2})">{escape(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        finite = [(x, y) for x, y in pts if math.isfinite(y)]
        if not finite:  # a method that does not record this key (e.g. PPO has no implicit-reward accuracy)
            continue
        if len(finite) == 1:
            shape = _marker(*finite[0], sx(finite[0][0]), sy(finite[0][1]), 4, color, outline=True)
        else:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in finite)
            shape = f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"/>'
            if markers:
                shape += "".join(_marker(x, y, sx(x), sy(y), 2.5, color) for x, y in finite)
        out.append(f'<g class="series" data-name="{escape(name)}">{shape}<text x="{LEFT + pw + 8}" '
                   f'y="{TOP + 12 + 14 * i}" font-size="11" fill="{color}">{escape(name)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))

"""Commands about judges: import human (or published) annotations, list judges, measure agreement, and
serve a local LLM judge."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bench.errors import BenchError


def emit_rows(rows: list[dict[str, Any]], fmt: str) -> bool:
    """Write ``rows`` as JSON or CSV (dict or list cells as JSON text); False for ``table``, which each
    command prints in its own layout."""
    if fmt not in ("json", "csv"):
        return False
    rows = [{k: _undefined_to_none(v) for k, v in r.items()} for r in rows]  # n = 0: no rate, null not NaN
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, allow_nan=False))
        return True
    if rows:
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()} for r in rows])
    return True


def _undefined_to_none(v: Any) -> Any:
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: _undefined_to_none(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_undefined_to_none(x) for x in v]
    return v


DEFAULT_DB = "bench.db"


def _pct(r: dict[str, Any]) -> str:
    if r["value"] != r["value"]:  # nan
        return f"{'n/a':>7}"
    return f"{100 * r['value']:6.1f}%" if "kappa" not in r["statistic"] else f"{r['value']:7.3f}"


@click.command(name="import-annotations")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite file or any SQLAlchemy URL.")
@click.option("--format", "fmt", default="bench", show_default=True,
              help="bench (CSV/JSONL), pandalm, llmbar, llmbar-result, tldr-gpt4.")
@click.option("--judge", default="human", show_default=True, help="Name of the judge these verdicts come from.")
@click.option("--kind", type=click.Choice(["human", "llm"]), default="human", show_default=True)
@click.option("--annotator", help="Annotator of rows that do not name one.")
@click.option("--run", "run_id", help="Run whose methods' outputs the systems name (rows without texts).")
def import_annotations_cmd(file: str, db: str, fmt: str, judge: str, kind: str, annotator: str | None,
                           run_id: str | None) -> None:
    """Import pairwise verdicts (A, B or tie) from FILE; the whole file is checked before anything is
    written."""
    from bench.store import Store
    from judges import import_annotations, judge_summary

    store = Store(db)
    if run_id:
        from bench.cli import _pick_run

        run_id = _pick_run(store, run_id)
    info = import_annotations(store, Path(file), fmt=fmt, judge=judge, kind=kind, annotator=annotator,
                              run_id=run_id)
    click.echo(f"{info['rows']} rows read ({info['skipped']} without a verdict skipped); "
               f"{info['new_judgments']} new judgments, {info['new_outputs']} new outputs; judge {judge!r} "
               f"({info['judge_id'][:12]}); annotators: {', '.join(f'{a} {n}' for a, n in info['annotators'].items())}")
    _print_summary(judge_summary(store, info["judge_id"]))


def _print_summary(summary: dict[str, Any]) -> None:
    counts = summary["outcomes"]
    click.echo(f"pair outcomes{' (majority of annotators)' if summary['annotators'] > 1 else ''}: "
               f"A {counts['A']}, B {counts['B']}, tie {counts['tie']}, invalid {counts['invalid']}")
    for r in summary["systems"]:
        click.echo(f"  {r['system_a']} vs {r['system_b']}: win rate {100 * r['win_rate']:.1f}% "
                   f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]  n={r['n_total']} "
                   f"(W{r['n_wins']} L{r['n_losses']} T{r['n_ties']} invalid {r['n_invalid']})")


@click.command(name="judges")
@click.option("--db", default=DEFAULT_DB, show_default=True)
def judges_cmd(db: str) -> None:
    """The judges in a database, with their kind and number of judgments."""
    from bench.store import Store

    for j in Store(db).all_judges():
        click.echo(f"{j['id'][:12]}  {j['kind']:<13}{j['name']:<24}{j['n_judgments']:>8} judgments")


@click.command(name="agreement")
@click.argument("judge_x")
@click.argument("judge_y")
@click.option("--db", default=DEFAULT_DB, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--n-boot", default=2000, show_default=True)
def agreement_cmd(judge_x: str, judge_y: str, db: str, fmt: str, seed: int, n_boot: int) -> None:
    """Agreement of two judges over the pairs both judged. A judge is its name or id prefix, optionally
    with @ANNOTATOR to take one annotator's labels instead of the annotators' majority."""
    from bench.store import Store
    from judges import compare_judges

    rows = compare_judges(Store(db), judge_x, judge_y, n_boot=n_boot, seed=seed)
    if not rows:
        raise BenchError(f"{judge_x} and {judge_y} share no judged pairs")
    if emit_rows(rows, fmt):
        return
    click.echo(f"{rows[0]['n_pairs']} shared pairs over {rows[0]['n_prompts']} prompts; 95% bootstrap CI over "
               f"prompts (seed {seed})")
    for r in rows:
        share = f"{r['k']}/{r['n']}" if r["k"] is not None else f"n={r['n']}"
        ci = "" if r["ci_low"] != r["ci_low"] else (
            f"[{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]" if "kappa" not in r["statistic"]
            else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
        click.echo(f"  {r['statistic']:<25}{r['judge']:<22}{_pct(r)}  {ci:<16}{share}")


@click.command(name="serve-judge")
@click.option("--model", default="smollm2-135m", show_default=True, help="Embedded name, local path or hub id.")
@click.option("--port", default=8000, show_default=True)
@click.option("--max-model-len", default=4096, show_default=True)
def serve_judge_cmd(model: str, port: int, max_model_len: int) -> None:
    """Serve a model through vLLM's OpenAI-compatible server on 127.0.0.1, for the LLM judge
    (``--set llm_judge.base_url=http://127.0.0.1:PORT/v1``). Runs until interrupted."""
    from judges.llm_pairwise import serve_forever

    serve_forever(model, port=port, max_model_len=max_model_len)


COMMANDS = (import_annotations_cmd, judges_cmd, agreement_cmd, serve_judge_cmd)

"""The ``bench`` command line. Heavy libraries are imported inside commands, so ``--help`` is fast."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bench.errors import BenchError

DEFAULT_DB = "bench.db"
DEFAULT_OUT = "bench-out"


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose < 0 else logging.INFO if verbose == 0 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "transformers", "vllm"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bench-align")
def cli() -> None:
    """bench: which alignment method yields the best policy, given the same base model, data,
    budget and judges?"""


@cli.command()
@click.option("--methods", help="Comma-separated methods, e.g. exo,dpo,bon (see `bench list`).")
@click.option("--task", help="Task name, e.g. tldr (see `bench list`).")
@click.option("--preset", help="smoke | default | paper.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML run config.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting: train.lr=1e-6, eval.samples=4, exo.beta_pi=0.5 (repeatable).")
@click.option("--model", help="Base model: smollm2-135m (embedded), a local checkpoint or a hub id.")
@click.option("--seed", type=int, help="Seed of training, sampling and the bootstrap.")
@click.option("--engine", type=click.Choice(["vllm", "hf"]), help="Generation engine.")
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite file or any SQLAlchemy URL.")
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False),
              help="Folder for reports and artifacts (checkpoints, the reward model).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Local data folder (default: $BENCH_DATA_DIR; unset: load from the hub).")
@click.option("--recheck", is_flag=True,
              help="Go through every stage even if this run already finished with the same code (each stage "
                   "still reuses its stored rows); by default such a rerun only renders the report again.")
@click.option("-v", "--verbose", count=True)
def run(methods: str | None, task: str | None, preset: str | None, config_path: str | None,
        overrides: tuple[str, ...], model: str | None, seed: int | None, engine: str | None, db: str, out: str,
        data_dir: str | None, recheck: bool, verbose: int) -> None:
    """Train or load every method's policy, sample, judge, and write the report."""
    _setup_logging(verbose)
    from bench.spec import build_spec, flags_layer, load_yaml_layer

    layers = [load_yaml_layer(config_path)] if config_path else []
    sets = list(overrides) + ([f"engine.kind={engine}"] if engine else [])
    layers.append(flags_layer(sets, task=task, methods=methods, preset=preset, model=model, seed=seed))
    spec = build_spec(layers)
    from bench.runner import Runner
    from bench.store import Store
    from bench.tasks import resolve_data_dir

    store = Store(db)
    runner = Runner(spec, store, Path(out), resolve_data_dir(data_dir), argv=sys.argv, reuse_finished=not recheck)
    run_id = runner.run()
    click.echo(f"run {run_id} done; stages (s): {runner.stages}")
    click.echo(f"new rows: {runner.counters}")
    click.echo(f"report: {runner.report_path}")
    _print_table(store, run_id)


def _print_table(store, run_id: str) -> None:  # noqa: ANN001
    from bench.results import run_results

    rows = run_results(store, run_id)
    if rows and "metric" in rows[0]:
        return _print_exact(rows)
    for r in rows:
        rate = (f"{100 * r['win_rate']:5.1f}% [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]" if r["n_total"]
                else "  n/a (no judged pairs)")
        click.echo(f"  {r['method']:<6} vs {r['opponent']:<9} [{r['judge']}] win rate {rate}  n={r['n_total']} "
                   f"(W{r['n_wins']} L{r['n_losses']} T{r['n_ties']} invalid {r['n_invalid']})")


def _results_over_seeds(store, run_id: str, fmt: str) -> None:  # noqa: ANN001
    import json

    from bench._cli_judges import emit_rows
    from bench._seeds import replicas, rows_over_seeds
    from bench.results import run_results
    from reports._frontier import frontier_view

    plan = json.loads(store.run(run_id).get("plan_json") or "{}")
    if not replicas(plan):
        raise BenchError(f"run {run_id[:12]} trained every method with one seed: nothing over seeds "
                         "(rerun it with --set train.seeds=3 to add seeds; the first seed's policies are reused)")
    view = frontier_view(store, plan) if plan.get("frontier") else None
    rows = [{"run": run_id, **r} for r in rows_over_seeds(run_results(store, run_id), plan,
                                                          view["points"] if view else [])]
    if emit_rows(rows, fmt):
        return
    for r in rows:
        where = f"[{r['judge']}] vs {r['opponent']}" if r["judge"] else f"checkpoint {r['checkpoint']}"
        seeds = ", ".join(f"{s}: {v:.3f}" for s, v in r["per_seed"].items())
        click.echo(f"  {r['method']:<12} {r['metric']:<13} {where:<28} mean {r['mean']:+.3f} "
                   f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}] n={r['n_seeds']} seeds ({seeds})")


def _print_exact(rows: list[dict]) -> None:
    """The exact task: J and KL(pi || pi*) per method and class, mean [95% CI] over seeds."""
    def cell(r: dict) -> str:
        ci = "exact" if r["exact"] else f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}] n={r['n']}"
        return f"{r['mean']:7.3f} {ci:<22}"

    click.echo(f"  {'method':<8}{'class':<11}{'J':<31}{'KL(pi || pi*)'}")
    by_key = {(r["method"], r["class"], r["metric"]): r for r in rows}
    for method, cls, metric in by_key:
        if metric == "objective":
            click.echo(f"  {method:<8}{cls:<11}{cell(by_key[method, cls, 'objective'])}"
                       f"{cell(by_key[method, cls, 'kl_to_star'])}")


def _pick_run(store, run_id: str | None) -> str:  # noqa: ANN001
    rid = run_id or store.latest_run_id()
    if rid is None:
        raise BenchError(f"no runs in {store.url}; start one with `bench run`")
    matches = store.find_runs(rid)
    if len(matches) != 1:
        raise BenchError(f"no run {rid!r} in {store.url}" if not matches else
                         f"run id prefix {rid!r} is ambiguous: {', '.join(m[:12] for m in matches)}")
    return matches[0]


@cli.command()
@click.option("--db", default=DEFAULT_DB, show_default=True)
@click.option("--run", "run_id", help="Run id (default: the latest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="HTML file to write.")
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False))
def report(db: str, run_id: str | None, output: str | None, out: str) -> None:
    """Render a run's self-contained HTML report from the database."""
    from bench.store import Store
    from reports import write_run_report

    store = Store(db)
    path = write_run_report(store, _pick_run(store, run_id), Path(out), Path(output) if output else None)
    click.echo(str(path))


@cli.command()
@click.option("--db", default=DEFAULT_DB, show_default=True)
@click.option("--run", "run_id", help="Run id (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--over-seeds", is_flag=True, help="Means and 95% t-intervals over training seeds (train.seeds).")
def results(db: str, run_id: str | None, fmt: str, over_seeds: bool) -> None:
    """The win-rate table of a run, for people (table), pandas (csv) or scripts (json)."""
    from bench._cli_judges import emit_rows
    from bench.results import run_results
    from bench.store import Store

    store = Store(db)
    rid = _pick_run(store, run_id)
    if over_seeds:
        return _results_over_seeds(store, rid, fmt)
    if not emit_rows([{"run": rid, **r} for r in run_results(store, rid)], fmt):
        _print_table(store, rid)


@cli.command()
@click.option("--db", default=DEFAULT_DB, show_default=True)
@click.option("--task", help="Only judges used on this task.")
@click.option("--judge", help="Only this judge (name or id prefix).")
@click.option("--baseline", default="sft", show_default=True, help="The system ratings and win rates are against.")
@click.option("--out", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False),
              help="Folder for leaderboard.html, .csv and .md.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--n-boot", default=200, show_default=True)
@click.option("--per-seed", is_flag=True,
              help="List each training seed's policy as its own system (default: a method's seeds pooled into one).")
def leaderboard(db: str, task: str | None, judge: str | None, baseline: str, out: str, seed: int,
                n_boot: int, per_seed: bool) -> None:
    """Bradley-Terry ratings of every system in a database, one board per judge (HTML, CSV, Markdown)."""
    from bench.store import Store
    from reports import write_leaderboard

    paths = write_leaderboard(Store(db), Path(out), task=task, judge=judge, baseline=baseline, seed=seed,
                              n_boot=n_boot, pool_seeds=not per_seed)
    click.echo(paths["md"].read_text(encoding="utf-8"))
    click.echo("written: " + ", ".join(str(p) for p in paths.values()))


@cli.command(name="list")
def list_() -> None:
    """Registered methods, tasks, judges and presets."""
    from bench.config import PRESETS
    from bench.tasks import TASKS
    from judges import JUDGES
    from methods import METHODS

    for title, names in (("methods", METHODS.names()), ("tasks", TASKS.names()), ("judges", JUDGES.names()),
                         ("presets", list(PRESETS))):
        click.echo(f"{title}: {', '.join(names)}")


def _add_judge_commands() -> None:
    from bench._cli_judges import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_judge_commands()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="bench", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted: finished stages are kept; rerun the same command to resume", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except BenchError as e:
        click.echo(f"error: {e}", err=True)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``bench run --task exact``: train every method in every policy class for every seed, measure exactly."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from bench.exact._context import ExactContext, problem_identity
from bench.exact._metrics import evaluate
from bench.progress import progress

if TYPE_CHECKING:
    from bench.runner import Runner
    from bench.tasks.exact import Exact


def run_exact(runner: Runner, run_id: str, task: Exact) -> None:
    spec = runner.spec
    classes = spec.exact.class_names()
    seeds = list(range(spec.seed, spec.seed + spec.exact.seeds))
    problem = task.problem()
    methods = runner.methods()
    entries: list[dict[str, Any]] = []
    total = len(classes) * len(seeds) * len(methods)
    with runner.stage("policies"), progress(total=total, desc="exact policies", unit="policy") as bar:
        for cls, seed in itertools.product(classes, seeds):
            ctx = ExactContext(spec=spec, task_version=task.version, problem=problem, store=runner.store,
                               policy_class=cls, seed=seed, artifacts=runner.out / "artifacts")
            for name, method in methods.items():
                policy = method.policy(ctx)
                runner.store.link_policy(run_id, f"{name}/{cls}/seed{seed}", policy.id, method.setting)
                entries.append({"method": name, "setting": method.setting, "class": cls, "seed": seed,
                                "policy_id": policy.id, "kind": policy.kind})
                bar.update(1)
    star = evaluate(problem.star_logp(), problem.sft_logp(), problem.reward, problem.beta)
    from bench.exact._train import projections

    with runner.stage("projections"):
        projected = {cls: projections(problem, cls) for cls in classes if cls != "tabular"}
    runner.store.set_plan(run_id, {
        "kind": "exact", "beta": problem.beta, "steps": spec.exact.steps, "problem": problem_identity(task.version, problem), "classes": classes, "seeds": seeds,
        "methods": list(methods), "settings": {n: m.setting for n, m in methods.items()}, "entries": entries,
        "star": star, "projections": projected, "n_prompts": problem.n_prompts, "n_outputs": problem.n_outputs,
    })

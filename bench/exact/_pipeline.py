"""``bench run --task exact``: train every method in every policy class for every seed, measure exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.exact._metrics import evaluate
from bench.progress import progress

if TYPE_CHECKING:
    from bench.runner import Runner
    from bench.tasks.exact import Exact

def run_exact(runner: Runner, run_id: str, task: Exact) -> None:
    from bench.exact._context import ExactContext
    from methods import METHODS

    spec = runner.spec
    classes = spec.exact.class_names()
    seeds = list(range(spec.seed, spec.seed + spec.exact.seeds))
    problem = task.problem()
    params = {m.name: m.param_dict() for m in spec.methods}
    names = ["sft"] + [n for n in params if n != "sft"]
    methods = {n: METHODS.get(n).from_params(params.get(n, {})) for n in names}
    entries: list[dict[str, Any]] = []
    jobs = [(c, s, n) for c in classes for s in seeds for n in names]
    with runner.stage("policies"), progress(total=len(jobs), desc="exact policies", unit="policy") as bar:
        for cls, seed in [(c, s) for c in classes for s in seeds]:
            ctx = ExactContext(spec=spec, task_version=task.version, problem=problem, store=runner.store,
                               policy_class=cls, seed=seed, artifacts=runner.out / "artifacts")
            for name, method in methods.items():
                policy = method.policy(ctx)
                label = f"{name}/{cls}/seed{seed}"
                runner.store.link_policy(run_id, label, policy.id, method.setting)
                entries.append({"method": name, "setting": method.setting, "class": cls, "seed": seed,
                                "policy_id": policy.id, "kind": policy.kind})
                bar.update(1)
    star = evaluate(problem.star_logp(), problem.sft_logp(), problem.reward, problem.beta)
    from bench.exact._train import projections

    with runner.stage("projections"):
        projected = {cls: projections(problem, cls) for cls in classes if cls != "tabular"}
    runner.store.set_plan(run_id, {
        "kind": "exact", "beta": problem.beta, "problem": ctx.identity, "classes": classes, "seeds": seeds,
        "methods": names, "settings": {n: m.setting for n, m in methods.items()}, "entries": entries,
        "star": star, "projections": projected, "n_prompts": problem.n_prompts, "n_outputs": problem.n_outputs,
    })

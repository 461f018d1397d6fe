"""The exact task: metrics checked on hand-computed values and by brute force, training through the
methods' own losses, and the runner's exact pipeline (stored, resumable, rerun redoes nothing)."""

import itertools
import math

import numpy as np
import pytest

from bench.exact import best_of_n_logp, evaluate, kl
from bench.tasks.exact import Exact, build_problem


def test_kl_on_hand_computed_values():
    p, q = np.log([[0.5, 0.5]]), np.log([[0.25, 0.75]])
    assert kl(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75))
    with np.errstate(divide="ignore"):
        certain = np.log([[1.0, 0.0]])
    assert kl(certain, q) == pytest.approx(math.log(4))  # zero-probability outputs add nothing


def test_best_of_n_matches_brute_force_enumeration():
    base = np.array([0.2, 0.5, 0.3])
    reward = np.array([1.0, 0.0, 1.0])  # a tie at the top, broken uniformly among the tied samples
    n = 3
    brute = np.zeros(3)
    for draw in itertools.product(range(3), repeat=n):
        prob = np.prod(base[list(draw)])
        top = max(reward[i] for i in draw)
        winners = [i for i in draw if reward[i] == top]
        for i in winners:
            brute[i] += prob / len(winners)
    got = np.exp(best_of_n_logp(np.log(base)[None], reward[None], n))[0]
    np.testing.assert_allclose(got, brute, atol=1e-12)
    assert np.exp(best_of_n_logp(np.log(base)[None], reward[None], 1))[0] == pytest.approx(base)


def test_objective_gap_equals_beta_times_kl_to_optimum():
    # J(pi) = beta * E_x log Z(x) - beta * KL(pi || pi*): the identity behind "pi* maximises J".
    problem = build_problem(beta=0.5)
    sft, r, beta = problem.sft_logp(), problem.reward, problem.beta
    z = sft + r / beta
    log_z = np.log(np.exp(z).sum(-1)).mean()
    for logp in (sft, problem.star_logp(), best_of_n_logp(sft, r, 4)):
        m = evaluate(logp, sft, r, beta)
        assert m["objective"] == pytest.approx(beta * log_z - beta * m["kl_to_star"], abs=1e-9)
    star = evaluate(problem.star_logp(), sft, r, beta)
    assert star["kl_to_star"] == pytest.approx(0.0, abs=1e-12) and star["kl_from_star"] == pytest.approx(0.0, abs=1e-12)


def test_problem_is_fixed_and_bimodal():
    a, b = build_problem(0.5), build_problem(0.5)
    assert a.identity() == b.identity()
    assert a.n_outputs == 216 and a.reward.max() == pytest.approx(4.0)
    for p in range(a.n_prompts):  # two sequences at the top reward, differing in every position
        top = np.flatnonzero(a.reward[p] == a.reward[p].max())
        assert len(top) == 2 and (a.outputs[top[0]] != a.outputs[top[1]]).all()


def test_dpo_population_optimum_is_pi_star_and_exo_pref_is_not():
    """Minimising the expected preference loss over every pair (weights pi_sft(y1) pi_sft(y2), labels
    from the Bradley-Terry model of r) in the tabular class: DPO's optimum is pi*; EXO's preference form
    with eps = 1e-3 has another fixed point (it over-sharpens: labels are 1 - eps, not sigmoid(r1 - r2))."""
    torch = pytest.importorskip("torch")
    from methods import losses

    problem = build_problem(beta=0.5)
    sft, r = torch.tensor(problem.sft_logp()), torch.tensor(problem.reward)
    p_n, n_out = sft.shape
    weight = (sft.exp()[:, :, None] * sft.exp()[:, None, :]).reshape(-1)
    p_first = torch.sigmoid(r[:, :, None] - r[:, None, :]).reshape(-1)

    def population_optimum(loss):
        theta = sft.clone().requires_grad_()
        opt = torch.optim.LBFGS([theta], max_iter=400, history_size=50, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-14)

        def closure():
            opt.zero_grad()
            lr = theta.log_softmax(-1) - sft
            pairs = torch.stack([lr[:, :, None].expand(p_n, n_out, n_out).reshape(-1),
                                 lr[:, None, :].expand(p_n, n_out, n_out).reshape(-1)], -1)
            value = (weight * (p_first * loss(pairs) + (1 - p_first) * loss(pairs.flip(-1)))).sum() / p_n
            value.backward()
            theta.grad = theta.grad.contiguous()
            return value

        opt.step(closure)
        return evaluate(theta.detach().log_softmax(-1).numpy(), problem.sft_logp(), problem.reward, 0.5)

    assert population_optimum(lambda x: losses.dpo_pref(x, 0.5))["kl_to_star"] < 1e-6
    exo = population_optimum(lambda x: losses.exo_pref(x, 0.5, 1e-3))
    assert exo["kl_to_star"] > 0.03 and exo["reward"] > evaluate(problem.star_logp(), problem.sft_logp(),
                                                                  problem.reward, 0.5)["reward"]


def test_exact_task_loads_without_files():
    data = Exact().load(None)
    assert len(data.eval_prompts) == 4 and data.train_pairs == ()
    assert "generated in code" in data.sources["exact"]


def exact_spec(*extra):
    from bench.spec import build_spec, flags_layer

    return build_spec([flags_layer(["exact.seeds=2", "exact.steps=30", "exact.batch_size=64",
                                    "exact.record_every=10", *extra],
                                   task="exact", methods="exo,dpo,ipo,bon,exo-rw,dpo-rw")])


def test_exact_run_stores_results_report_and_reruns_nothing(store, tmp_path):
    pytest.importorskip("torch")
    from bench.results import run_results
    from bench.runner import Runner

    spec = exact_spec()
    runner = Runner(spec, store, tmp_path / "out", None)
    run_id = runner.run()
    rows = run_results(store, run_id)
    cells = {(r["method"], r["class"], r["metric"]): r for r in rows}
    assert cells["sft", "factorized", "kl_sft"]["exact"] and cells["sft", "factorized", "kl_sft"]["mean"] == 0.0
    assert cells["bon", "tabular", "objective"]["exact"] and cells["bon", "tabular", "objective"]["n"] == 1
    for method in ("exo", "dpo", "exo-rw", "dpo-rw"):  # 30 steps already move every trained policy up
        cell = cells[method, "tabular", "objective"]
        assert cell["n"] == 2 and cell["mean"] > cells["sft", "tabular", "objective"]["mean"]
        assert cell["ci_low"] <= cell["mean"] <= cell["ci_high"]
    html = runner.report_path.read_text()
    assert html.count("exo vs dpo") == 1 and "<svg" in html and "KL(pi ‖ pi*)" in html and "argmin KL(pi ‖ pi*)" in html
    # the reward-KL frontier, once per policy class (its points: tests/reports/test_exact_frontier.py)
    assert html.count('aria-label="E_pi[r] vs KL(pi || pi_sft) (') == 2
    counts = store.counts()
    assert counts["metrics"] > 0 and counts["train_steps"] > 0
    again = Runner(spec, store, tmp_path / "out", None)
    assert again.run() == run_id
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 1}
    assert run_results(store, run_id) == rows


def test_exact_training_records_and_bad_class(store, tmp_path):
    pytest.importorskip("torch")
    from bench.errors import InputError
    from bench.runner import Runner

    with pytest.raises(InputError, match="lowrank.*known: tabular, factorized") as e:
        exact_spec("exact.classes=tabular,lowrank")
    assert e.value.field == "exact.classes"
    run_id = Runner(exact_spec("exact.classes=factorized", "exact.seeds=1"), store, tmp_path / "out", None).run()
    trained = [p for p in store.run_policies(run_id) if p["kind"] == "trained"]
    assert len(trained) == 5  # exo, dpo, ipo, exo-rw, dpo-rw
    steps = store.train_steps(trained[0]["id"])
    assert [s["step"] for s in steps] == [0, 10, 20, 30]
    for key in ("loss", "reward_margin", "reward_accuracy", "kl_sft", "objective", "kl_to_star"):
        assert key in steps[-1]


def test_projections_on_the_factorised_class_separate_reverse_from_forward_kl():
    pytest.importorskip("torch")
    from bench.exact._train import projections

    proj = projections(build_problem(0.5), "factorized", steps=1500)
    # Mode-seeking vs mean-seeking: each projection wins on its own divergence, and the reverse one on J.
    assert proj["reverse"]["kl_to_star"] < proj["forward"]["kl_to_star"]
    assert proj["forward"]["kl_from_star"] < proj["reverse"]["kl_from_star"]
    assert proj["reverse"]["objective"] > proj["forward"]["objective"]

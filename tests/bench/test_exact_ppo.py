"""PPO on the exact task: per-token conditionals read off the joint table, and J rising in every seed."""

import pytest

torch = pytest.importorskip("torch")

from bench.exact import evaluate  # noqa: E402
from bench.exact._ppo import prefix_states, token_logps  # noqa: E402
from bench.tasks.exact import build_problem  # noqa: E402


def test_token_logps_are_the_conditionals_of_the_joint():
    # two tokens over a vocabulary of 2: joint p(00)=0.1, p(01)=0.3, p(10)=0.2, p(11)=0.4
    joint = torch.log(torch.tensor([[0.1, 0.3, 0.2, 0.4]], dtype=torch.float64))
    outputs = torch.tensor([[0, 1], [1, 0]])
    got = token_logps(joint, torch.tensor([0, 0]), outputs, vocab=2).exp()
    # p(y0=0) = 0.4, p(y1=1 | 0) = 0.75; p(y0=1) = 0.6, p(y1=0 | 1) = 1/3
    torch.testing.assert_close(got, torch.tensor([[0.4, 0.75], [0.6, 1 / 3]], dtype=torch.float64))


def test_token_logps_of_a_factorized_policy_are_its_per_position_logps():
    problem = build_problem(0.5)
    outputs = torch.tensor(problem.outputs)
    got = token_logps(torch.tensor(problem.sft_logp()), torch.full((len(outputs),), 2), outputs, vocab=6)
    per_position = torch.log_softmax(torch.tensor(problem.sft_logits[2]), -1)
    want = torch.stack([per_position[t, outputs[:, t]] for t in range(3)], 1)
    torch.testing.assert_close(got, want)


def test_prefix_states_number_every_prefix_once():
    outputs = torch.tensor([[0, 0, 0], [0, 0, 5], [0, 1, 0], [5, 5, 5]])
    assert prefix_states(outputs, 6).tolist() == [[0, 1, 7], [0, 1, 7], [0, 1, 8], [0, 6, 42]]


def test_ppo_objective_rises_in_every_seed_and_class(store, tmp_path):
    from bench.runner import Runner
    from bench.spec import build_spec, flags_layer

    spec = build_spec([flags_layer(["exact.seeds=5", "exact.steps=60", "exact.batch_size=128",
                                    "exact.record_every=20"], task="exact", methods="ppo,exo")])
    run_id = Runner(spec, store, tmp_path / "out", None).run()
    ppo = [p for p in store.run_policies(run_id) if p["method"].split("/")[0] == "ppo"]
    assert len(ppo) == 10  # 2 classes x 5 seeds
    problem = build_problem(0.5)
    sft_j = evaluate(problem.sft_logp(), problem.sft_logp(), problem.reward, problem.beta)["objective"]
    for p in ppo:
        steps = store.train_steps(p["id"])
        assert [s["step"] for s in steps] == [0, 20, 40, 60]
        j = [s["objective"] for s in steps]
        assert j[0] == pytest.approx(sft_j)  # every seed starts at pi_sft
        assert j[-1] > j[0] + 0.3 and all(b > a for a, b in zip(j[:-1], j[1:], strict=True)), (p["id"], j)  # rises at every record
        for key in ("policy_loss", "value_loss", "clipfrac", "approx_kl", "score", "kl_estimate", "kl_to_star"):
            assert key in steps[-1]
    again = Runner(spec, store, tmp_path / "out", None)
    counts = store.counts()
    assert again.run() == run_id and store.counts()["train_steps"] == counts["train_steps"]

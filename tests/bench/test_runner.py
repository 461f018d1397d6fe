"""The whole pipeline on tiny random models and the transformers engine: real data, real SQLite."""

import json

import pytest
from conftest import SCRIPT

from bench.errors import StageError
from bench.generation import make_engine
from bench.runner import Runner
from bench.spec import build_spec, flags_layer


def tiny_spec(tiny_models, *extra):
    return build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
        "eval.prompts=3", "eval.samples=2", "eval.max_new_tokens=6", "bon.n=2", "engine.kind=hf",
        "train.pairs=8", "train.batch_size=4", *extra,
    ], task="tldr", methods="exo,dpo,bon", preset="smoke", model=str(tiny_models["policy"]))])


class CountingEngines:
    def __init__(self, fail_first=0):
        self.calls, self.fail_first = 0, fail_first

    def __call__(self, path):
        self.calls += 1
        if self.calls <= self.fail_first:
            raise RuntimeError("engine could not start (injected)")
        return make_engine("hf", path)


def test_run_rerun_and_report(tiny_models, mini_data, store, tmp_path, monkeypatch):
    from bench import provenance

    revision = {"revision": "a" * 40, "dirty": False}
    monkeypatch.setattr(provenance, "git_revision", lambda path=None: dict(revision))
    spec = tiny_spec(tiny_models)
    engines = CountingEngines()
    first = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=engines)
    run_id = first.run()
    counts = store.counts()
    # sft 3x2 + exo 3x2 + dpo 3x2 + Best-of-N candidates 3x2x2 = 30 generations, + 3 references
    assert counts["generations"] == 30 + 3 + 6  # + the 6 Best-of-N outputs stored as derived rows
    from bench.results import run_results

    rows = {(r["method"], r["opponent"]): r for r in run_results(store, run_id)}
    assert set(rows) == {(m, o) for m in ("sft", "exo", "dpo", "bon") for o in ("sft", "reference")}
    assert rows[("exo", "sft")]["n_total"] + rows[("exo", "sft")]["n_invalid"] == 3 * 2 * 2
    assert rows[("sft", "sft")]["n_total"] == 3 * 2 * 1  # SFT against its own other samples
    assert rows[("bon", "reference")]["n_total"] == 3 * 2
    html = first.report_path.read_text()
    assert "&lt;script&gt;document.title" in html and SCRIPT not in html
    # self-contained, no network; the one script is the table sorter, allowed by its CSP hash alone
    from reports._render import sort_script

    assert html.count("<script") == 1 and sort_script()[1] in html
    assert "<link" not in html and "src=" not in html
    assert "status <span class=\"status-done\">done</span>" in html
    assert html.count("<svg") == 4 and "KL(pi || pi_ref), IS estimate" in html  # training curves drawn

    second = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=engines)
    assert second.run() == run_id
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 1}
    assert engines.calls == 3  # one for SFT and its Best-of-N candidates, exo, dpo; none on the rerun
    assert second.counters == {"judgments_added": 0, "generated": 0, "scored": 0}

    # `bench run` again with the same clean revision and packages: no stage but the report runs
    first.report_path.unlink()
    third = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=engines, reuse_finished=True)
    assert third.run() == run_id and third.counters["reused_run"] == 1
    assert set(third.stages) == {"data", "report"} and third.report_path.exists()
    assert store.counts() == {**counts, "invocations": counts["invocations"] + 2} and engines.calls == 3
    # new code (another revision, or uncommitted changes): every stage is checked again
    for changed in ({"revision": "b" * 40, "dirty": False}, {"revision": "a" * 40, "dirty": True}):
        revision.update(changed)
        fourth = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=engines, reuse_finished=True)
        assert fourth.run() == run_id and "reused_run" not in fourth.counters and "policies" in fourth.stages
    assert engines.calls == 3


def test_failed_stage_keeps_earlier_rows_and_resumes(tiny_models, mini_data, store, tmp_path):
    spec = tiny_spec(tiny_models)
    with pytest.raises(StageError, match="stage 'generation' failed.*rerun the same command"):
        Runner(spec, store, tmp_path / "out", mini_data, engine_factory=CountingEngines(fail_first=1)).run()
    after_failure = store.counts()
    assert after_failure["policies"] >= 4 and after_failure["judges"] == 1
    steps_before = {p["method"]: store.train_steps(p["id"]) for p in store.run_policies(store.latest_run_id())}
    runner = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=CountingEngines())
    run_id = runner.run()
    assert store.run(run_id)["status"] == "done"
    assert [i["status"] for i in store.invocations(run_id)] == ["failed", "done"]
    assert "injected" in store.invocations(run_id)[0]["error"]
    for p in store.run_policies(run_id):  # policies were not trained again
        assert store.train_steps(p["id"]) == steps_before[p["method"]]


def test_reward_model_setting_samples_scores_and_trains(tiny_models, mini_data, store, tmp_path):
    spec = build_spec([flags_layer([
        f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
        "eval.prompts=2", "eval.samples=2", "eval.max_new_tokens=6", "engine.kind=hf", "train.pairs=24",
        "train.batch_size=2", "exo-rw.k=3", "exo-rw.prompts=4", "dpo-rw.k=3", "dpo-rw.prompts=4",
    ], task="tldr", methods="exo-rw,dpo-rw", preset="smoke", model=str(tiny_models["policy"]))])
    runner = Runner(spec, store, tmp_path / "out", mini_data, engine_factory=CountingEngines())
    run_id = runner.run()
    policies = {p["method"]: p for p in store.run_policies(run_id)}
    assert policies["exo-rw"]["setting"] == "reward-model"
    info = json.loads(policies["exo-rw"]["info_json"])
    assert info["pairs"] == 4 and info["completions_per_prompt"] == 3 and info["steps"] == 2
    steps = store.train_steps(policies["exo-rw"]["id"])
    assert len(steps) == 2 and all("reward_margin" in s for s in steps)
    # 4 of the 6 distinct posts in the 24 pairs; their 4 x 3 samples are drawn and scored once for both methods
    base = policies["sft"]["id"]
    plan = json.loads(store.run(run_id)["plan_json"])
    train_samples = [g for g in store.generations(base, plan["sampling_key"]) if g["sample_index"] >= 20_000]
    assert len(train_samples) == 4 * 3
    assert len(store.scores(plan["judges"][0], [g["id"] for g in train_samples])) == 12
    before = store.counts()
    Runner(spec, store, tmp_path / "out", mini_data, engine_factory=CountingEngines()).run()
    assert store.counts() == {**before, "invocations": before["invocations"] + 1}


def test_external_outputs_join_the_run_and_bad_files_name_the_row(tiny_models, mini_data, store, tmp_path):
    from bench.errors import InputError
    from bench.tasks.tldr import TLDR

    prompts = TLDR().load(mini_data, eval_prompts=3).eval_prompts
    good = tmp_path / "system.jsonl"
    good.write_text("".join(json.dumps({"prompt": e.prompt, "output": e.reference}) + "\n" for e in prompts))
    base = [f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
            "eval.prompts=3", "eval.samples=2", "eval.max_new_tokens=6", "engine.kind=hf"]

    def spec(path):
        return build_spec([flags_layer([*base, f"external.path={path}", "external.label=human refs"],
                                       task="tldr", methods="external", preset="smoke",
                                       model=str(tiny_models["policy"]))])

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": prompts[0].prompt, "output": "x"}) + "\n" + '{"prompt": "p"}\n')
    with pytest.raises(InputError, match="bad.jsonl, line 2, field 'output': missing field"):
        Runner(spec(bad), store, tmp_path / "out", mini_data).run()
    run_id = Runner(spec(good), store, tmp_path / "out", mini_data).run()
    from bench.results import run_results

    rows = {(r["method"], r["opponent"]): r for r in run_results(store, run_id)}
    ext = rows[("external", "reference")]
    assert ext["n_total"] == 3 and ext["n_ties"] == 3  # the imported outputs are the references: all ties
    assert rows[("external", "sft")]["n_total"] == 3 * 1 * 2


def test_llm_judge_in_a_run_judges_both_orders_once(tiny_models, mini_data, store, tmp_path, monkeypatch):
    """The LLM judge (a local endpoint preferring the longer summary) joins the run's judges; a rerun
    makes no call."""
    from judge_endpoint import Endpoint

    from bench.results import run_results

    def longer(content):
        a = content.split("Summary A:")[1].split("Summary B:")[0]
        b = content.split("Summary B:")[1].split("FIRST provide")[0]
        return f"Comparison: length.\nPreferred: {'A' if len(a) >= len(b) else 'B'}"

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with Endpoint(longer) as ep:
        spec = build_spec([flags_layer([
            f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
            "eval.prompts=3", "eval.samples=2", "eval.max_new_tokens=6", "bon.n=2", "engine.kind=hf",
            "train.pairs=8", "train.batch_size=4", "llm_judge.enabled=true", f"llm_judge.base_url={ep.base_url}",
            "llm_judge.model=judge-model", "llm_judge.price_prompt=0", "llm_judge.price_completion=0",
        ], task="tldr", methods="exo,dpo,bon", preset="smoke", model=str(tiny_models["policy"]))])
        runner = Runner(spec, store, tmp_path / "out", mini_data)
        run_id = runner.run()
        # 3 prompts x (exo, dpo, bon vs sft + 4 methods vs reference) = 21 pairs, two orders each; the
        # barely trained tiny policies often repeat SFT's text, and a request seen once is not sent again
        assert runner.counters["llm_judgments_added"] == 21
        judge_id = json.loads(store.run(run_id)["plan_json"])["llm_judge"]["id"]
        shown = {(r["prompt_id"], *order) for r in store.judgments_with_texts(judge_id)
                 for order in ((r["text_a"], r["text_b"]), (r["text_b"], r["text_a"]))}
        assert runner.counters["llm_calls"] == len(shown) == ep.requests
        rerun = Runner(spec, store, tmp_path / "out", mini_data)
        assert rerun.run() == run_id
        assert rerun.counters["llm_calls"] == 0 and ep.requests == len(shown)
    rows = {(r["method"], r["opponent"]): r for r in run_results(store, run_id) if r["judge"] == "llm:judge-model"}
    assert rows[("exo", "reference")]["n_total"] + rows[("exo", "reference")]["n_invalid"] == 3
    assert rows[("sft", "sft")]["n_total"] == 0  # one sample per side: SFT has no other sample to meet
    plan = json.loads(store.run(run_id)["plan_json"])
    assert plan["llm_judge"]["template"] == "tldr_v1" and len(plan["llm_judge"]["template_hash"]) == 32
    html = rerun.report_path.read_text()
    assert "LLM judge vs reward model" in html and plan["llm_judge"]["template_hash"] in html


def test_training_on_two_processes_gives_the_policy_of_one(tiny_models, mini_data, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from bench.errors import InputError
    from bench.store import Store

    def spec(*extra):
        return build_spec([flags_layer([
            f"reward_model.backbone={tiny_models['encoder']}", "reward_model.pairs=16", "reward_model.val_pairs=8",
            "eval.prompts=2", "eval.samples=1", "eval.max_new_tokens=4", "engine.kind=hf", "train.pairs=8",
            "train.batch_size=4", "train.lr=1e-3", "train.autocast_bf16=false", *extra,
        ], task="tldr", methods="dpo", preset="smoke", model=str(tiny_models["policy"]))])

    for bad, words in (("0", "at least 1"), ("5", "more processes than groups")):
        with pytest.raises(InputError, match=words) as e:
            spec(f"train.processes={bad}")
        assert e.value.field == "train.processes"
    one, two = spec(), spec("train.processes=2")
    assert "processes" not in one.to_dict()["train"] and two.to_dict()["train"]["processes"] == 2
    assert one.train.identity() == two.train.identity()  # where a policy is trained does not shape it
    policies = {}
    for n, s in ((1, one), (2, two)):
        store = Store(str(tmp_path / f"bench{n}.db"))
        run_id = Runner(s, store, tmp_path / f"out{n}", mini_data, engine_factory=CountingEngines()).run()
        policies[n] = {p["method"]: p for p in store.run_policies(run_id)}["dpo"]
        policies[n]["steps"] = store.train_steps(policies[n]["id"])
        store.close()
    assert policies[1]["id"] == policies[2]["id"] and len(policies[2]["steps"]) == 2
    for a, b in zip(policies[1]["steps"], policies[2]["steps"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5) and b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4)
    w1, w2 = (AutoModelForCausalLM.from_pretrained(policies[n]["path"]).state_dict() for n in (1, 2))
    assert all(torch.allclose(w1[k], w2[k], atol=1e-5) for k in w1)


def test_sizes_beyond_the_data_are_named_and_all_rows_used(tiny_models, mini_data, store, tmp_path, caplog):
    """mini_data has 24 training pairs, and its 12 validation rows give the held-out pairs and eval prompts."""
    spec = build_spec([flags_layer(["train.pairs=1000", "eval.prompts=500", "reward_model.pairs=0"],
                                   task="tldr", methods="sft", preset="smoke", model=str(tiny_models["policy"]))])
    with caplog.at_level("WARNING", logger="bench.runner"):
        _, data = Runner(spec, store, tmp_path / "out", mini_data).load_data()
    assert len(data.train_pairs) == 24
    warned = [r.getMessage() for r in caplog.records]
    assert "train.pairs = 1000, but task tldr has 24 training pairs: all 24 are used" in warned[0]
    assert any(m.startswith(f"eval.prompts = 500, but task tldr has {len(data.eval_prompts)} evaluation") for m in warned)
    assert not any(m.startswith("reward_model.pairs") for m in warned)  # 0 = all: nothing asked beyond the data


def test_reference_logprobs_are_computed_once_and_shared(tiny_models, mini_data, store, tmp_path, monkeypatch):
    """Training takes the reference log-probs as a tensor (``train_pairwise(model, pairs, ref, ...)``), so the
    reference model never runs inside the loop; they are computed once per set of training pairs, shared by
    every method trained on it (exo and dpo here), and read from disk by a later run (train.lr changes the
    policies, not the pairs)."""
    from methods import _train

    calls = []
    real = _train.reference_logps
    monkeypatch.setattr(_train, "reference_logps",
                        lambda model, pairs, *a: calls.append(len(pairs)) or real(model, pairs, *a))
    Runner(tiny_spec(tiny_models), store, tmp_path / "out", mini_data,
           engine_factory=lambda path: make_engine("hf", path)).run()
    assert calls == [8]  # 8 training pairs, one pass for both methods
    policies = store.counts()["policies"]
    Runner(tiny_spec(tiny_models, "train.lr=1e-4"), store, tmp_path / "out", mini_data,
           engine_factory=lambda path: make_engine("hf", path)).run()
    assert store.counts()["policies"] == policies + 2 and calls == [8]  # exo and dpo trained again, from disk

"""The pipeline of ``bench run``: data, model, reward model, policies, generation, judging, report.

Each stage writes content-addressed rows, so rerunning the same spec redoes nothing, and a failed
stage leaves every earlier stage's rows in place: rerunning the command resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import provenance
from bench.config import RunSpec
from bench.errors import BenchError, StageError
from bench.generation import PromptRef, Sampler, SamplingParams, generation_id, make_engine
from bench.hashing import content_key
from bench.store import Store
from bench.tasks import TASKS, Task, TaskData

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, spec: RunSpec, store: Store, out: Path, data_dir: Path | None,
                 engine_factory: Callable[[str], Any] | None = None, argv: list[str] | None = None,
                 reuse_finished: bool = False) -> None:
        self.spec, self.store, self.out, self.data_dir = spec, store, out, data_dir
        self.reuse_finished = reuse_finished
        e = spec.engine
        self.engine_factory = engine_factory or (
            lambda path: make_engine(e.kind, path, dtype=e.dtype, kv_cache_gib=e.kv_cache_gib,
                                     tensor_parallel_size=e.tensor_parallel_size))
        self.argv = argv
        self.stages: dict[str, float] = {}
        self.replicas: dict[str, dict[str, Any]] = {}  # entry -> {replica_of, train_seed} if train.seeds > 1
        self.counters: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.time()
        log.info("stage %s", name)
        try:
            yield
        except BenchError:
            raise
        except Exception as e:
            log.debug("stage %s failed:\n%s", name, traceback.format_exc())
            raise StageError(f"stage {name!r} failed: {type(e).__name__}: {e}. Earlier stages' results are "
                             "kept; fix the cause and rerun the same command to resume.") from e
        finally:
            self.stages[name] = round(time.time() - t0, 3)

    def load_data(self) -> tuple[Task, TaskData]:
        task = TASKS.get(self.spec.task)()
        s = self.spec
        sizes = (s.train.pairs, s.reward_model.pairs)  # 0 = all pairs
        data = task.load(self.data_dir, train_pairs=0 if 0 in sizes else max(sizes),
                         val_pairs=s.reward_model.val_pairs, eval_prompts=s.eval.prompts)
        if task.exact:  # its sizes are exact.*
            return task, data
        asked = (("train.pairs", s.train.pairs, data.train_pairs, "training pairs"),
                 ("reward_model.pairs", s.reward_model.pairs, data.train_pairs, "training pairs"),
                 ("reward_model.val_pairs", s.reward_model.val_pairs, data.val_pairs, "held-out pairs"),
                 ("eval.prompts", s.eval.prompts, data.eval_prompts, "evaluation prompts"))
        for field, n, got, what in asked:
            if 0 < len(got) < n:
                log.warning("%s = %d, but task %s has %d %s: all %d are used (the results' n says so too)",
                            field, n, task.name, len(got), what, len(got))
        return task, data

    def run(self) -> str:
        with self.stage("data"):
            task, data = self.load_data()
        run_id = content_key("run", self.spec.to_dict(), data.fingerprint())
        prov = provenance.collect(self.argv)
        prov.update(seed=self.spec.seed, data={"sources": data.sources, "fingerprint": data.fingerprint(),
                                                "task_version": task.version})
        reused = self.reuse_finished and self._finished_by_same_code(run_id, prov)
        invocation = self.store.begin_run(run_id, self.spec.task, self.spec.to_dict(), prov)
        try:
            if reused:
                log.info("run %s finished before with the same code revision and packages: its stored results "
                         "stand; only the report is rendered again (--recheck runs every stage again)", run_id[:12])
                self.counters.update(generated=0, judgments_added=0, scored=0, llm_calls=0, reused_run=1)
            else:
                self._pipeline(run_id, task, data)
            self.store.finish_run(run_id, invocation, "done", self.stages)
            with self.stage("report"):  # rendered once the run is recorded as done
                from reports import write_run_report

                self.report_path = write_run_report(self.store, run_id, self.out)
        except BaseException as e:
            msg = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
            self.store.finish_run(run_id, invocation, "failed", self.stages, error=msg)
            raise
        self.store.finish_run(run_id, invocation, "done", self.stages)
        return run_id

    def _finished_by_same_code(self, run_id: str, prov: dict[str, Any]) -> bool:
        """True if this run (same spec and data: same id) finished before with this very code: the same
        clean git revision (or, outside a checkout, the same installed version) and the same packages.
        Then every stage would only find its rows in place, so the rerun can skip them."""
        run, git = self.store.run(run_id), prov["git"]
        clean = git.get("revision") is None or git.get("dirty") is False
        if run is None or run["status"] != "done" or not clean:
            return False
        done = [json.loads(i["provenance_json"]) for i in self.store.invocations(run_id) if i["status"] == "done"]
        return bool(done) and all(done[-1].get(k) == prov.get(k) for k in ("git", "packages", "python"))

    def _pipeline(self, run_id: str, task: Task, data: TaskData) -> None:
        if task.exact:
            from bench.exact._pipeline import run_exact

            return run_exact(self, run_id, task)  # type: ignore[arg-type]
        from bench.models import resolve_encoder, resolve_model
        from bench.models._prompting import encode_prompt
        from judges.reward_model import ensure_reward_model
        from methods._context import MethodContext

        spec = self.spec
        with self.stage("model"):
            base = resolve_model(spec.model)
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(base.path))
            prompts = [PromptRef(e.prompt_id, tuple(encode_prompt(tok, task, e.prompt, spec.eval.max_prompt_tokens)))
                       for e in data.eval_prompts]
            self.store.add_run_prompts(run_id, [(e.prompt_id, e.prompt) for e in data.eval_prompts])
        prompt_text = {e.prompt_id: e.prompt for e in data.eval_prompts}
        sampling = SamplingParams(temperature=spec.eval.temperature, top_p=spec.eval.top_p,
                                  max_tokens=spec.eval.max_new_tokens)
        sampler = Sampler(self.store, self.engine_factory, spec.engine.kind, spec.seed, sampling)
        ctx = MethodContext(spec=spec, task=task, data=self._policy_data(data), base=base, store=self.store,
                            sampler=sampler, prompts=prompts, artifacts=self.out / "artifacts",
                            reward_model=lambda: rm)
        with self.stage("task_data"):  # e.g. imdb: pairs sampled from SFT, labelled by the oracle
            try:
                data = task.prepare(ctx, data)
            finally:
                sampler.close()
            ctx.data = self._policy_data(data)
        with self.stage("reward_model"):
            rm = ensure_reward_model(store=self.store, backbone=resolve_encoder(spec.reward_model.backbone),
                                     data=data, spec=spec, seed=spec.seed, artifacts=self.out / "artifacts",
                                     prompt_text=prompt_text, keep_end=task.keep_prompt_end)
        methods = self.methods()
        names = list(methods)
        policies = {}
        with self.stage("policies"):
            for name, method in methods.items():
                seeded = self.replicas.get(name)
                policies[name] = method.policy(ctx.with_seed(seeded["train_seed"]) if seeded else ctx)
                self.store.link_policy(run_id, name, policies[name].id, method.setting)
        reference = self._store_reference(task, data, tok)
        plan = {"sampling_key": sampler.sampling_key, "n_samples": spec.eval.samples,
                "baseline_policy": policies["sft"].id, "reference_policy": reference,
                "methods": [{"method": n, "policy_id": policies[n].id, "setting": methods[n].setting,
                             **self.replicas.get(n, {})} for n in names],
                "judges": [rm.id], "judge_names": {rm.id: "reward_model"},
                "base_model": {"name": base.name, "identity": base.identity},
                "reward_model": {"id": rm.id, "info": rm.info}}
        llm = self._llm_judge(task, plan)
        if getattr(task, "pair_info", None):
            plan["task_pairs"] = task.pair_info
        self.store.set_plan(run_id, plan)
        self._generate_and_judge(ctx, methods, policies, plan, rm, sampler, llm, prompt_text)
        if task.has_oracle:
            with self.stage("frontier"):
                from bench.frontier import Frontier

                plan["frontier"] = Frontier(self, ctx, task, rm).run(methods, policies)
            self.store.set_plan(run_id, plan)

    def _llm_judge(self, task: Task, plan: dict[str, Any]) -> Any:
        """The LLM judge if the spec enables it, entered into the plan with its prompt's hash."""
        spec = self.spec.llm_judge
        if not spec.enabled:
            return None
        import dataclasses

        from judges.llm_pairwise import LLMPairwiseJudge

        judge = LLMPairwiseJudge(self.store, dataclasses.replace(spec, template=spec.template or task.judge_template))
        plan["judges"].append(judge.id)
        plan["judge_names"][judge.id] = judge.name
        plan["judge_samples"] = {judge.id: spec.samples}
        plan["llm_judge"] = {"id": judge.id, "model": spec.model, "base_url": spec.base_url,
                             "template": judge.template.name, "template_hash": judge.template.hash}
        return judge

    def _generate_and_judge(self, ctx: Any, methods: dict[str, Any], policies: dict[str, Any],
                            plan: dict[str, Any], rm: Any, sampler: Sampler, llm: Any,
                            prompt_text: dict[str, str]) -> None:
        prompt_ids = [p.prompt_id for p in ctx.prompts]
        grouped: dict[str, dict[str, list[dict]]] = {}
        # Methods that sample the base policy go first, so they share one engine.
        order = sorted(methods, key=lambda n: policies[n].kind not in ("base", "derived"))
        with self.stage("generation"):
            try:
                for name in order:
                    grouped[name] = methods[name].sample(ctx, policies[name], self.spec.eval.samples)
            finally:
                sampler.close()
        with self.stage("judging"):
            for rows in grouped.values():
                rm.score_generations(rows)
            rm.score_generations({"reference": self.store.generations(plan["reference_policy"], "reference",
                                                                      prompt_ids)})
            from bench.results import judge_with_scores

            self.counters["judgments_added"] = judge_with_scores(self.store, rm, plan, prompt_ids)
        if llm is not None:
            with self.stage("llm_judging"):
                from bench.results import judge_with_llm

                try:
                    self.counters["llm_judgments_added"] = judge_with_llm(self.store, llm, plan, prompt_ids,
                                                                         prompt_text)
                finally:
                    self.counters.update(llm_calls=llm.calls_made, llm_cache_hits=llm.cache_hits,
                                         llm_cost_usd=round(llm.cost_usd, 6))
        self.counters.update(generated=sampler.generated, scored=rm.scored)

    def methods(self) -> dict[str, Any]:
        """The run's methods by name, SFT first: it is every comparison's baseline, so it runs whether or
        not it was asked for."""
        from methods import METHODS

        params = {m.name: m.param_dict() for m in self.spec.methods}
        names = ["sft"] + [n for n in params if n != "sft"]
        built = {n: METHODS.get(n).from_params(params.get(n, {})) for n in names}
        seeds = [self.spec.seed + k for k in range(self.spec.train.seeds)]
        self.replicas = {}
        out = {}
        for name, method in built.items():
            out[name] = method
            if len(seeds) > 1 and method.trains:  # one policy per training seed: name, name@seed2, ...
                for k, seed in enumerate(seeds):
                    entry = name if k == 0 else f"{name}@{seed}"
                    out[entry] = method
                    self.replicas[entry] = {"replica_of": name, "train_seed": seed}
        return out

    def _policy_data(self, data: TaskData) -> TaskData:
        n = self.spec.train.pairs
        pairs = data.train_pairs if n <= 0 else data.train_pairs[:n]
        return TaskData(train_pairs=pairs, val_pairs=data.val_pairs, eval_prompts=data.eval_prompts,
                        sft=data.sft, sources=data.sources)

    def _store_reference(self, task: Task, data: TaskData, tok: Any) -> str:
        """The human-chosen references, stored as the generations of a 'reference' policy."""
        pid = content_key("policy", "reference", task.name, task.version)
        self.store.put_policy({"id": pid, "method": "reference", "kind": "reference", "params_json": "{}",
                               "info_json": json.dumps({"task": task.name, "version": task.version})})
        rows = [{"id": generation_id(pid, e.prompt_id, "reference", 0), "policy_id": pid, "prompt_id": e.prompt_id,
                 "sampling_key": "reference", "sample_index": 0, "text": e.reference,
                 "n_tokens": len(tok(e.reference, add_special_tokens=False).input_ids), "logprob": None,
                 "finish_reason": "reference"} for e in data.eval_prompts]
        self.store.put_generations(rows)
        return pid

"""The LLM judge against a local endpoint that misbehaves on purpose: both orders, retries, refusals,
concurrency, the call cache, and the API key kept out of the database and the errors."""

import dataclasses

import pytest
from judge_endpoint import Endpoint

from bench.config import LLMJudgeSpec
from judges.llm_pairwise import JudgeEndpointError, LLMPairwiseJudge, load_template

KEY = "sk-planted-0123456789abcdef"
PROMPT = "SUBREDDIT: r/test\nPOST: text\nTL;DR:"


def prefers(word):
    """A consistent judge: prefers the summary containing ``word``, whichever order it is shown in."""
    def answer(content):
        first = content.split("Summary A:")[1].split("Summary B:")[0]
        return f"Comparison: one mentions {word}.\nPreferred: {'A' if word in first else 'B'}"
    return answer


def _setup(store, n_pairs=2):
    store.add_prompts([("p", PROMPT)])
    store.put_policy({"id": "P", "method": "m", "kind": "external", "params_json": "{}", "info_json": "{}"})
    texts = {f"g{i}": f"summary {i}" + (" good" if i % 2 == 0 else "") for i in range(2 * n_pairs)}
    store.put_generations([{"id": g, "policy_id": "P", "prompt_id": "p", "sampling_key": "k", "sample_index": i,
                            "text": t, "n_tokens": 2, "logprob": None, "finish_reason": "stop"}
                           for i, (g, t) in enumerate(texts.items())])
    pairs = [("p", f"g{2 * i}", f"g{2 * i + 1}") for i in range(n_pairs)]
    return pairs, texts


def _judge(store, endpoint, **kw):
    spec = LLMJudgeSpec(enabled=True, base_url=endpoint.base_url, model="judge-model", template="tldr_v1",
                        api_key_env="BENCH_TEST_JUDGE_KEY", backoff_s=0.01, timeout_s=1.0, **kw)
    return LLMPairwiseJudge(store, spec)


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("BENCH_TEST_JUDGE_KEY", KEY)


def test_both_orders_and_the_cache(store):
    pairs, texts = _setup(store)
    with Endpoint(prefers("good")) as ep:
        judge = _judge(store, ep)
        assert judge.judge_pairs(pairs, texts, {"p": PROMPT}) == 2
        assert ep.requests == 4  # two orders per pair
        rows = store.judgments(judge.id, _ids(store, judge))
        assert {(r["verdict"], r["verdict_ab"], r["verdict_ba"]) for r in rows} == {("A", "A", "A")}
        rerun = _judge(store, ep)
        assert rerun.judge_pairs(pairs, texts, {"p": PROMPT}) == 0 and ep.requests == 4  # nothing judged again
    assert ep.auth == {f"Bearer {KEY}"}
    calls = store.judge_calls(_call_ids(store, judge))
    assert len(calls) == 4
    assert all(c["prompt_tokens"] == 100 and c["cost_usd"] == pytest.approx((100 * 30 + 10 * 60) / 1e6)
               for c in calls.values())
    assert all(c["rationale"] == "one mentions good." and c["template_hash"] == judge.template.hash
               for c in calls.values())


def _ids(store, judge):
    from bench.results import judgment_id

    return [judgment_id(judge.id, f"g{2 * i}", f"g{2 * i + 1}") for i in range(2)]


def _call_ids(store, judge):
    import json

    return [json.loads(r["detail_json"])[k] for r in store.judgments(judge.id, _ids(store, judge))
            for k in ("call_ab", "call_ba")]


def test_a_position_biased_judge_gives_ties_and_garbage_is_invalid(store):
    pairs, texts = _setup(store)
    with Endpoint(lambda content: "Comparison: first.\nPreferred: A") as ep:
        judge = _judge(store, ep)
        judge.judge_pairs(pairs[:1], texts, {"p": PROMPT})
    with Endpoint(lambda content: "I cannot decide.") as ep:
        garbage = _judge(store, ep, max_tokens=100)  # another judge identity, so no cache hit
        garbage.judge_pairs(pairs[1:], texts, {"p": PROMPT})
    (biased,) = store.judgments(judge.id, _ids(store, judge)[:1])
    assert (biased["verdict"], biased["verdict_ab"], biased["verdict_ba"]) == ("tie", "A", "B")
    (bad,) = store.judgments(garbage.id, [_ids(store, garbage)[1]])
    assert bad["verdict"] == "invalid"


def test_retries_on_429_5xx_and_timeouts(store):
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good"), faults=["429", "500", "timeout", "503"], hang_s=3.0) as ep:
        judge = _judge(store, ep, concurrency=1, max_retries=4)
        assert judge.judge_pairs(pairs, texts, {"p": PROMPT}) == 1
        assert ep.requests == 6  # 4 faults, then both orders answered
    attempts = sorted(c["attempts"] for c in store.judge_calls(_call_ids_one(store, judge)).values())
    assert attempts == [1, 5]


def test_malformed_answers_are_retried_then_named(store):
    """A 200 whose body is no chat completion (a proxy's HTML page, a cut-off body, another service's JSON) is
    retried like a 5xx; if it persists, the error says what came back."""
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good"), faults=["html", "truncated", "foreign"]) as ep:
        judge = _judge(store, ep, concurrency=1, max_retries=3)
        assert judge.judge_pairs(pairs, texts, {"p": PROMPT}) == 1
        assert ep.requests == 5
    attempts = sorted(c["attempts"] for c in store.judge_calls(_call_ids_one(store, judge)).values())
    assert attempts == [1, 4]
    cases = (("html", "not a chat completion"), ("truncated", "not JSON"), ("foreign", "not a chat completion"))
    for i, (fault, what) in enumerate(cases):
        with Endpoint(prefers("good"), faults=[fault] * 3) as ep:
            other = _judge(store, ep, concurrency=1, max_retries=2, max_tokens=100 + i)  # a new judge: no cache hit
            with pytest.raises(JudgeEndpointError, match=rf"a malformed response \({what}\) after 3 attempts"):
                other.judge_pairs(pairs, texts, {"p": PROMPT})


def _call_ids_one(store, judge):
    import json

    from bench.results import judgment_id

    (row,) = store.judgments(judge.id, [judgment_id(judge.id, "g0", "g1")])
    return [json.loads(row["detail_json"])[k] for k in ("call_ab", "call_ba")]


def test_giving_up_keeps_the_answers_received(store):
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good"), faults=["ok", "500", "500", "500"]) as ep:
        judge = _judge(store, ep, concurrency=1, max_retries=2)
        with pytest.raises(JudgeEndpointError, match="HTTP 500 after 3 attempts") as e:
            judge.judge_pairs(pairs, texts, {"p": PROMPT})
        assert KEY not in str(e.value)
        assert judge.calls_made == 1 and store.counts()["judge_calls"] == 1  # the first order is kept
        resumed = _judge(store, ep, concurrency=1, max_retries=2)
        assert resumed.judge_pairs(pairs, texts, {"p": PROMPT}) == 1
        assert resumed.calls_made == 1 and resumed.cache_hits == 1  # only the missing order is asked again


def test_unauthorized_is_fatal_and_names_no_key(store):
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good"), faults=["401"]) as ep:
        with pytest.raises(JudgeEndpointError, match="HTTP 401; check the API key") as e:
            _judge(store, ep, concurrency=1).judge_pairs(pairs, texts, {"p": PROMPT})
        assert ep.requests == 1 and KEY not in str(e.value)


def test_a_refused_request_is_an_invalid_verdict(store):
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good"), faults=["400"]) as ep:
        judge = _judge(store, ep, concurrency=1)
        judge.judge_pairs(pairs, texts, {"p": PROMPT})
    (row,) = store.judgments(judge.id, _ids(store, judge)[:1])
    assert (row["verdict"], row["verdict_ab"]) == ("invalid", "invalid")
    assert "refused: HTTP 400" in {c["response_text"] for c in store.judge_calls(_call_ids_one(store, judge)).values()}


def test_concurrency_limit(store):
    pairs, texts = _setup(store, n_pairs=8)
    with Endpoint(prefers("good"), delay_s=0.2) as ep:
        _judge(store, ep, concurrency=3).judge_pairs(pairs, texts, {"p": PROMPT})
        assert ep.requests == 16 and ep.max_in_flight == 3


def test_the_key_never_reaches_the_database(store, tmp_path):
    pairs, texts = _setup(store)
    with Endpoint(prefers("good")) as ep:
        judge = _judge(store, ep)
        judge.judge_pairs(pairs, texts, {"p": PROMPT})
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bench.db*"))
    assert KEY.encode() not in raw and b"BENCH_TEST_JUDGE_KEY" in raw  # the variable's name is kept


def test_missing_key_for_a_remote_endpoint(store, monkeypatch):
    from bench.errors import BenchError

    monkeypatch.delenv("BENCH_TEST_JUDGE_KEY")
    pairs, texts = _setup(store, n_pairs=1)
    spec = LLMJudgeSpec(base_url="https://judge.invalid/v1", api_key_env="BENCH_TEST_JUDGE_KEY")
    with pytest.raises(BenchError, match="set the environment variable BENCH_TEST_JUDGE_KEY"):
        LLMPairwiseJudge(store, dataclasses.replace(spec, template="tldr_v1")).judge_pairs(
            pairs, texts, {"p": PROMPT})


def test_templates_render_and_parse():
    t = load_template("tldr_v1")
    content = t.render("post {first}", "one {second}", "two")[0]["content"]
    assert "Post:\npost {first}" in content and "Summary A:\none {second}" in content
    assert t.parse("Comparison: A is tighter.\nPreferred: A") == ("first", "A is tighter.")
    assert t.parse('Comparison: x\n**Preferred:** "B"')[0] == "second"
    assert t.parse("Preferred: C")[0] == "invalid"
    assert load_template("hh_v1").parse("Comparison: y\nMore helpful: B") == ("second", "y")


def test_constrained_answers_send_the_response_pattern(store):
    pairs, texts = _setup(store, n_pairs=1)
    with Endpoint(prefers("good")) as ep:
        plain = _judge(store, ep)
        constrained = _judge(store, ep, constrain=True)
        assert constrained.id != plain.id  # a different judge: its answers are forced into a shape
        constrained.judge_pairs(pairs, texts, {"p": PROMPT})
    assert {b["structured_outputs"]["regex"] for b in ep.bodies} == {load_template("tldr_v1").response}

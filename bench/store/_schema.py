"""Tables of the results store. Content-addressed primary keys make every write idempotent."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 3
metadata = MetaData()

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),  # hash of the spec and the data identity
    Column("task", String(64), nullable=False),
    Column("spec_json", Text, nullable=False),
    Column("plan_json", Text),  # what the results are read from: sampling key, judge, policies
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

invocations = Table(
    "invocations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False, index=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("status", String(16), nullable=False),
    Column("provenance_json", Text, nullable=False),
    Column("stages_json", Text),  # seconds per stage
    Column("error", Text),
)

prompts = Table(
    "prompts", metadata,
    Column("id", String(32), primary_key=True),  # hash of the prompt text
    Column("text", Text, nullable=False),
)

run_prompts = Table(
    "run_prompts", metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("prompt_id", String(32), ForeignKey("prompts.id"), primary_key=True),
    Column("position", Integer, nullable=False),
)

policies = Table(
    "policies", metadata,
    Column("id", String(32), primary_key=True),  # hash of method, params, base model, data, seed
    Column("method", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # base | trained | derived | reference | external
    Column("params_json", Text, nullable=False),
    Column("path", Text),  # weights on disk, if any
    Column("info_json", Text, nullable=False),  # training seconds, final metrics, ...
    Column("created_at", Float, nullable=False),
)

run_policies = Table(
    "run_policies", metadata,
    Column("run_id", String(32), ForeignKey("runs.id"), primary_key=True),
    Column("method", String(64), primary_key=True),
    Column("policy_id", String(32), ForeignKey("policies.id"), nullable=False),
    Column("setting", String(32), nullable=False),  # table group: baseline | preference | reward-model
)

train_steps = Table(
    "train_steps", metadata,
    Column("policy_id", String(32), ForeignKey("policies.id"), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("metrics_json", Text, nullable=False),
)

# Measurements of a policy at a training step (or of the final policy): exact metrics on the exact task,
# estimates with their standard error and n elsewhere. Added in schema version 2.
metrics = Table(
    "metrics", metadata,
    Column("policy_id", String(32), ForeignKey("policies.id"), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
    Column("stderr", Float),  # None for exact values
    Column("n", Integer),  # sample size behind an estimate; None for exact values
)

generations = Table(
    "generations", metadata,
    Column("id", String(32), primary_key=True),  # hash of policy, prompt, sampling, sample index
    Column("policy_id", String(32), ForeignKey("policies.id"), nullable=False),
    Column("prompt_id", String(32), ForeignKey("prompts.id"), nullable=False),
    Column("sampling_key", String(32), nullable=False),
    Column("sample_index", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("n_tokens", Integer, nullable=False),
    Column("logprob", Float),  # sum of the sampled tokens' log-probs under the policy (temperature 1)
    Column("finish_reason", String(16)),
    Column("source_id", String(32)),  # for derived outputs (Best-of-N): the candidate picked
    Column("created_at", Float, nullable=False),
    Index("ix_generations_lookup", "policy_id", "sampling_key", "prompt_id"),
)

judges = Table(
    "judges", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),  # reward_model | llm | human
    Column("name", String(64), nullable=False),
    Column("config_json", Text, nullable=False),  # enough to rebuild the judge
    Column("path", Text),
    Column("info_json", Text, nullable=False),  # e.g. held-out accuracy
    Column("created_at", Float, nullable=False),
)

scores = Table(
    "scores", metadata,
    Column("judge_id", String(32), ForeignKey("judges.id"), primary_key=True),
    Column("generation_id", String(32), ForeignKey("generations.id"), primary_key=True),
    Column("score", Float),
)

judgments = Table(
    "judgments", metadata,
    Column("id", String(32), primary_key=True),  # hash of judge, the two generations (in order)
    Column("judge_id", String(32), ForeignKey("judges.id"), nullable=False),
    Column("prompt_id", String(32), ForeignKey("prompts.id"), nullable=False),
    Column("gen_a", String(32), ForeignKey("generations.id"), nullable=False),
    Column("gen_b", String(32), ForeignKey("generations.id"), nullable=False),
    Column("verdict", String(8), nullable=False),  # A | B | tie | invalid: the pair's outcome
    Column("detail_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # Added in schema version 3. A judge that sees both orders stores each order's verdict, in the pair's
    # own terms (A = gen_a preferred): ``verdict_ab`` with gen_a shown first, ``verdict_ba`` with gen_b
    # first. Imported human labels name their annotator (one row per annotator and pair).
    Column("verdict_ab", String(8)),
    Column("verdict_ba", String(8)),
    Column("annotator", String(64)),
    Index("ix_judgments_pair", "judge_id", "gen_a", "gen_b"),
)

# One request to an LLM judge and its answer, keyed by the hash of everything that determines the answer
# (model, rendered messages, sampling settings): a rerun, or another run showing the judge the same texts,
# finds it here and makes no call. Added in schema version 3.
judge_calls = Table(
    "judge_calls", metadata,
    Column("id", String(32), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("template_hash", String(32), nullable=False),
    Column("response_text", Text, nullable=False),
    Column("verdict", String(8), nullable=False),  # first | second | tie | invalid (presentation order)
    Column("rationale", Text),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("latency_s", Float),
    Column("cost_usd", Float),
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)

"""Models: the embedded default, local checkpoints, hub ids; tiny random models for tests."""

from bench.models._resolve import EMBEDDED, ModelRef, cache_dir, resolve_encoder, resolve_model

__all__ = ["EMBEDDED", "ModelRef", "cache_dir", "resolve_encoder", "resolve_model"]

"""bench: compare alignment methods on the same base model, data, budget and judges."""

from bench._registry import Registry
from bench.errors import BenchError, InputError, UnknownNameError

__all__ = ["BenchError", "InputError", "Registry", "UnknownNameError"]

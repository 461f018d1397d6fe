"""The exact task's machinery: tabular and factorised policy classes trained with the methods' own losses,
and metrics computed exactly over the enumerated output space."""

from bench.exact._metrics import LABELS, METRICS, best_of_n_logp, evaluate, expected_reward, kl

__all__ = ["LABELS", "METRICS", "best_of_n_logp", "evaluate", "expected_reward", "kl"]

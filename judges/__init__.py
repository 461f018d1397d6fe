"""Judges: the reward-model judge (more in later issues), all writing the same judgment rows."""

from bench._registry import Registry

JUDGES: Registry[object] = Registry("judge", entry_point_group="bench.judges")
JUDGES.register("reward_model", "judges.reward_model:RewardModelJudge")

__all__ = ["JUDGES"]

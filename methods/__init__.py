"""Alignment methods, registered by name. Third parties register through the ``bench.methods``
entry-point group, or with ``METHODS.register(name, "module:Class")``."""

from bench._registry import Registry
from methods._base import (
    DATA,
    DATA_RELABELLED,
    PAIR_SOURCES,
    POLICY_REWARD,
    POLICY_SELF,
    LossInputs,
    Method,
    NoParams,
    PairwiseMethod,
    RewardModelMethod,
)

METHODS: Registry[type[Method]] = Registry("method", entry_point_group="bench.methods")
METHODS.register("sft", "methods.builtin:SFT")
METHODS.register("dpo", "methods.builtin:DPO")
METHODS.register("exo", "methods.builtin:EXO")
METHODS.register("bon", "methods.builtin:BestOfN")
METHODS.register("ipo", "methods.ipo:IPO")
METHODS.register("dpo-rw", "methods.builtin:DPORewardModel")
METHODS.register("exo-rw", "methods.builtin:EXORewardModel")
METHODS.register("external", "methods.external:External")
METHODS.register("ppo", "methods.ppo:PPO")
METHODS.register("slic", "methods.slic:SLiCHF")
METHODS.register("mpo", "methods.mpo:MPO")
METHODS.register("sail", "methods.iterative:SAIL")

__all__ = ["DATA", "DATA_RELABELLED", "METHODS", "PAIR_SOURCES", "POLICY_REWARD", "POLICY_SELF", "LossInputs", "Method",
           "NoParams", "PairwiseMethod", "RewardModelMethod"]

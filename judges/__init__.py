"""Judges: the reward-model judge, the LLM pairwise judge (both orders, any OpenAI-compatible endpoint) and
imported annotations, all writing the same judgment rows; plus agreement between any two of them."""

from bench._registry import Registry
from judges._agreement import agreement, pair_views
from judges._import import import_annotations
from judges._summary import compare_judges, judge_summary, resolve_judge
from judges._verdicts import VERDICTS, combine_orders, majority

JUDGES: Registry[object] = Registry("judge", entry_point_group="bench.judges")
JUDGES.register("reward_model", "judges.reward_model:RewardModelJudge")
JUDGES.register("llm", "judges.llm_pairwise:LLMPairwiseJudge")

__all__ = ["JUDGES", "VERDICTS", "agreement", "combine_orders", "compare_judges", "import_annotations",
           "judge_summary", "majority", "pair_views", "resolve_judge"]

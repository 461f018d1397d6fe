"""The LLM pairwise judge (both orders, any OpenAI-compatible endpoint) and a local vLLM judge server."""

from judges.llm_pairwise._client import CallSettings, JudgeEndpointError, Reply, call_all
from judges.llm_pairwise._judge import LLMPairwiseJudge
from judges.llm_pairwise._serve import LocalServer, local_server, serve_forever
from judges.llm_pairwise._templates import Template, load_template

__all__ = ["CallSettings", "JudgeEndpointError", "LLMPairwiseJudge", "LocalServer", "Reply", "Template",
           "call_all", "load_template", "local_server", "serve_forever"]

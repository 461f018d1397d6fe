"""An engine on transformers' ``generate``: the fallback, and the engine of the unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.generation._types import Request, Sample, SamplingParams


class HFEngine:
    kind = "hf"

    def __init__(self, model_path: str, dtype: str = "float32") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
        self.model.eval()
        self.eos = self.tokenizer.eos_token_id

    @classmethod
    def wrap(cls, model: Any, tokenizer: Any) -> HFEngine:
        """An engine over a model already in memory (e.g. a policy being trained by PPO), sampled as it is."""
        engine = cls.__new__(cls)
        engine.model, engine.tokenizer, engine.eos = model, tokenizer, tokenizer.eos_token_id
        return engine

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Sample]:
        return [self._one(r, params) for r in requests]

    def _one(self, request: Request, params: SamplingParams) -> Sample:
        import torch

        ids = torch.tensor([list(request.prompt_ids)])
        torch.manual_seed(request.seed)
        with torch.no_grad():
            out = self.model.generate(
                ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=params.temperature,
                top_p=params.top_p, top_k=0, max_new_tokens=params.max_tokens, eos_token_id=self.eos,
                pad_token_id=self.eos, output_logits=True, return_dict_in_generate=True,
            )
        new = out.sequences[0, ids.shape[1]:].tolist()
        finish = "length"
        if self.eos in new:
            new = new[: new.index(self.eos) + 1]
            finish = "stop"
        logits = torch.stack(out.logits[: len(new)], dim=1)[0].float()  # raw logits: temperature 1
        logprob = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(new)[:, None]).sum().item()
        text_ids = new[:-1] if finish == "stop" else new
        return Sample(text=self.tokenizer.decode(text_ids, skip_special_tokens=True), n_tokens=len(new),
                      logprob=logprob, finish_reason=finish, token_ids=tuple(new))

    def close(self) -> None:
        del self.model

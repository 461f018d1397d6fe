"""The exact task: a toy alignment problem whose whole output space can be enumerated.

Each prompt's outputs are the ``VOCAB ** LENGTH`` sequences of ``LENGTH`` tokens over ``VOCAB`` symbols
(6 ** 3 = 216). The SFT policy is fixed: a product of per-position categoricals (an autoregressive model
whose next-token distribution sees the prompt and the position, not the earlier tokens). The reward has
two equally high modes per prompt, two sequences that differ in every position:

    r(x, y) = SCALE * max_j (matches(y, m_j(x)) / LENGTH) ** POWER

so the optimal policy pi*(y|x) ∝ pi_sft(y|x) exp(r(x, y) / beta) is bimodal and correlated across
positions: a policy class that factorises over positions cannot represent it. Preference pairs are drawn
from pi_sft and labelled by the Bradley–Terry model of r: P(y1 ≻ y2) = sigmoid(r(y1) - r(y2)).

Everything is generated in code from fixed constants (part of the task's version): no data files.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from bench.exact._metrics import log_normalize
from bench.hashing import content_key
from bench.tasks._base import EvalPrompt, Task, TaskData

PROMPTS, VOCAB, LENGTH = 4, 6, 3
SCALE, POWER = 4.0, 3
SFT_LOGIT_SCALE = 0.7
SEED = 1234
SYMBOLS = "abcdef"


@dataclass(frozen=True)
class ExactProblem:
    """The enumerated problem. Arrays are float64 numpy; ``outputs[i]`` is the i-th sequence."""

    outputs: np.ndarray  # [N, LENGTH] token ids
    sft_logits: np.ndarray  # [PROMPTS, LENGTH, VOCAB] per-position logits of pi_sft
    reward: np.ndarray  # [PROMPTS, N]
    modes: np.ndarray  # [PROMPTS, 2, LENGTH]
    beta: float

    @property
    def n_prompts(self) -> int:
        return int(self.reward.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.outputs.shape[0])

    def sft_logp(self) -> np.ndarray:
        """log pi_sft(y|x) for every prompt and output: [PROMPTS, N]."""
        return factorized_logp(self.sft_logits, self.outputs)

    def star_logp(self, beta: float | None = None) -> np.ndarray:
        """log pi*(y|x) ∝ log pi_sft + r / beta, normalised per prompt."""
        return log_normalize(self.sft_logp() + self.reward / (beta or self.beta))

    def text(self, index: int) -> str:
        return " ".join(SYMBOLS[t] for t in self.outputs[index])

    def identity(self) -> str:
        return content_key(self.outputs.tolist(), np.round(self.sft_logits, 12).tolist(),
                           np.round(self.reward, 12).tolist(), self.beta)


def factorized_logp(logits: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    logp = log_normalize(logits)
    return sum(logp[:, t, outputs[:, t]] for t in range(outputs.shape[1]))


def build_problem(beta: float) -> ExactProblem:
    rng = np.random.default_rng(SEED)
    outputs = np.array(list(itertools.product(range(VOCAB), repeat=LENGTH)), dtype=np.int64)
    sft_logits = rng.standard_normal((PROMPTS, LENGTH, VOCAB)) * SFT_LOGIT_SCALE
    modes = np.zeros((PROMPTS, 2, LENGTH), dtype=np.int64)
    reward = np.zeros((PROMPTS, len(outputs)))
    for p in range(PROMPTS):
        modes[p, 0] = rng.permutation(VOCAB)[:LENGTH]
        # The second mode differs from the first in every position.
        modes[p, 1] = [(m + 1 + rng.integers(VOCAB - 1)) % VOCAB for m in modes[p, 0]]
        matches = (outputs[None, :, :] == modes[p][:, None, :]).mean(axis=-1)  # [2, N]
        reward[p] = SCALE * (matches ** POWER).max(axis=0)
    return ExactProblem(outputs=outputs, sft_logits=sft_logits, reward=reward, modes=modes, beta=beta)


class Exact(Task):
    name = "exact"
    version = "1"
    description = (f"Enumerable toy task: {PROMPTS} prompts, outputs are {LENGTH} tokens over {VOCAB} symbols "
                   f"({VOCAB ** LENGTH} per prompt); known bimodal reward; metrics computed exactly")
    instruction = "{prompt}"
    default_beta = 0.5
    # r is on the Bradley-Terry scale of the preference labels, so beta_r = 1 and beta_pi = beta make the
    # reward-model losses target the same pi* as DPO with beta (their optimum is pi_sft exp(r / (beta_pi beta_r))).
    default_params: ClassVar[dict[str, float]] = {"beta_r": 1.0}
    exact: ClassVar[bool] = True
    outputs_per_prompt: ClassVar[int | None] = VOCAB ** LENGTH

    def problem(self) -> ExactProblem:
        return build_problem(self.default_beta)

    def load_splits(self, data_dir: Path | None) -> TaskData:
        problem = self.problem()
        prompts = []
        for p in range(PROMPTS):
            best = int(np.argmax(problem.star_logp()[p]))
            prompts.append(EvalPrompt(prompt=f"exact prompt {p}", reference=problem.text(best)))
        return TaskData(train_pairs=(), val_pairs=(), eval_prompts=tuple(prompts), sft=(),
                        sources={"exact": f"generated in code (version {self.version}, "
                                          f"problem {problem.identity()[:16]})"})

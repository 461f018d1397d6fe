"""Online iterative alignment (after SAIL, Ding et al. 2024, arXiv 2406.15567) as a wrapper around any
pairwise method, written only against the public plug-in API.

``--set exo.rounds=3`` (any pairwise method) or ``--methods sail`` (DPO, 3 rounds). Round 1 trains the
method on the task's preference pairs, as offline training does. Each later round:

1. samples ``k`` completions per training prompt from the *current* policy (``ctx.training_samples``);
2. labels them: ``label=reward`` scores them with the reward model, ``label=self`` with the policy's
   implicit reward beta * log(pi / pi_ref) (SAIL's reward-policy equivalence, no reward model queried);
3. draws a preference between two of the completions from the Bradley–Terry model of those scores,
   P(a > b) = sigmoid(s_a - s_b) (the reward model is a Bradley–Terry model; on the exact task the reward
   is on that scale);
4. trains the method on these pairs starting from the current policy (``ctx.train_pairwise(...,
   init=policy)``). The reference policy stays pi_sft, so every round targets the same KL-regularised
   optimum.

``offline`` (``--set exo.offline=0.4``) replaces that share of a later round's pairs, at random places,
by the task's own preference pairs (on the exact task: pairs drawn from pi_sft with Bradley–Terry labels,
as offline training draws them), so a round mixes offline and online data at a fixed budget. ``relabel``
replaces a further share by task pairs whose label the training loop redraws at every step from the
policy's own preference (SAIL's DDP). ``label=both`` labels each sampled pair by the reward model or by the
policy at even odds. Every pair carries its source (``LossInputs.sources``).

Against SAIL. The paper's equations were not readable here (only its abstract and summaries); the authors'
released trainer was, through third-party copies (``cdpo/cdpo_trainer.py``, a plug-in to a DPO trainer;
read again in session 10). There, at every step, each example is routed at random with shares r / p / g /
rest to: a dataset pair relabelled by the policy (DDP: chosen and rejected swapped with probability
1 - sigmoid(beta * margin)); two samples of the current policy labelled by that implicit preference when
they are generated (DPP); two samples labelled by a reward model, the higher score chosen (DPR); or the plain
dataset pair. The DPO loss -l (l = log sigmoid(beta * margin)) gets -rho * l^2 / 2 on DDP and -pi * l^2 / 2
on DPP pairs, and gradient hooks on the sequence log-probabilities subtract pi * l / log pi(y) (DPP) or
gamma * l / log pi(y) (DPR) from their gradients. The example configuration: shares 0.4 / 0.3 / 0.3 / 0,
weights rho 0.2, pi 0.2, gamma 0.3, beta 0.1.

bench implements all four routes and the three terms (``SAIL`` with ``rho``, ``pi``, ``gamma``;
``methods.losses.sail_dpo``, its gradient tested against the hooks), with these departures, all from the
round-based loop: (1) samples are drawn once per round from the round's starting policy (SAIL generates
in batches during training and reuses each sample a few times), and DPP labels are drawn then; (2) routes
are fixed per pair for a round instead of redrawn at every step (the shares are exact, not expected);
(3) DPR labels are a Bradley–Terry draw on the reward model's scores (the trainer takes the higher score);
(4) round 1 is plain offline training on the task's pairs; (5) the hook terms are weighted per pair inside
the batch mean, while the trainer's hooks act on the mean loss's gradient without the 1 / batch factor, so
its gamma equals bench's gamma divided by the per-device batch size (times gradient-accumulation steps).
With self-labels and the DPO loss, Bradley–Terry labels drawn from the policy's own implicit reward are a
fixed point of DPO in expectation, so self-labelled and relabelled pairs move a DPO policy little without
the extra terms; measured on the exact task, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from methods import POLICY_REWARD, POLICY_SELF, LossInputs
from methods.builtin import DPO


def preference_labels(scores: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chosen and rejected column per row: the first two of the K completions, ordered by a Bradley–Terry
    draw on their scores, P(column 0 preferred) = sigmoid(s_0 - s_1)."""
    p_first = 1.0 / (1.0 + np.exp(-(scores[:, 0] - scores[:, 1])))
    first = rng.random(len(scores)) < p_first
    return np.where(first, 0, 1), np.where(first, 1, 0)


def _scores(ctx: Any, method: Any, policy: Any, samples: Any, label: str) -> np.ndarray:
    if label == "reward":
        return np.asarray(ctx.reward(samples), dtype=np.float64)
    return method.implicit_beta() * np.asarray(ctx.logratios(policy, samples), dtype=np.float64)


def labelled_pairs(ctx: Any, method: Any, policy: Any, samples: Any, r: int) -> Any:
    """A round's samples as preference pairs, each tagged with its labeller (``policy-self`` or
    ``policy-reward``); with ``label=both`` each pair's labeller is drawn at even odds."""
    label = method.online.label
    if label == "both":
        by_reward, by_self = (_scores(ctx, method, policy, samples, x) for x in ("reward", "self"))
        is_self = np.random.default_rng([int(ctx.seed), r, 0xB07]).random(len(by_reward)) < 0.5
        scores = np.where(is_self[:, None], by_self, by_reward)
    else:
        scores = _scores(ctx, method, policy, samples, label)
        is_self = np.full(len(scores), label == "self")
    chosen, rejected = preference_labels(scores, np.random.default_rng([int(ctx.seed), r]))
    return ctx.preference_pairs(samples, chosen, rejected, np.where(is_self, POLICY_SELF, POLICY_REWARD))


def train_online(ctx: Any, method: Any) -> Any:
    """Train ``method`` for ``method.online.rounds`` rounds; returns the last round's policy."""
    online = method.online
    policy = ctx.train_pairwise(method)
    for r in range(2, online.rounds + 1):
        samples = ctx.training_samples(policy, online.k, r)
        pairs = labelled_pairs(ctx, method, policy, samples, r)
        key: tuple = ("online round", r, online.label, online.k)
        if online.offline > 0 or online.relabel > 0:
            pairs = ctx.mixed_pairs(pairs, online.offline, r, relabel=online.relabel)
            key = (*key, "offline share", online.offline, *(("relabel share", online.relabel) if online.relabel else ()))
        policy = ctx.train_pairwise(method, groups=pairs, init=policy, key=key)
    return policy


class SAIL(DPO):
    """DPO trained online for 3 rounds with reward-model labels (see the module docstring); any other
    pairwise method runs the same loop with ``--set <method>.rounds=N``. ``rho``, ``pi`` and ``gamma`` weigh
    SAIL's extra terms for relabelled data pairs (DDP), self-labelled samples (DPP) and reward-labelled
    samples (DPR) (``methods.losses.sail_dpo``); all 0 (the default): the DPO loss."""

    name = "sail"
    online_defaults = {"rounds": 3, "label": "reward", "k": 2}

    @dataclass(frozen=True)
    class Params:
        beta: float | None = None  # None: the task's default
        rho: float = 0.0  # DDP's extra term
        pi: float = 0.0  # DPP's extra terms
        gamma: float = 0.0  # DPR's extra term

    def group_loss(self, inputs: LossInputs):
        from methods.losses import sail_dpo

        p = self.params
        return sail_dpo(inputs.logratios, inputs.logps, inputs.sources, p.beta, p.rho, p.pi, p.gamma)

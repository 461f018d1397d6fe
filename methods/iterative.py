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
as offline training draws them), so a round mixes offline and online data at a fixed budget.

What this is and is not, against SAIL. The paper's equations were not readable here (only its abstract
and summaries); the authors' released code was, through third-party copies of it (``cdpo/cdpo_trainer.py``,
a plug-in to a DPO trainer). There each training example is routed at random to one of four kinds: a
dataset pair relabelled by the policy's own implicit preference (DDP), two samples of the current policy
labelled by that implicit preference (DPP) or by a reward model (DPR), or a plain dataset pair; the
example configuration uses shares 0.4 / 0.3 / 0.3 / 0 with beta 0.1. The DPO loss gets extra terms with
weights (0.2 / 0.2 / 0.3 in that configuration) that account for the labels and samples depending on the
policy: for DDP the loss -l - rho * l^2 / 2 with l = log sigmoid(beta * margin) (its gradient adds the
score-function term of labels drawn from the policy's own Bradley–Terry model); for DPP and DPR gradient
hooks on the sequence log-probabilities. Read again in session 9 (a third-party copy of that file): a DDP
pair is relabelled at every step, its chosen and rejected swapped with probability 1 - sigmoid(beta *
margin); DPP pairs get -pi * l^2 / 2 as well; and the hooks subtract pi * l / log pi(y) (DPP) or
gamma * l / log pi(y) (DPR), with l and log pi(y) detached, from the gradient of each sequence log-prob. This wrapper keeps the outer loop for any pairwise loss: its ``label=reward`` is
DPR's labelling, ``label=self`` DPP's, and ``offline`` mixes plain dataset pairs. It does not relabel
dataset pairs (DDP), it labels a round's samples once with the round's starting policy rather than on the
fly, and it adds no extra gradient term (they are written for the DPO loss and for on-the-fly labels).
With self-labels and the DPO loss, Bradley–Terry labels drawn from the policy's own implicit reward are a
fixed point of DPO in expectation, so self-labelled rounds should move a DPO policy little; that is a
property of the reading, measured on the exact task, not hidden.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from methods.builtin import DPO


def preference_labels(scores: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chosen and rejected column per row: the first two of the K completions, ordered by a Bradley–Terry
    draw on their scores, P(column 0 preferred) = sigmoid(s_0 - s_1)."""
    p_first = 1.0 / (1.0 + np.exp(-(scores[:, 0] - scores[:, 1])))
    first = rng.random(len(scores)) < p_first
    return np.where(first, 0, 1), np.where(first, 1, 0)


def train_online(ctx: Any, method: Any) -> Any:
    """Train ``method`` for ``method.online.rounds`` rounds; returns the last round's policy."""
    online = method.online
    policy = ctx.train_pairwise(method)
    for r in range(2, online.rounds + 1):
        samples = ctx.training_samples(policy, online.k, r)
        if online.label == "reward":
            scores = np.asarray(ctx.reward(samples), dtype=np.float64)
        else:
            scores = method.implicit_beta() * np.asarray(ctx.logratios(policy, samples), dtype=np.float64)
        rng = np.random.default_rng([int(ctx.seed), r])
        chosen, rejected = preference_labels(scores, rng)
        pairs = ctx.preference_pairs(samples, chosen, rejected)
        key: tuple = ("online round", r, online.label, online.k)
        if online.offline > 0:
            pairs = ctx.mixed_pairs(pairs, online.offline, r)
            key = (*key, "offline share", online.offline)
        policy = ctx.train_pairwise(method, groups=pairs, init=policy, key=key)
    return policy


class SAIL(DPO):
    """DPO trained online for 3 rounds with reward-model labels (see the module docstring); any other
    pairwise method runs the same loop with ``--set <method>.rounds=N``."""

    name = "sail"
    online_defaults = {"rounds": 3, "label": "reward", "k": 2}

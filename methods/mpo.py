"""MPO (Maximum Preference Optimization), written only against the public plug-in API."""

from dataclasses import dataclass

from methods import LossInputs, PairwiseMethod


class MPO(PairwiseMethod):
    """Maximum Preference Optimization (Jiang, Huang and Wei 2023, "Preference as Reward, Maximum Preference
    Optimization with Importance Sampling", arXiv 2312.16430).

    What the readable sources state (the abstract and a summary; the paper body was not readable here):
    the preference itself is the reward; the objective is maximised off-policy through importance
    sampling; an off-policy KL regulariser (a forward KL implemented with offline data) replaces the
    reference-policy KL; neither a reward model nor a reference policy is needed.

    bench's reading, not pinned to the paper's equations (see ``methods.losses.mpo``): the expected
    preference under self-normalised importance weights over the pair, sigmoid(log pi(y+) - log pi(y-)),
    maximised, plus ``reg`` times the cross-entropy on the pair's own responses (samples of the behaviour
    policy) as the forward-KL estimate. The paper regularises on separate SFT/pre-training data with its
    own weights; bench's preference groups carry none, so the pairs stand in. ``reg = 1`` is bench's choice.
    """

    name = "mpo"

    @dataclass(frozen=True)
    class Params:
        reg: float = 1.0  # weight of the off-policy forward-KL (cross-entropy) regulariser

    def group_loss(self, inputs: LossInputs):
        from methods.losses import mpo

        return mpo(inputs.logps, self.params.reg)

    def implicit_beta(self) -> float:
        return 1.0

"""SLiC-HF, written only against the public plug-in API."""

from dataclasses import dataclass

from methods import LossInputs, PairwiseMethod


class SLiCHF(PairwiseMethod):
    """Sequence likelihood calibration with human feedback (Zhao et al. 2023, arXiv 2305.10425), the
    SLiC-HF-direct form: trained on the preference pairs as given, with

        max(0, delta - log pi(y+|x) + log pi(y-|x)) - reg * log pi(y_ref|x)

    on the policy's own sequence log-likelihoods (no reference policy in the loss).

    What could not be pinned down from the text available to bench (only abstracts and summaries of the
    paper were readable): (1) the paper's regulariser target y_ref is the SFT target of x; bench's
    preference groups carry no SFT target, so the chosen response y+ stands in for it (on the exact task
    y+ is a sample of pi_sft, so the term estimates the cross-entropy to pi_sft up to the preference
    selection); (2) the defaults delta = 1 and reg = 0.5 are bench's choices, not the paper's reported
    values; (3) the sample-and-rank variant (ranking model over SFT samples) is not implemented.
    """

    name = "slic"

    @dataclass(frozen=True)
    class Params:
        delta: float = 1.0  # the hinge's margin, in nats of sequence log-likelihood
        reg: float = 0.5  # weight of the likelihood (cross-entropy) regulariser

    def group_loss(self, inputs: LossInputs):
        from methods.losses import slic_hf

        return slic_hf(inputs.logps, inputs.logps[:, 0], self.params.delta, self.params.reg)

    def implicit_beta(self) -> float:
        return 1.0

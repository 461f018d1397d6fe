"""IPO, written only against the public plug-in API: the README's "Add a method" example."""

from dataclasses import dataclass

from methods import PairwiseMethod


class IPO(PairwiseMethod):
    """Identity preference optimisation (Azar et al. 2023)."""

    name = "ipo"

    @dataclass(frozen=True)
    class Params:
        beta: float | None = None  # None: the task's default beta

    def loss(self, logratios):
        from methods.losses import ipo

        return ipo(logratios, self.params.beta)

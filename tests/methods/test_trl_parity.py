"""Parity of bench's preference losses with TRL's own DPO loss code, on identical inputs.

TRL (1.16) has no standalone loss function: the per-pair losses are computed inline in
``DPOTrainer._compute_loss(self, model, inputs, return_outputs)``, which runs the policy forward, takes the
reference log-probs, forms the log-ratios and then applies the ``loss_type`` formula. We call that unbound
method with

* a minimal stand-in ``self`` carrying only the attributes it reads, filled from a real ``DPOConfig`` exactly as
  ``DPOTrainer.__init__`` does (so defaults such as ``f_divergence_type`` and ``ld_alpha`` are TRL's own);
* a stub "model" returning per-token log-probs the way TRL's fused LM head does (shape ``[2B, T - 1]``, zero
  where the next-token label is ``-100``), with the batch laid out as TRL's collator does (chosen rows first,
  then rejected rows);
* precomputed reference sequence log-probs (``precompute_ref_log_probs=True``), so no reference model is needed.

``_compute_loss`` returns the batch mean, so per-pair losses come from one call per pair. The log-ratios handed
to bench are computed from the very same tensors TRL sums (``per_token.sum(1) - ref``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from methods import losses

trl = pytest.importorskip("trl")

TOL = 1e-6
BETAS = (0.1, 0.5, 1.0)
SEEDS = (0, 1, 2)
PAIRS = 24
EXO_EPS = losses.EXO_EPS  # 1e-3; TRL's exo_pair refuses label_smoothing == 0

# TRL loss_type -> bench loss. For ipo see _bench_ipo_on_trl_scale below.
BENCH = {
    "sigmoid": lambda lr, beta: losses.dpo_pref(lr, beta),
    "exo_pair": lambda lr, beta: losses.exo_pref(lr, beta, eps=EXO_EPS),
    "ipo": lambda lr, beta: losses.ipo(lr, beta),
}


class _Accelerator:
    """Single-process stand-in: gathers are identities, everything lives on the CPU."""

    device = torch.device("cpu")

    @staticmethod
    def gather(t: torch.Tensor) -> torch.Tensor:
        return t

    gather_for_metrics = gather


class _StubPolicy:
    """Plays a causal LM called with ``fused_lm_head=True``: returns the per-token log-probs it was given,
    zeroed where the shifted label is ``-100``, like ``trl.trainer.utils.add_fused_lm_head``."""

    training = False  # "eval" mode: skips only the train-token counter in the metrics block

    def __init__(self, per_token_logps: torch.Tensor):
        self.per_token_logps = per_token_logps

    def __call__(self, *, input_ids, labels, fused_lm_head, **_kwargs):
        assert fused_lm_head is True
        mask = labels[:, 1:] != -100
        zeros = torch.zeros_like(self.per_token_logps)
        return SimpleNamespace(
            log_probs=self.per_token_logps.masked_fill(~mask, 0.0),
            entropy=zeros,
            mean_logits=zeros,
            is_top1=torch.zeros_like(mask),
        )


def _trl_self(loss_type: str, beta: float, label_smoothing: float, policy: _StubPolicy, tmp_dir: str):
    args = trl.DPOConfig(
        output_dir=tmp_dir,
        loss_type=loss_type,
        beta=beta,
        label_smoothing=label_smoothing,
        precompute_ref_log_probs=True,
        use_cpu=True,
        bf16=False,
        report_to="none",
    )
    return SimpleNamespace(
        args=args,
        model=policy,
        accelerator=_Accelerator(),
        # The "Training arguments" block of DPOTrainer.__init__, verbatim:
        beta=args.beta,
        precompute_ref_logps=args.precompute_ref_log_probs,
        loss_types=args.loss_type,
        loss_weights=args.loss_weights or [1.0] * len(args.loss_type),
        ld_alpha=args.ld_alpha,
        f_divergence_type=args.f_divergence_type,
        f_alpha_divergence_coef=args.f_alpha_divergence_coef,
        label_smoothing=args.label_smoothing,
        use_weighting=args.use_weighting,
        # Set later in __init__ (text models without router logits, single process):
        aux_loss_enabled=False,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )


def _make_pairs(gen: torch.Generator, logratios: torch.Tensor, lengths: torch.Tensor):
    """Per-token policy log-probs and reference sequence log-probs with the wanted log-ratios.

    ``logratios`` and ``lengths`` are ``[pairs, 2]`` (column 0 chosen, 1 rejected). Returns ``per_token``
    ``[pairs, 2, Lmax]`` (zero past each completion's length), ``ref`` ``[pairs, 2]`` and the exact log-ratios
    ``per_token.sum(-1) - ref`` that TRL will see.
    """
    lmax = int(lengths.max())
    per_token = -torch.rand(*lengths.shape, lmax, generator=gen, dtype=torch.float64) * 5.0
    valid = torch.arange(lmax) < lengths.unsqueeze(-1)
    per_token = per_token * valid
    ref = per_token.sum(-1) - logratios
    return per_token, ref, per_token.sum(-1) - ref


def _trl_mean_loss(loss_type: str, beta: float, per_token, ref, lengths, tmp_dir: str) -> torch.Tensor:
    """One ``_compute_loss`` call on a batch of B pairs; TRL returns the mean over the pairs."""
    pairs, _, lmax = per_token.shape
    # TRL's collator stacks the B chosen rows, then the B rejected rows; each row is one prompt token, then the
    # completion, right-padded. The fused head's log_probs are then [2B, T - 1] = [2B, Lmax].
    lengths_rows = torch.cat([lengths[:, 0], lengths[:, 1]])
    completion_mask = torch.zeros(2 * pairs, 1 + lmax, dtype=torch.long)
    completion_mask[:, 1:] = (torch.arange(lmax) < lengths_rows.unsqueeze(1)).long()
    inputs = {
        "input_ids": torch.ones(2 * pairs, 1 + lmax, dtype=torch.long),
        "attention_mask": torch.ones(2 * pairs, 1 + lmax, dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": ref[:, 0],
        "ref_rejected_logps": ref[:, 1],
    }
    policy = _StubPolicy(torch.cat([per_token[:, 0], per_token[:, 1]]))
    label_smoothing = EXO_EPS if loss_type == "exo_pair" else 0.0
    fake_self = _trl_self(loss_type, beta, label_smoothing, policy, tmp_dir)
    loss = trl.DPOTrainer._compute_loss(fake_self, policy, inputs, return_outputs=False)
    assert loss.dtype == torch.float64
    return loss


def _trl_losses(loss_type: str, beta: float, per_token, ref, lengths, tmp_dir: str) -> torch.Tensor:
    """Per-pair TRL losses: one ``_compute_loss`` call per pair, since it returns the batch mean."""
    return torch.stack(
        [
            _trl_mean_loss(loss_type, beta, per_token[p : p + 1], ref[p : p + 1], lengths[p : p + 1], tmp_dir)
            for p in range(per_token.shape[0])
        ]
    )


def _logratios(gen: torch.Generator, pairs: int) -> torch.Tensor:
    """Mixed magnitudes: typical values, values up to +-50, and the +-50 corners."""
    typical = torch.randn(pairs, 2, generator=gen, dtype=torch.float64) * 3.0
    large = (torch.rand(pairs, 2, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * 50.0
    corners = torch.tensor(
        [[50.0, -50.0], [-50.0, 50.0], [50.0, 50.0], [-50.0, -50.0], [0.0, 0.0], [50.0, 0.0], [0.0, -50.0]],
        dtype=torch.float64,
    )
    return torch.cat([typical, large, corners])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("loss_type", ["sigmoid", "exo_pair", "ipo"])
def test_single_token_completions_match_trl(loss_type, beta, seed, tmp_path):
    """Length-1 completions: TRL's per-token normalisation in ``ipo`` divides by 1, so for every loss type
    TRL and bench compute the same quantity from the same summed log-ratios."""
    gen = torch.Generator().manual_seed(seed)
    target = _logratios(gen, PAIRS)
    lengths = torch.ones_like(target, dtype=torch.long)
    per_token, ref, logratios = _make_pairs(gen, target, lengths)

    ours = BENCH[loss_type](logratios, beta)
    theirs = _trl_losses(loss_type, beta, per_token, ref, lengths, str(tmp_path))

    assert torch.isfinite(ours).all() and torch.isfinite(theirs).all()
    assert (ours - theirs).abs().max().item() < TOL, (ours - theirs).abs().max().item()
    # The whole batch in one call (what TRL returns in training) is the mean of the same per-pair losses.
    batch = _trl_mean_loss(loss_type, beta, per_token, ref, lengths, str(tmp_path))
    assert abs(batch.item() - ours.mean().item()) < TOL


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("loss_type", ["sigmoid", "exo_pair", "ipo"])
def test_multi_token_completions_match_trl(loss_type, beta, seed, tmp_path):
    """Completions of 1..16 tokens. ``sigmoid`` and ``exo_pair`` use token-summed log-ratios in both libraries.

    TRL's ``ipo`` is length-normalised (see its comment in ``_compute_loss``):
        TRL:   ((lr_c / |y_c| - lr_r / |y_r|) - 1 / (2 beta))^2
    while bench's ``ipo`` is Azar et al. / EXO paper Eq. 17 on summed log-ratios:
        bench: ((lr_c - lr_r) - 1 / (2 beta))^2
    with lr = sum_t log pi(y_t|..) - sum_t log pi_ref(y_t|..). They are the same function of different inputs,
    so here bench is fed the per-token-averaged log-ratios lr / |y| explicitly.
    """
    gen = torch.Generator().manual_seed(100 + seed)
    target = _logratios(gen, PAIRS)
    lengths = torch.randint(1, 17, target.shape, generator=gen)
    per_token, ref, logratios = _make_pairs(gen, target, lengths)

    theirs = _trl_losses(loss_type, beta, per_token, ref, lengths, str(tmp_path))
    if loss_type == "ipo":
        ours = losses.ipo(logratios / lengths, beta)
        # And the definitional difference is real: on summed log-ratios the two disagree.
        assert (losses.ipo(logratios, beta) - theirs).abs().max().item() > 1.0
    else:
        ours = BENCH[loss_type](logratios, beta)

    assert torch.isfinite(ours).all() and torch.isfinite(theirs).all()
    assert (ours - theirs).abs().max().item() < TOL, (ours - theirs).abs().max().item()
    batch = _trl_mean_loss(loss_type, beta, per_token, ref, lengths, str(tmp_path))
    assert abs(batch.item() - ours.mean().item()) < TOL


def test_harness_is_sensitive(tmp_path):
    """The stand-in really reaches TRL's formulas: a different loss type or beta gives different numbers."""
    gen = torch.Generator().manual_seed(7)
    target = _logratios(gen, 4)
    lengths = torch.ones_like(target, dtype=torch.long)
    per_token, ref, logratios = _make_pairs(gen, target, lengths)
    hinge = _trl_losses("hinge", 0.5, per_token, ref, lengths, str(tmp_path))
    assert torch.allclose(hinge, torch.relu(1 - 0.5 * (logratios[:, 0] - logratios[:, 1])), atol=1e-12)
    sigmoid_other_beta = _trl_losses("sigmoid", 0.1, per_token, ref, lengths, str(tmp_path))
    assert (sigmoid_other_beta - losses.dpo_pref(logratios, 0.5)).abs().max().item() > 1e-3
    # A hand-checkable value from TRL's sigmoid: logratios (1, 0), beta 0.5 -> log(1 + e^-0.5).
    pt = torch.tensor([[[-1.0], [-2.0]]], dtype=torch.float64)
    ref1 = torch.tensor([[-2.0, -2.0]], dtype=torch.float64)
    one = _trl_losses("sigmoid", 0.5, pt, ref1, torch.ones(1, 2, dtype=torch.long), str(tmp_path))
    assert one.item() == pytest.approx(math.log1p(math.exp(-0.5)), abs=1e-12)

"""Pair losses: swappable objects that score a batch of alert vectors.

Every in-batch loss is called as ``loss(cos, labels, weights, head)`` where ``cos`` is
the ``[B, B]`` cosine-similarity matrix of one encoder pass, ``labels`` the incident
of each alert (``-1`` for benign), ``weights`` a weight per alert (for de-duplicated
alerts, a function of their count) and ``head`` the model's
:class:`~lstm_rnn_correlation.model.CosineSigmoidHead`.  A pair ``(i, j)``, ``i != j``,
is *correlated* when both alerts belong to the same incident; benign never
correlates, not even with benign.  Self-pairs are left out.

* :class:`SigmoidPairLoss` -- the paper's cosine-sigmoid cross-entropy over all B x B
  pairs, with a learnable scale and bias (so probabilities can reach 0 and 1) and
  positives and negatives weighted to equal total weight.
* :class:`ContrastiveLoss` -- pull correlated pairs together, push the others apart
  beyond a margin.
* :class:`SupConLoss` -- supervised contrastive loss over the incident alerts, plus a
  uniformity term that spreads benign alerts apart (without it they collapse, and
  DBSCAN chains incidents into them).  The default: in 10-fold cross-validation
  (``crossval``, operating point chosen on training data; 64 units, mean pooling, 360
  steps) on AIT-ADS it gave IMR 0.192 and 0.182 at ARF 6.5 and 8.8 over seeds 0 and 1,
  against ``sigmoid``'s 0.139 and 0.216 at ARF 5.5 and 6.1 (the miss rates are within
  the seed noise, the ARF is higher on both seeds), and it matched ``sigmoid`` on the
  bundled data set.  The temperature (0.05 and 0.2 tried) changed nothing beyond that
  noise; the pooling and the width did (see :mod:`~lstm_rnn_correlation.config`).

:func:`cosine_bce` is the paper's loss for a list of pairs (the ``paper`` scheme).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pair_targets(labels_a: torch.Tensor, labels_b: torch.Tensor) -> torch.Tensor:
    """Boolean matrix ``[A, B]``: same incident and not benign (label ``-1``)."""
    return (labels_a[:, None] == labels_b[None, :]) & (labels_a[:, None] >= 0)


def cosine_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The paper's loss for a list of pairs: mean binary cross-entropy of ``sigmoid(logits)``."""
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype))


def _balanced_mean(values: torch.Tensor, positive: torch.Tensor, pair_weight: torch.Tensor) -> torch.Tensor:
    """Half the weight on correlated pairs, half on the others (each part a weighted mean)."""
    pos_w = pair_weight * positive
    neg_w = pair_weight * (~positive)
    parts = []
    if bool(positive.any()):
        parts.append((values * pos_w).sum() / pos_w.sum().clamp_min(1e-12))
    if bool((~positive).any()):
        parts.append((values * neg_w).sum() / neg_w.sum().clamp_min(1e-12))
    if not parts:
        return values.sum() * 0.0  # no pairs: zero, still attached to the graph
    return sum(parts) / len(parts)


def _pair_weights(weights: torch.Tensor) -> torch.Tensor:
    w = weights[:, None] * weights[None, :]
    return w * (1.0 - torch.eye(len(weights), dtype=w.dtype, device=w.device))


class PairLoss:
    """Base class: a loss over a batch's cosine matrix, and the pair probability it implies."""

    name = "base"

    def __call__(self, cos, labels, weights, head):  # pragma: no cover - interface
        raise NotImplementedError

    def probability(self, cos: torch.Tensor, head) -> torch.Tensor:
        """Model output in [0, 1] for pairs with cosine ``cos`` (thresholded at 0.5)."""
        return torch.sigmoid(head(cos))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class SigmoidPairLoss(PairLoss):
    """Cosine-sigmoid binary cross-entropy over every pair of the batch, class-balanced.

    Parameters
    ----------
    balanced : give correlated and uncorrelated pairs equal total weight (else a plain mean).
    """

    name = "sigmoid"

    def __init__(self, balanced: bool = True):
        self.balanced = balanced

    def __call__(self, cos, labels, weights, head):
        """Loss of one batch (see the module docstring for the arguments)."""
        positive = pair_targets(labels, labels)
        values = F.binary_cross_entropy_with_logits(head(cos), positive.to(cos.dtype), reduction="none")
        pair_weight = _pair_weights(weights)
        if self.balanced:
            return _balanced_mean(values, positive, pair_weight)
        return (values * pair_weight).sum() / pair_weight.sum().clamp_min(1e-12)


class ContrastiveLoss(PairLoss):
    """Contrastive loss on cosine distance: ``(1 - cos)^2`` for correlated pairs and
    ``max(0, cos - margin)^2`` for the others, class-balanced.

    Parameters
    ----------
    margin : cosine similarity that uncorrelated pairs are pushed below.
    """

    name = "contrastive"

    def __init__(self, margin: float = 0.0):
        self.margin = margin

    def __call__(self, cos, labels, weights, head):
        """Loss of one batch (see the module docstring for the arguments)."""
        positive = pair_targets(labels, labels)
        values = torch.where(positive, (1.0 - cos) ** 2, F.relu(cos - self.margin) ** 2)
        return _balanced_mean(values, positive, _pair_weights(weights))

    def probability(self, cos, head):
        """``(1 + cos) / 2``: the contrastive loss has no calibrated head."""
        return ((1.0 + cos) / 2.0).clamp(0.0, 1.0)


class SupConLoss(PairLoss):
    """Supervised contrastive loss (Khosla et al. 2020) plus a benign-spreading term.

    Each incident alert is an anchor whose positives are the other alerts of its
    incident in the batch; benign alerts have no positives and get the uniformity
    term of Wang & Isola (2020), ``log mean exp(-t * |z_i - z_j|^2)`` over their
    pairs, which pushes them apart from everything.

    Parameters
    ----------
    temperature : softmax temperature of the contrastive part.
    benign_weight : weight of the uniformity term (0 gives plain SupCon).
    uniformity_t : the ``t`` of the uniformity term.
    """

    name = "supcon"

    def __init__(self, temperature: float = 0.1, benign_weight: float = 1.0, uniformity_t: float = 2.0):
        self.temperature = temperature
        self.benign_weight = benign_weight
        self.uniformity_t = uniformity_t

    def __call__(self, cos, labels, weights, head):
        """Loss of one batch (see the module docstring for the arguments)."""
        n = cos.shape[0]
        eye = torch.eye(n, dtype=torch.bool, device=cos.device)
        positive = pair_targets(labels, labels) & ~eye
        log_w = weights.log()[None, :].expand(n, n)
        logits = (cos / self.temperature + log_w).masked_fill(eye, -math.inf)
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        n_pos = positive.sum(dim=1)
        anchors = n_pos > 0
        total = cos.sum() * 0.0  # zero that stays attached to the graph
        if bool(anchors.any()):
            pos_w = positive.to(cos.dtype) * weights[None, :]
            mean_log_prob = (log_prob.masked_fill(~positive, 0.0) * pos_w).sum(1) / pos_w.sum(1).clamp_min(1e-12)
            aw = weights[anchors]
            total = total - (mean_log_prob[anchors] * aw).sum() / aw.sum()
        benign = labels < 0
        if self.benign_weight > 0 and bool(benign.any()) and n > 1:
            sq_dist = (2.0 - 2.0 * cos[benign]).clamp_min(0.0)
            scores = (-self.uniformity_t * sq_dist + log_w[benign]).masked_fill(eye[benign], -math.inf)
            norm = torch.log((weights.sum() - weights[benign]).clamp_min(1e-12))
            uniformity = torch.logsumexp(scores, dim=1) - norm
            bw = weights[benign]
            total = total + self.benign_weight * (uniformity * bw).sum() / bw.sum()
        return total

    def probability(self, cos, head):
        """``(1 + cos) / 2``: the supervised contrastive loss has no calibrated head."""
        return ((1.0 + cos) / 2.0).clamp(0.0, 1.0)


LOSSES = {cls.name: cls for cls in (SigmoidPairLoss, ContrastiveLoss, SupConLoss)}


def make_loss(name: str, temperature: float | None = None) -> PairLoss:
    """The in-batch loss called ``name`` (``sigmoid``, ``contrastive`` or ``supcon``).

    ``temperature`` (``supcon`` only; None: its default) is the contrastive softmax temperature.
    """
    try:
        cls = LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}") from None
    if temperature is None or cls is not SupConLoss:
        return cls()
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return cls(temperature=float(temperature))

"""The mapping function: alert codes -> vector, and the siamese tied-weight pair model.

Read top to bottom:

* :class:`EncoderConfig` -- the plain values that define an encoder; stored in every
  checkpoint, so a saved model needs nothing else to be rebuilt.
* :class:`AlertEncoder` -- character input (the original's fixed one-hot, or a learned
  embedding), stacked LSTM layers sized by ``NN_UNITS``, then pooling: the state at
  each alert's last real character (as published) or the mean over real characters.
* :class:`CosineSigmoidHead` -- ``sigmoid(scale * cos + bias)``; the paper fixes
  ``scale=1, bias=0`` (so its output lives in [0.27, 0.73]); the default learns both.
* :class:`SiameseModel` -- one encoder object maps both alerts of a pair, so the two
  sides share their weights by construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lstm_rnn_correlation.text import VOCAB_SIZE


POOLINGS = ("last", "mean", "max", "meanmax")


@dataclass
class EncoderConfig:
    """Everything needed to rebuild an :class:`AlertEncoder`.

    Parameters
    ----------
    units : LSTM sizes, one per stacked layer (``NN_UNITS``; ``(10,)`` in the paper).
    input : ``"onehot"`` (fixed 128x128 identity, as published) or ``"embedding"`` (learned).
    embedding_dim : size of the learned character embedding (``input="embedding"`` only).
    pooling : ``"last"`` (state at the last real character), ``"mean"`` or ``"max"`` (over the
        real characters), or ``"meanmax"`` (both, concatenated: the vector size doubles).
    bidirectional : run every layer in both directions (vector size doubles).
    max_chars : alerts are cut to this many leading characters (None: no cut).
    """

    units: tuple[int, ...] = (64,)
    input: str = "embedding"
    embedding_dim: int = 32
    pooling: str = "mean"
    bidirectional: bool = False
    max_chars: int | None = 1024
    vocab_size: int = VOCAB_SIZE

    def __post_init__(self):
        self.units = tuple(int(u) for u in self.units)
        if not self.units or min(self.units) < 1:
            raise ValueError(f"units must be positive layer sizes, got {self.units}")
        if self.input not in ("onehot", "embedding"):
            raise ValueError(f"input must be 'onehot' or 'embedding', got {self.input!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")

    def to_dict(self) -> dict:
        """Plain values (JSON and ``weights_only`` safe)."""
        d = asdict(self)
        d["units"] = list(self.units)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        return cls(**d)


class AlertEncoder(nn.Module):
    """Map padded ASCII codes ``[B, T]`` with lengths ``[B]`` to vectors ``[B, output_dim]``.

    Parameters
    ----------
    config : an :class:`EncoderConfig`.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        if config.input == "embedding":
            self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
            size = config.embedding_dim
        else:
            self.embedding = None
            size = config.vocab_size
        layers, backward = [], []
        for units in config.units:
            layers.append(nn.LSTM(size, units))
            if config.bidirectional:
                backward.append(nn.LSTM(size, units))
            size = units * (2 if config.bidirectional else 1)
        if config.pooling == "meanmax":
            size *= 2
        self.layers = nn.ModuleList(layers)
        # Bidirectional layers: a second LSTM reads each alert backwards from its own
        # last character (see _reverse_within_length); padded, not packed, because
        # packed LSTMs ran 15x slower on the CPU.
        self.backward_layers = nn.ModuleList(backward) if config.bidirectional else None
        self.output_dim = size

    def characters(self, codes: torch.Tensor) -> torch.Tensor:
        """Per-character input vectors ``[T, B, D]`` (time-major) of padded codes ``[B, T]``:
        one-hot rows or learned embeddings."""
        codes = codes.t()
        if self.embedding is None:
            dtype = self.layers[0].weight_ih_l0.dtype
            return F.one_hot(codes, self.config.vocab_size).to(dtype)
        return self.embedding(codes)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encode a padded batch; positions at or after ``lengths`` never influence the result.

        A forward LSTM's state at position t depends only on characters 0..t, so running
        over the padding and reading position ``length - 1`` is exact.  Inside, the
        sequences are time-major (``[T, B, D]``): PyTorch's CPU LSTM runs about 15-20%
        faster on that layout than on batch-first input, which it transposes.
        """
        lengths = lengths.to(codes.device)
        x = self.characters(codes)
        for i, lstm in enumerate(self.layers):
            out, _ = lstm(x)
            if self.backward_layers is not None:
                rev, _ = self.backward_layers[i](_reverse_within_length(x, lengths))
                if i == len(self.layers) - 1 and self.config.pooling == "last":
                    # forward state after the last character, backward state after the first
                    return torch.cat([_at_last(out, lengths), _at_last(rev, lengths)], dim=1)
                out = torch.cat([out, _reverse_within_length(rev, lengths)], dim=2)
            x = out
        if self.config.pooling == "last":
            return _at_last(x, lengths)
        if self.config.pooling == "max":
            return _masked_max(x, lengths)
        if self.config.pooling == "meanmax":
            return torch.cat([_masked_mean(x, lengths), _masked_max(x, lengths)], dim=1)
        return _masked_mean(x, lengths)


# The helpers below take time-major sequences x [T, B, H] and lengths [B].

def _at_last(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[lengths[b] - 1, b]`` for every column ``b``."""
    index = (lengths - 1).view(1, -1, 1).expand(1, -1, x.shape[2])
    return x.gather(0, index).squeeze(0)


def _reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first ``lengths[b]`` positions, leaving the padding in place.

    Its own inverse; a forward LSTM over the result reads each alert from its last
    character to its first, and the padding still comes after the real characters.
    """
    positions = torch.arange(x.shape[0], device=x.device)[:, None]
    source = lengths[None, :] - 1 - positions
    source = torch.where(source >= 0, source, positions)
    return x.gather(0, source.unsqueeze(2).expand(-1, -1, x.shape[2]))


def _real(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``[T, B]`` mask, True at real characters."""
    return torch.arange(x.shape[0], device=x.device)[:, None] < lengths.to(x.device)[None, :]


def _masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean of ``x[:lengths[b], b]`` per sequence (an einsum: no ``[T, B, H]`` temporary)."""
    mask = _real(x, lengths).to(x.dtype)
    summed = torch.einsum("tb,tbh->bh", mask, x)
    return summed / lengths.to(x.device).unsqueeze(1).to(x.dtype)


def _masked_max(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Largest value of each feature over ``x[:lengths[b], b]`` per sequence.

    The positions before the shortest length are real in every column and need no mask;
    only the tail is masked (batches are bucketed by length, so the tail is short).  On a
    [230, 512, 96] batch this takes about a quarter of the time of masking all of ``x``.
    """
    shortest = int(lengths.min())
    head = x[:shortest].amax(dim=0)
    if shortest >= x.shape[0]:
        return head
    real = _real(x, lengths)[shortest:].unsqueeze(2)
    tail = x[shortest:].masked_fill(~real, float("-inf")).amax(dim=0)
    return torch.maximum(head, tail)


class CosineSigmoidHead(nn.Module):
    """Pair probability ``sigmoid(scale * cos + bias)`` from a cosine similarity.

    Parameters
    ----------
    scale, bias : initial values (the paper: 1 and 0).
    learnable : learn ``scale`` (as a log) and ``bias``; the paper keeps them fixed.
    """

    def __init__(self, scale: float = 1.0, bias: float = 0.0, learnable: bool = False):
        super().__init__()
        log_scale = torch.tensor(float(scale)).log()
        bias_t = torch.tensor(float(bias))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
            self.bias = nn.Parameter(bias_t)
        else:
            self.register_buffer("log_scale", log_scale)
            self.register_buffer("bias", bias_t)

    def forward(self, cos: torch.Tensor) -> torch.Tensor:
        """Logits (apply ``torch.sigmoid`` for probabilities)."""
        return cos * self.log_scale.exp() + self.bias


@dataclass
class HeadConfig:
    """Values of a :class:`CosineSigmoidHead` (stored with the encoder configuration)."""

    scale: float = 1.0
    bias: float = 0.0
    learnable: bool = False

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)


class SiameseModel(nn.Module):
    """Two alerts -> the probability that they belong to the same incident.

    One :class:`AlertEncoder` maps both sides (tied weights by construction), the
    cosine similarity of the two vectors goes through a :class:`CosineSigmoidHead`.

    Parameters
    ----------
    encoder_config : :class:`EncoderConfig` of the shared encoder.
    head_config : :class:`HeadConfig` (default: the paper's fixed ``sigmoid(cos)``).
    """

    def __init__(self, encoder_config: EncoderConfig, head_config: HeadConfig | None = None):
        super().__init__()
        head_config = head_config or HeadConfig()
        self.encoder_config = encoder_config
        self.head_config = head_config
        self.encoder = AlertEncoder(encoder_config)
        self.head = CosineSigmoidHead(head_config.scale, head_config.bias, head_config.learnable)

    def embed(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``[B, d]`` of a padded batch."""
        return F.normalize(self.encoder(codes, lengths).float(), dim=1, eps=1e-8)

    def pair_logits(self, a: torch.Tensor, a_len: torch.Tensor, b: torch.Tensor, b_len: torch.Tensor) -> torch.Tensor:
        """Logits for the pairs ``(a[i], b[i])``; both sides go through the same encoder."""
        za, zb = self.embed(a, a_len), self.embed(b, b_len)
        return self.head((za * zb).sum(dim=1))

    def forward(self, a: torch.Tensor, a_len: torch.Tensor, b: torch.Tensor, b_len: torch.Tensor) -> torch.Tensor:
        """Probabilities that ``a[i]`` and ``b[i]`` are correlated."""
        return torch.sigmoid(self.pair_logits(a, a_len, b, b_len))

    def describe(self) -> dict:
        """Encoder and head configuration as plain values (what a checkpoint stores)."""
        return {"encoder": self.encoder_config.to_dict(), "head": self.head_config.to_dict()}

    @classmethod
    def from_description(cls, d: dict) -> "SiameseModel":
        """Rebuild an (untrained) model from :meth:`describe` output."""
        return cls(EncoderConfig.from_dict(d["encoder"]), HeadConfig(**d["head"]))

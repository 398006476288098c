"""Alert text as ASCII codes: encoding, de-duplication and length-bucketed batches.

The model reads an alert line character by character as ASCII codes 0-127, as the
original did.  Two rules make every input well defined:

* A character outside ASCII (any code point >= 128, including the surrogates that
  Python uses for undecodable bytes) becomes one ``SUBSTITUTE`` code (0x1A, ASCII
  "SUB", the control character meant for exactly this).  One character in, one
  code out, so positions and lengths never shift.  Bytes input is read byte by
  byte, each byte >= 128 giving one ``SUBSTITUTE``.
* An empty alert becomes the single code ``EMPTY`` (0, NUL), so it still has a
  vector; alerts longer than ``max_chars`` keep their first ``max_chars`` characters.

Alerts are stored flat (one ``uint8`` array plus offsets) and padded only per
batch, to the longest alert of that batch.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch

from lstm_rnn_correlation.errors import UserError

VOCAB_SIZE = 128
SUBSTITUTE = 0x1A
EMPTY = 0
PAD = 0

_ERROR_HANDLER = "lstm_rnn_correlation.substitute"


def _substitute(error: UnicodeError):
    """Codec error handler: one SUB character per offending code point."""
    return "\x1a" * (error.end - error.start), error.end


codecs.register_error(_ERROR_HANDLER, _substitute)


def _as_text(alert, index: int, max_chars: int | None) -> str:
    if isinstance(alert, str):
        text = alert
    elif isinstance(alert, (bytes, bytearray)):
        # latin-1 maps each byte to one code point, so bytes >= 128 become SUB below.
        text = bytes(alert).decode("latin-1")
    else:
        raise UserError(f"alert {index} is {type(alert).__name__} {alert!r}, expected text")
    if max_chars is not None:
        text = text[:max_chars]
    return text if text else "\x00"


@dataclass(frozen=True)
class EncodedAlerts:
    """Alerts as ASCII codes, stored flat.

    Attributes
    ----------
    codes : uint8 array with every alert's codes, one after the other.
    offsets : int64 array, start of alert ``i`` in ``codes``.
    lengths : int64 array, number of codes of alert ``i`` (always >= 1).
    """

    codes: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def alert_codes(self, i: int) -> np.ndarray:
        """The codes of alert ``i``."""
        return self.codes[self.offsets[i] : self.offsets[i] + self.lengths[i]]

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded codes ``[B, T]`` (int64, ``PAD`` after the end) and lengths ``[B]`` of ``indices``.

        ``T`` is the longest alert among ``indices``, not of the whole data set.
        """
        idx = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[idx]
        width = int(lengths.max()) if len(idx) else 1
        cols = np.arange(width, dtype=np.int64)
        mask = cols[None, :] < lengths[:, None]
        gather = np.where(mask, self.offsets[idx][:, None] + cols[None, :], 0)
        padded = np.where(mask, self.codes[gather], PAD).astype(np.int64)
        return torch.from_numpy(padded), torch.from_numpy(lengths.copy())


def encode_alerts(alerts: Iterable, max_chars: int | None = None) -> EncodedAlerts:
    """Encode alert lines as ASCII codes (see the module docstring for the rules).

    Parameters
    ----------
    alerts : iterable of str (or bytes) alert lines.
    max_chars : keep at most this many leading characters of each alert (None: all).
    """
    texts = [_as_text(a, i, max_chars) for i, a in enumerate(alerts)]
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    joined = "".join(texts).encode("ascii", errors=_ERROR_HANDLER)
    codes = np.frombuffer(joined, dtype=np.uint8).copy()
    # Bytes decoded as latin-1 and code points >= 128 were replaced one for one above.
    offsets = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    assert codes.shape[0] == int(lengths.sum())
    return EncodedAlerts(codes=codes, offsets=offsets, lengths=lengths)


@dataclass(frozen=True)
class UniqueAlerts:
    """Distinct (alert, label) pairs with their multiplicities.

    Attributes
    ----------
    alerts : list of the distinct alert strings, in order of first appearance.
    labels : int64 array, label of each distinct entry (-1 for benign), or None.
    counts : int64 array, how often each distinct entry occurs.
    inverse : int64 array, for each input row the index of its distinct entry.
    """

    alerts: list
    labels: np.ndarray | None
    counts: np.ndarray
    inverse: np.ndarray


def deduplicate(alerts: Sequence, labels: Sequence[int] | np.ndarray | None = None) -> UniqueAlerts:
    """Collapse identical alert strings (with identical labels) into one entry with a count.

    Parameters
    ----------
    alerts : alert lines.
    labels : optional integer label per alert; the same string with two labels stays two entries.
    """
    import pandas as pd

    alerts = list(alerts)
    if labels is None:
        codes, uniques = pd.factorize(pd.Series(alerts, dtype=object), sort=False)
        inverse = codes.astype(np.int64)
        counts = np.bincount(inverse, minlength=len(uniques)).astype(np.int64)
        return UniqueAlerts(list(uniques), None, counts, inverse)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(alerts):
        raise UserError(f"{len(alerts)} alerts but {len(labels)} labels")
    frame = pd.DataFrame({"alert": pd.Series(alerts, dtype=object), "label": labels})
    grouped = frame.groupby(["alert", "label"], sort=False, dropna=False).ngroup()
    inverse = grouped.to_numpy(dtype=np.int64)
    n = int(inverse.max()) + 1 if len(inverse) else 0
    first = np.full(n, len(inverse), dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(len(inverse), dtype=np.int64))
    # Renumber so that entries appear in order of first occurrence.
    order = np.argsort(first, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    inverse = rank[inverse]
    first = first[order]
    counts = np.bincount(inverse, minlength=n).astype(np.int64)
    return UniqueAlerts([alerts[i] for i in first], labels[first], counts, inverse)


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Index batches of ``batch_size`` alerts with similar lengths (longest first).

    Sorting by length keeps per-batch padding small; the order within equal lengths
    is the input order, so the batches are deterministic.

    Parameters
    ----------
    lengths : number of codes per alert.
    batch_size : alerts per batch.
    """
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

"""Which pairs of alerts are scored: the two training schemes' samplers.

``paper`` scheme: every ordered pair ``(i, j)`` of the N training alerts (the cross
join, self-pairs included, as in the original), in a shuffled order, optionally only
the first ``MAX_PAIRS`` of it.  The shuffle is a keyed pseudo-random permutation of
the pair numbers ``0 .. N*N-1`` (a Feistel network with cycle walking), so the pairs
are streamed in chunks and no N x N table is ever built: memory is O(chunk).

default (``inbatch``) scheme: batches of alerts in which every incident alert has
companions of its own incident, so that scoring all pairs inside the batch always
yields correlated pairs: each incident's alerts are shuffled and cut into near-equal
groups of at most ``group_size``, benign alerts stay single, and the shuffled groups
fill batches.
Every alert appears once per epoch.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash (vectorised)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


class PairPermutation:
    """A keyed permutation of ``0 .. size-1``, evaluated on any chunk of positions.

    Parameters
    ----------
    size : number of elements (for pairs: N * N).
    seed : any integer; different seeds give independent permutations.
    rounds : Feistel rounds (6 is plenty for shuffling).
    """

    def __init__(self, size: int, seed: int, rounds: int = 6):
        if size < 1:
            raise ValueError("size must be positive")
        self.size = int(size)
        bits = max(2, int(self.size - 1).bit_length())
        self.half = (bits + 1) // 2
        self.half_mask = np.uint64((1 << self.half) - 1)
        keys = np.random.SeedSequence(seed).generate_state(rounds, dtype=np.uint64)
        self.keys = [np.uint64(k) for k in keys]

    def _feistel(self, x: np.ndarray) -> np.ndarray:
        half = np.uint64(self.half)
        left = x >> half
        right = x & self.half_mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right ^ key) & self.half_mask)
        return (left << half) | right

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        """Permuted values of ``positions`` (int64 array, each in ``0 .. size-1``)."""
        x = np.asarray(positions, dtype=np.uint64)
        out = self._feistel(x)
        # Cycle walking: values outside the domain are permuted again until they fall inside.
        outside = out >= np.uint64(self.size)
        while outside.any():
            out[outside] = self._feistel(out[outside])
            outside = out >= np.uint64(self.size)
        return out.astype(np.int64)


def paper_pair_batches(n_alerts: int, batch_size: int, seed: int, max_pairs: int | None = None,
                       chunk: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(left, right)`` index arrays of ``batch_size`` pairs: all ordered pairs, shuffled.

    Parameters
    ----------
    n_alerts : N, the number of training alerts.
    batch_size : pairs per batch (the last batch may be smaller).
    seed : permutation key (use a different one per epoch).
    max_pairs : stop after this many pairs (None: all N * N).
    chunk : pairs generated at a time (memory bound).
    """
    total = n_alerts * n_alerts
    if max_pairs is not None:
        total = min(total, int(max_pairs))
    if total == 0:
        return
    perm = PairPermutation(n_alerts * n_alerts, seed)
    chunk = max(batch_size, (chunk // batch_size) * batch_size)
    for start in range(0, total, chunk):
        stop = min(total, start + chunk)
        pair_ids = perm(np.arange(start, stop, dtype=np.int64))
        left, right = np.divmod(pair_ids, n_alerts)
        for b in range(0, len(pair_ids), batch_size):
            yield left[b : b + batch_size], right[b : b + batch_size]


def incident_batches(labels: np.ndarray, batch_size: int, group_size: int,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of alert indices in which incident alerts come in groups of their incident.

    Parameters
    ----------
    labels : incident per alert (-1 for benign).
    batch_size : target number of alerts per batch (groups are never split).
    group_size : alerts of one incident placed together (>= 2 gives correlated pairs).
    rng : numpy Generator (seed it per epoch for reproducible batches).
    """
    labels = np.asarray(labels)
    groups: list[np.ndarray] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        if label < 0:
            groups.extend(members[i : i + 1] for i in range(len(members)))
        else:
            # Near-equal groups (sizes differ by at most one), so no incident alert is left
            # alone in a group when its incident has two or more alerts.
            n_groups = -(-len(members) // max(1, group_size))
            groups.extend(np.array_split(members, n_groups))
    order = rng.permutation(len(groups))
    batches: list[np.ndarray] = []
    current: list[np.ndarray] = []
    filled = 0
    for g in order:
        group = groups[g]
        if filled and filled + len(group) > batch_size:
            batches.append(np.concatenate(current))
            current, filled = [], 0
        current.append(group)
        filled += len(group)
    if current:
        batches.append(np.concatenate(current))
    return batches

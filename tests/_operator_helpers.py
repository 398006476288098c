"""Helpers for the operator tests: Snort lines with chosen rule ids, and an embedder whose geometry is known.

:class:`RuleEmbedder` maps each alert line to a unit vector fixed by its rule id (sid):
sids listed in ``directions`` point along their own axis (plus a tiny per-line jitter),
every other sid gets a random direction of its own per line (far from everything).  So
the expected known/new/filtered outcome of a correlation is known exactly, and the tests
check the correlation logic rather than a model's quality.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from lstm_rnn_correlation.operator import SavedClustering

DIM = 16
_SID = re.compile(r"\[(\d+):(\d+):(\d+)\]")


def snort(sid: int, n: int, *, victim: str = "192.168.1.10", message: str | None = None, minute: int = 0,
          second: int = 0) -> str:
    """One Snort fast line with rule ``1:sid:1`` (``n`` makes lines distinct through the source port)."""
    message = message or f"ET TEST rule {sid}"
    return (f"08/15-10:{minute:02d}:{second:02d}.{n:06d}  [**] [1:{sid}:1] {message} [**] "
            f"[Classification: Misc activity] [Priority: 2] {{TCP}} 10.0.0.{1 + n % 200}:{1024 + n} -> {victim}:80")


class RuleEmbedder:
    """A stand-in embedder: the vector of a line is decided by its sid (see the module docstring).

    Parameters
    ----------
    directions : sid -> axis (0..DIM-1) for sids that form tight clusters.
    """

    n_features_out_ = DIM

    def __init__(self, directions: dict[int, int]):
        self.directions = directions
        self.calls: list[int] = []

    def transform(self, lines) -> np.ndarray:
        """One unit vector per line."""
        lines = list(lines)
        self.calls.append(len(lines))
        out = np.zeros((len(lines), DIM), dtype=np.float32)
        for i, line in enumerate(lines):
            m = _SID.search(line)
            sid = int(m.group(2)) if m else -1
            rng = np.random.default_rng(zlib.crc32(line.encode()))
            if sid in self.directions:
                v = np.zeros(DIM)
                v[self.directions[sid]] = 1.0
                v += rng.normal(scale=1e-4, size=DIM)
            else:
                v = rng.normal(size=DIM)
            out[i] = v / np.linalg.norm(v)
        return out


def clustering_for(embedder: RuleEmbedder, train: dict[int, tuple[int, int]], eps: float = 0.01,
                   min_samples: int = 3, sha: str = "f" * 64) -> SavedClustering:
    """A saved clustering fitted on ``count`` lines of each ``sid -> (incident, count)``."""
    from lstm_rnn_correlation.operator import fit_clustering

    lines, incidents = [], []
    for sid, (incident, count) in train.items():
        for n in range(count):
            lines.append(snort(sid, 500 + n))
            incidents.append(incident)
    names = {k: ("benign" if k == -1 else f"incident-{k}") for k in set(incidents)}
    return fit_clustering(embedder.transform(lines), incidents, eps, min_samples, model_sha256=sha,
                          incident_names=names)


__all__ = ["DIM", "RuleEmbedder", "clustering_for", "snort"]

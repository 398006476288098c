"""Shared helpers for the metrics, clustering, methods and evaluation tests.

* the original formulation of the clustering (full cosine distance matrix,
  scikit-learn DBSCAN on it, brute-force prediction) to compare against;
* small synthetic vector sets with duplicates;
* a small synthetic alert data set (Snort fast lines) in the data set CSV layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from sklearn.cluster import DBSCAN

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AIT_ADS = SHARED_DATA / "ait-ads" / "russellmitchell_alerts.csv.gz"


def reference_dbscan(X: np.ndarray, eps: float, min_samples: int):
    """The original: precomputed cosine distance matrix, scikit-learn DBSCAN on it."""
    D = cdist(X, X, metric="cosine")
    return DBSCAN(eps=eps, min_samples=min_samples, metric="precomputed").fit(D)


def reference_predict(X_train: np.ndarray, model, X_new: np.ndarray, eps: float) -> np.ndarray:
    """Brute force: label of the nearest training core sample within eps (lowest index on ties), else -1."""
    core = model.core_sample_indices_
    if core.size == 0:
        return np.full(len(X_new), -1)
    D = cdist(X_new, X_train[core], metric="cosine")
    j = np.argmin(D, axis=1)
    near = D[np.arange(len(X_new)), j]
    return np.where(near <= eps, model.labels_[core][j], -1)


def clustered_vectors(seed: int = 0, n_centres: int = 12, per_centre: int = 20, dim: int = 8,
                      spread: float = 0.05, n_duplicates: int = 60, n_noise: int = 30) -> np.ndarray:
    """Unit vectors around random centres, with exact duplicates and scattered noise, shuffled."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_centres, dim))
    X = np.repeat(centres, per_centre, axis=0) + rng.normal(scale=spread * np.sqrt(dim), size=(n_centres * per_centre, dim))
    X = np.vstack([X, X[rng.integers(0, len(X), n_duplicates)], rng.normal(size=(n_noise, dim))])
    X = X[rng.permutation(len(X))]
    return X / np.linalg.norm(X, axis=1, keepdims=True)


_SIGNATURES = [
    (1, 2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2, "TCP"),
    (1, 2008581, "ET P2P BitTorrent DHT ping request", "Potential Corporate Privacy Violation", 1, "UDP"),
    (1, 2402000, "ET DROP Dshield Block Listed Source", "Misc Attack", 2, "TCP"),
    (120, 3, "(http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE", "Unknown Traffic", 3, "TCP"),
    (1, 2012648, "ET POLICY Dropbox Client Broadcasting", "Potential Corporate Privacy Violation", 1, "UDP"),
    (1, 2027865, "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic", 2, "UDP"),
    (1, 2006546, "ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack", "Attempted Administrator Privilege Gain", 1, "TCP"),
    (1, 2100366, "GPL ICMP_INFO PING *NIX", "Misc activity", 3, "ICMP"),
    (1, 2018959, "ET POLICY PE EXE or DLL Windows file download HTTP", "Potential Corporate Privacy Violation", 1, "TCP"),
    (1, 2016149, "ET INFO Session Traversal Utilities for NAT (STUN Binding Request)", "Attempted User Privilege Gain", 2, "UDP"),
]


def _fast_line(rng, sig, victim: str, minute: int) -> str:
    gid, sid, msg, cls, prio, proto = sig
    ts = f"08/15-{10 + minute // 60:02d}:{minute % 60:02d}:{rng.integers(0, 60):02d}.{rng.integers(0, 999999):06d}"
    remote = f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
    if proto == "ICMP":
        ends = f"{remote} -> {victim}"
    else:
        ends = f"{remote}:{rng.choice([80, 443, 53, 22, 6881])} -> {victim}:{rng.integers(1024, 65535)}"
    return (f"{ts}  [**] [{gid}:{sid}:1] {msg} [**] [Classification: {cls}] [Priority: {prio}] "
            f"{{{proto}}} {ends}")


def alert_dataset(seed: int = 0, n_incidents: int = 4, per_incident: int = 40, n_benign: int = 160,
                  n_cuts: int = 10) -> pd.DataFrame:
    """A small data set in the CSV layout (incident, alert, cut): each incident has its own
    victim IP and a few signatures of its own; benign alerts use the other signatures."""
    rng = np.random.default_rng(seed)
    rows = []
    for inc in range(n_incidents):
        victim = f"192.168.{inc + 1}.{10 + inc}"
        sigs = [_SIGNATURES[(2 * inc + j) % 6] for j in range(2)]
        for _ in range(per_incident):
            sig = sigs[rng.integers(0, len(sigs))]
            rows.append((str(inc + 1), _fast_line(rng, sig, victim, minute=10 * inc + rng.integers(0, 5))))
    for _ in range(n_benign):
        sig = _SIGNATURES[6 + rng.integers(0, 4)]
        victim = f"10.0.{rng.integers(0, 4)}.{rng.integers(2, 250)}"
        rows.append(("benign", _fast_line(rng, sig, victim, minute=int(rng.integers(0, 60)))))
    frame = pd.DataFrame(rows, columns=["incident", "alert"])
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame["cut"] = np.arange(len(frame)) % n_cuts
    return frame


def write_dataset(path: Path, **kwargs) -> Path:
    """Write :func:`alert_dataset` as a data set CSV and return its path."""
    alert_dataset(**kwargs).to_csv(path, index=False)
    return path

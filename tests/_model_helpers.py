"""Small synthetic alert data for the model tests (Snort fast lines, seeded).

Each incident has its own victim IP and a few signatures; benign alerts come from
other hosts and share some of the incidents' signatures, so the model must read
more than the message to separate them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGNATURES = [
    ("1:2008581:3", "ET P2P BitTorrent DHT ping request", "Potential Corporate Privacy Violation", 1, "UDP"),
    ("1:2010935:2", "ET POLICY Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 2, "TCP"),
    ("120:3:1", "(http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE", "Unknown Traffic", 3, "TCP"),
    ("1:2402000:3", "ET DROP Dshield Block Listed Source group 1", "Misc Attack", 2, "TCP"),
    ("1:2013028:5", "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 2, "TCP"),
    ("1:2018959:4", "ET POLICY PE EXE or DLL Windows file download HTTP", "Potential Corporate Privacy Violation", 1, "TCP"),
    ("1:2027865:3", "ET INFO Observed DNS Query to .cloud TLD", "Potentially Bad Traffic", 2, "UDP"),
    ("1:2100366:8", "GPL ICMP_INFO PING *NIX", "Misc activity", 3, "ICMP"),
]


def snort_line(rng: np.random.Generator, sig, src: str, dst: str, hour: int) -> str:
    """One Snort fast alert line."""
    rule, message, classification, priority, proto = sig
    stamp = f"08/{rng.integers(10, 20):02d}-{hour:02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}.{rng.integers(0, 999999):06d}"
    if proto == "ICMP":
        ends = f"{src} -> {dst}"
    else:
        ends = f"{src}:{rng.integers(1024, 65535)} -> {dst}:{rng.choice([80, 443, 53, 1433])}"
    return (f"{stamp}  [**] [{rule}] {message} [**] [Classification: {classification}] "
            f"[Priority: {priority}] {{{proto}}} {ends}")


def synthetic_dataset(n_incidents: int = 4, per_incident: int = 30, n_benign: int = 120, seed: int = 0,
                      short: bool = False) -> pd.DataFrame:
    """A data set frame with columns incident, alert, cut (cuts dealt round-robin after a shuffle).

    Parameters
    ----------
    n_incidents, per_incident : incidents and alerts per incident.
    n_benign : benign alerts.
    seed : seed.
    short : keep only rule id, the message's first three words, protocol and addresses
        (lines of about 70 characters, for fast tests).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_incidents):
        victim = f"192.168.{k + 1}.{rng.integers(2, 250)}"
        sigs = [SIGNATURES[(2 * k + j) % len(SIGNATURES)] for j in range(2)]
        hour = int(rng.integers(0, 24))
        for _ in range(per_incident):
            sig = sigs[int(rng.integers(len(sigs)))]
            peer = f"{rng.integers(11, 220)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
            src, dst = (victim, peer) if rng.random() < 0.5 else (peer, victim)
            rows.append((str(k), snort_line(rng, sig, src, dst, hour)))
    for _ in range(n_benign):
        sig = SIGNATURES[int(rng.integers(len(SIGNATURES)))]
        host = f"10.0.{rng.integers(0, 4)}.{rng.integers(2, 250)}"
        peer = f"{rng.integers(11, 220)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
        rows.append(("benign", snort_line(rng, sig, host, peer, int(rng.integers(0, 24)))))
    frame = pd.DataFrame(rows, columns=["incident", "alert"])
    if short:
        parts = frame.alert.str.extract(r"\[\*\*\] \[(?P<rule>[^\]]+)\] (?P<msg>.*?) \[\*\*\].*(?P<tail>\{.*)$")
        words = parts.msg.str.split().str[:3].str.join(" ")
        frame["alert"] = "[" + parts["rule"] + "] " + words + " " + parts["tail"]
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame["cut"] = np.arange(len(frame)) % 10
    return frame


def write_dataset(path, **kwargs) -> pd.DataFrame:
    """Write :func:`synthetic_dataset` as a data set CSV; returns the frame."""
    frame = synthetic_dataset(**kwargs)
    frame.to_csv(path, index=False)
    return frame


_BUNDLED = {}


def bundled_dataset_csv(tmp_path_factory):
    """The bundled default data set CSV (generated and preprocessed with seed 0), built once per session.

    Skips the calling test when the generator or the preprocessing step is missing.
    """
    import os
    from pathlib import Path

    import pytest

    if "csv" in _BUNDLED:
        return _BUNDLED["csv"]
    try:
        from lstm_rnn_correlation import preprocessing as pp
    except ImportError as exc:  # pragma: no cover - only before the data pipeline exists
        pytest.skip(f"bundled data pipeline not available: {exc}")
    root = tmp_path_factory.mktemp("bundled")
    repo = Path(__file__).resolve().parents[1]
    old = os.environ.get("LRC_DATA_DIR")
    os.environ["LRC_DATA_DIR"] = str(root / "data")
    try:
        config = pp.load_data_config(repo / "data_cfg.py")
        result = pp.preprocess_mcfp(config, root / "alerts.csv", seed=0)
    finally:
        if old is None:
            os.environ.pop("LRC_DATA_DIR", None)
        else:
            os.environ["LRC_DATA_DIR"] = old
    _BUNDLED["csv"] = Path(result.paths["data"])
    return _BUNDLED["csv"]

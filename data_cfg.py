"""Which alert logs make up the MCFP-style data set: edit this file to use your own data.

Like the original project's ``data_cfg.py``, it lists one Snort alert log per incident with
the incident's id and its victim's IP address, the benign recording, and the lists of IP
addresses known to be infected (alerts in the benign recording that touch them are
discarded).  ``lstm-rnn-correlation preprocess --config data_cfg.py`` and
``preprocessing.ipynb`` read it.

By default it points at the bundled synthetic data, which ``ensure_data()`` generates into
``DATA_DIR`` on first use (``lstm-rnn-correlation generate --out DATA_DIR --seed
GENERATOR_SEED`` writes the same files).  Set the environment variable ``LRC_DATA_DIR`` to put
that data elsewhere.  To use real captures, replace the paths and victim addresses below
(relative paths are read from this file's folder).
"""

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("LRC_DATA_DIR") or REPO_DIR / "data" / "generated")

#: Seed of the bundled synthetic data (same seed, byte-identical files).
GENERATOR_SEED = 0
#: Alert format of the files below (see ``lstm-rnn-correlation parse --help``).
FORMAT = "snort"
#: Snort writes no year by default; timestamps are read in this year.
YEAR = 2015

INCIDENTS = [
    {"incident": 1, "name": "capture-01-ek-dropper",
     "path": DATA_DIR / "incidents" / "capture-01-ek-dropper.log", "victim_ip": "147.32.84.165"},
    {"incident": 2, "name": "capture-02-worm-scanner",
     "path": DATA_DIR / "incidents" / "capture-02-worm-scanner.log", "victim_ip": "147.32.84.191"},
    {"incident": 3, "name": "capture-03-http-clickfraud",
     "path": DATA_DIR / "incidents" / "capture-03-http-clickfraud.log", "victim_ip": "147.32.84.192"},
    {"incident": 4, "name": "capture-04-adware-p2p",
     "path": DATA_DIR / "incidents" / "capture-04-adware-p2p.log", "victim_ip": "147.32.84.193"},
    {"incident": 5, "name": "capture-05-spambot",
     "path": DATA_DIR / "incidents" / "capture-05-spambot.log", "victim_ip": "147.32.84.204"},
    {"incident": 6, "name": "capture-06-banking-trojan",
     "path": DATA_DIR / "incidents" / "capture-06-banking-trojan.log", "victim_ip": "147.32.84.205"},
    {"incident": 7, "name": "capture-07-irc-botnet",
     "path": DATA_DIR / "incidents" / "capture-07-irc-botnet.log", "victim_ip": "147.32.84.206"},
]

BENIGN = [
    {"name": "benign", "path": DATA_DIR / "benign" / "benign.log"},
]

DISCARD_IP_LISTS = [
    DATA_DIR / "discard" / "commercial-discard-ips.txt",
    DATA_DIR / "discard" / "manual-discard-ips.txt",
]


def _listed_files():
    return ([Path(e["path"]) for e in INCIDENTS] + [Path(b["path"]) for b in BENIGN]
            + [Path(p) for p in DISCARD_IP_LISTS])


def _manifest():
    """The generator's manifest in DATA_DIR, or None when DATA_DIR holds no generated data."""
    import json

    try:
        manifest = json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("generator") != "lstm_rnn_correlation.generate":
        return None
    return manifest


def ensure_data(quiet=True):
    """Generate the bundled synthetic data into ``DATA_DIR`` when it is missing or stale.

    Data is (re)generated when a listed file under ``DATA_DIR`` is missing, or when
    ``DATA_DIR`` holds generated data of another seed or generator version; it has as many
    incidents as the highest incident id listed.  Files the
    generator did not write are never replaced, and files outside ``DATA_DIR`` are never
    generated: a missing one is reported as a ``UserError``.

    Parameters
    ----------
    quiet : hide the generator's progress bar.

    Returns
    -------
    ``DATA_DIR``.
    """
    from lstm_rnn_correlation.errors import UserError
    from lstm_rnn_correlation.generate import GENERATOR_VERSION, generate_dataset

    data_dir = DATA_DIR.resolve()
    listed = _listed_files()
    inside = [p for p in listed if data_dir in p.resolve().parents]
    missing = [p for p in listed if not p.is_file()]
    outside = [p for p in missing if p not in inside]
    if outside:
        raise UserError("data_cfg.py lists files that do not exist: " + ", ".join(map(str, outside)))
    manifest = _manifest()
    stale = manifest is not None and (manifest.get("seed") != GENERATOR_SEED
                                      or manifest.get("generator_version") != GENERATOR_VERSION)
    if not missing and not stale:
        return DATA_DIR
    if manifest is None and any(p.is_file() for p in inside):
        raise UserError(f"data_cfg.py lists files that do not exist: {', '.join(map(str, missing))} "
                        f"(not generating them: {DATA_DIR} holds files the generator did not write)")
    n_incidents = max(int(e["incident"]) for e in INCIDENTS)
    generate_dataset(DATA_DIR, seed=GENERATOR_SEED, n_incidents=n_incidents, quiet=quiet)
    still = [p for p in listed if not p.is_file()]
    if still:
        raise UserError("data_cfg.py lists files the generator does not write: " + ", ".join(map(str, still)))
    return DATA_DIR

"""Shared fixtures: the bundled default data set, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def bundled_csv(tmp_path_factory) -> Path:
    """The bundled default data set CSV (incident, alert, cut), seed 0.

    Generated from the repository's own ``data_cfg.py`` into a session temp folder, exactly
    as ``make reproduce`` does, so tests see what users get.
    """
    from lstm_rnn_correlation import preprocessing as pp

    root = tmp_path_factory.mktemp("bundled")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LRC_DATA_DIR", str(root / "data"))
        config = pp.load_data_config(REPO / "data_cfg.py")
        result = pp.preprocess_mcfp(config, root / "out" / "alerts.csv", seed=0)
    return Path(result.paths["data"])


@pytest.fixture(scope="session")
def ait_ads_file() -> Path:
    """The real AIT-ADS russellmitchell alerts (skips where ../shared/data is absent)."""
    path = SHARED_DATA / "ait-ads" / "russellmitchell_alerts.csv.gz"
    if not path.exists():
        pytest.skip(f"real AIT-ADS data not present at {path} (../shared/data is not part of a clone)")
    return path

"""``preprocessing.ipynb`` runs top to bottom, and as the script nbconvert makes of it.

The notebook is a thin driver: its parameters cell reads the original's environment
variables, so the tests point every output into a temporary folder through them.  The
kernel is the one of the Python running the tests (jupyter_client starts ``python3``
kernels with ``sys.executable``), so the virtual environment's package is what runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "preprocessing.ipynb"


def _notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_committed_without_outputs():
    nb = _notebook()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs: strip them before committing"
            assert cell.execution_count is None, f"cell {i} has an execution count"


def test_first_code_cell_is_the_parameters_cell():
    nb = _notebook()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in ("DATA_CFG", "CSVOUT", "RAND_SEED", "REPORT_DIR", "TEST_CSVOUT"):
        assert f'os.environ.get("{name}"' in code[0].source, name
    # no magics: the nbconvert script must run under plain python
    assert not any(line.lstrip().startswith(("%", "!")) for c in code for line in c.source.splitlines())


@pytest.fixture(scope="module")
def data_dir(bundled_csv):
    """The default data of the repository's data_cfg.py, as generated for the session (conftest)."""
    return bundled_csv.parent.parent / "data"


def _env(data_dir: Path, out: Path, seed: int = 0) -> dict:
    env = dict(os.environ)
    env.update({"LRC_DATA_DIR": str(data_dir), "DATA_CFG": str(REPO / "data_cfg.py"),
                "CSVOUT": str(out / "alerts.csv"), "TEST_CSVOUT": str(out / "alerts_test.csv"),
                "REPORT_DIR": str(out / "report"), "RAND_SEED": str(seed), "QUIET": "1",
                "MPLBACKEND": "Agg"})
    return env


def _check_outputs(out: Path) -> pd.DataFrame:
    data = pd.read_csv(out / "alerts.csv", dtype={"incident": str}, keep_default_na=False)
    assert list(data.columns) == ["incident", "alert", "cut"]
    assert (data["incident"] == "benign").sum() * 2 == len(data)
    assert set(data["cut"]) == set(range(10))
    assert (out / "alerts_test.csv").is_file()
    for name in ("timespan_before.png", "timespan_after.png", "overview_after.csv", "report.json"):
        assert (out / "report" / name).is_file(), name
    return data


@pytest.mark.slow
def test_notebook_executes_top_to_bottom(tmp_path, data_dir, monkeypatch):
    from nbclient import NotebookClient

    out = tmp_path / "nb"
    for key, value in _env(data_dir, out, seed=2).items():
        monkeypatch.setenv(key, value)
    nb = _notebook()
    client = NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    data = _check_outputs(out)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs)
    assert not any(o.get("output_type") == "error" for o in outputs)
    # the notebook does nothing of its own: the package with the same parameters writes the same file
    from lstm_rnn_correlation import preprocessing as pp

    direct = pp.preprocess("mcfp", tmp_path / "direct" / "alerts.csv", config=REPO / "data_cfg.py", seed=2)
    assert direct.paths["data"].read_bytes() == (out / "alerts.csv").read_bytes()
    assert len(data) == len(direct.data)


@pytest.mark.slow
def test_nbconvert_script_runs(tmp_path, data_dir):
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to=script", str(NOTEBOOK),
                    "--output-dir", str(tmp_path)], check=True, capture_output=True, text=True)
    script = tmp_path / "preprocessing.py"
    assert script.is_file()
    out = tmp_path / "script"
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(data_dir, out),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_outputs(out)
    assert str(out / "alerts.csv") in proc.stdout

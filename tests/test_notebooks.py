"""``lstm-rnn-tied-weights.ipynb`` and ``results.ipynb`` run top to bottom (nbclient) and as
the scripts ``jupyter nbconvert --to=script`` makes of them, on a tiny configuration.

The notebooks are thin drivers: their parameters cells read the original's environment
variables, so the tests set those.  The kernel runs the Python running the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TIED = REPO / "lstm-rnn-tied-weights.ipynb"
RESULTS = REPO / "results.ipynb"
ORIGINAL_VARIABLES = ("CSVIN", "VAL_CUT", "RAND_SEED", "EPOCHS", "BATCH_SIZE", "MAX_PAIRS", "NN_UNITS",
                      "NN_LEARNING_RATE", "OLD_JOB", "MAX_HOURS", "OUT", "METHOD")
TINY = {"EPOCHS": "1", "NN_UNITS": "8", "BATCH_SIZE": "64", "SELECTION": "reuse", "QUIET": "1", "MPLBACKEND": "Agg"}


@pytest.mark.parametrize("path,names", [(TIED, ORIGINAL_VARIABLES), (RESULTS, ("RESULTS_DIRS", "FIGDIR"))])
def test_parameters_cell_reads_the_environment_and_no_magics(path, names):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "papermill needs the first code cell tagged"
    for name in names:
        assert f'os.environ.get("{name}"' in code[0].source, name
    assert not any(line.lstrip().startswith(("%", "!")) for c in code for line in c.source.splitlines())
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None


@pytest.fixture(scope="module")
def tiny_csv(bundled_csv, tmp_path_factory):
    """Three cuts of 60 alerts of the bundled data set."""
    data = pd.read_csv(bundled_csv)
    tiny = pd.concat([data[data["cut"] == c].sample(60, random_state=0) for c in (0, 1, 2)])
    path = tmp_path_factory.mktemp("tiny") / "tiny.csv"
    tiny.to_csv(path, index=False)
    return path


def _script(notebook: Path, where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to=script", str(notebook),
                    "--output-dir", str(where)], check=True, capture_output=True, text=True)
    script = where / (notebook.stem + ".py")
    assert script.is_file()
    return script


def _execute(notebook: Path, cwd: Path, env: dict, monkeypatch):
    from nbclient import NotebookClient

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(cwd)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(o.get("output_type") == "error" for o in outputs)
    return outputs


def _has_image(outputs) -> bool:
    return any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs)


@pytest.fixture(scope="module")
def runs(tiny_csv, tmp_path_factory, request):
    """Run folders: the notebook under nbclient (METHOD=lsa, cut 0) and its script as the original's
    was run (LSTM, VAL_CUT=2, RAND_SEED=3)."""
    work = tmp_path_factory.mktemp("tied")
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    outputs = _execute(TIED, work, {"CSVIN": str(tiny_csv), "VAL_CUT": "0", "RAND_SEED": "1", "METHOD": "lsa",
                                    "OUT": str(work / "nb-run"), **TINY}, mp)
    mp.undo()
    script = _script(TIED, work)
    env = dict(os.environ)
    for key in ORIGINAL_VARIABLES:  # only what the test sets, as a user's shell would
        env.pop(key, None)
    env.update(TINY)
    env.update({"CSVIN": str(tiny_csv), "VAL_CUT": "2", "RAND_SEED": "3"})
    proc = subprocess.run([sys.executable, script.name], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, outputs, proc


@pytest.mark.slow
def test_tied_weights_notebook_executes_and_saves_everything_in_the_run_folder(runs):
    work, outputs, _ = runs
    run = work / "nb-run"  # METHOD=lsa: the baseline through the same notebook, nothing trained
    config = json.loads((run / "config.json").read_text())
    assert (config["val_cut"], config["seed"], config["method"]) == (0, 1, "lsa")
    assert not (run / "checkpoints").exists()
    for name in ("evaluation/selected.csv", "evaluation/summary.md", "evaluation/per_class.csv",
                 "evaluation/plots/grid_lsa.png"):
        assert (run / name).is_file(), name
    selected = pd.read_csv(run / "evaluation" / "selected.csv")
    assert list(selected["cut"]) == [0] and list(selected["method"]) == ["lsa"]
    assert _has_image(outputs), "the notebook shows its figures inline"


@pytest.mark.slow
def test_tied_weights_script_runs_like_the_original(runs):
    work, _, proc = runs
    run = work / "runs" / "lstm-cut2-seed3"  # the default run folder, named by method, cut and seed
    config = json.loads((run / "config.json").read_text())
    assert (config["val_cut"], config["seed"], config["epochs"], config["units"]) == (2, 3, 1, [8])
    assert len(pd.read_csv(run / "metrics.csv")) == 1
    for name in ("metrics.png", "pair_errors.csv", "pair_errors.png", "histograms/epoch-001.csv",
                 "evaluation/selected.csv", "evaluation/plots/grid_lstm.png"):
        assert (run / name).is_file(), name
    assert f"figure: {Path('runs/lstm-cut2-seed3/metrics.png')}" in proc.stdout
    assert list(pd.read_csv(run / "evaluation" / "selected.csv")["cut"]) == [2]


@pytest.mark.slow
def test_results_notebook_and_script(runs, monkeypatch, tmp_path):
    work, _, _ = runs
    dirs = [work / "nb-run", work / "runs" / "lstm-cut2-seed3"]
    outputs = _execute(RESULTS, tmp_path, {"RESULTS_DIRS": " ".join(map(str, dirs)),
                                           "FIGDIR": str(tmp_path / "nb-figs"), "MPLBACKEND": "Agg"}, monkeypatch)
    assert _has_image(outputs)
    figs = tmp_path / "nb-figs"
    rates = (figs / "table_rates.md").read_text()
    assert "| lstm | tiny | chosen on training data | 1 |" in rates and "| lsa | tiny |" in rates
    for name in ("imr_arf.png", "imr_arf.pdf", "similarity_tiny.png", "grid_tiny_lstm.pdf", "table_rates.tex"):
        assert (figs / name).is_file(), name
    # the script, with the data set named by LABELS, tables only (PLOTS=0), from one folder
    script = _script(RESULTS, tmp_path)
    env = dict(os.environ, RESULTS_DIRS=str(dirs[0]), FIGDIR="script-figs", LABELS="bundled",
               PLOTS="0")
    proc = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| lsa | bundled |" in (tmp_path / "script-figs" / "table_rates.md").read_text()
    assert "summary: script-figs" in proc.stdout
    assert not list((tmp_path / "script-figs").glob("*.png"))

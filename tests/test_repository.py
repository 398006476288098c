"""The repository's shape that users and CI rely on."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]

TOP_LEVEL = [
    "data_cfg.py", "preprocessing.ipynb", "lstm-rnn-tied-weights.ipynb", "results.ipynb",
    "setup-for-cuda-on-aws.sh", "slurm-job.sl", "requirements.txt", "tests", "README.md",
    "LICENSE", "pyproject.toml", "Makefile", ".ci/run",
]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_entry_exists(name):
    assert (REPO / name).exists(), f"{name} is part of the layout users know"


def test_license_is_lgpl3():
    text = (REPO / "LICENSE").read_text()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3" in text


def test_torch_pinned_to_the_cpu_build_version():
    lines = [l.strip() for l in (REPO / "requirements.txt").read_text().splitlines()]
    assert "torch==2.13.0" in lines
    # every requirement is pinned exactly, so a fresh venv is the venv CI tested
    reqs = [l for l in lines if l and not l.startswith("#")]
    assert all("==" in r for r in reqs), reqs


@pytest.mark.parametrize("notebook", sorted(p.name for p in REPO.glob("*.ipynb")))
def test_notebooks_committed_without_outputs(notebook):
    nb = nbformat.read(REPO / notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{notebook}: a cell has outputs"
            assert cell.execution_count is None, f"{notebook}: a cell has an execution count"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci/run").read_text()
    assert "make test" in readme and "make reproduce" in readme
    assert re.search(r"^make test$", ci, re.M), "CI must run the README's test command"


def test_module_entry_point_help():
    proc = subprocess.run([sys.executable, "-m", "lstm_rnn_correlation", "--help"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "COMMAND" in proc.stdout

"""``lstm-rnn-correlation results``: the paper's tables and figures over many runs.

Most tests build small fake crossval/evaluate outputs (the layout ``evaluation.py``
writes) so every number in a table can be checked against its input; one test runs a
real tiny ``crossval`` and feeds it to ``results``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_rnn_correlation import cli
from lstm_rnn_correlation import results as res

METRICS = ("ARF", "NARF", "IMR", "accuracy", "precision", "recall", "f1")
GRID_COLUMNS = ("n_clusters", "homogeneity", "n_noise", "accuracy", "precision", "recall", "f1", "ARF", "IMR",
                "NARF")
POINT_LABELS = ("chosen on training data", "chosen by looking at validation")


def _fake_results(folder: Path, methods, cuts, seed: int, per_class: bool = True) -> pd.DataFrame:
    """Write metrics.csv, selected.csv and selected_per_class.csv as crossval does; return selected."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows, selected, pc = [], [], []
    for method in methods:
        for cut in cuts:
            for split in ("train", "inner", "validation"):
                for eps in (0.01, 0.1):
                    for ms in (1, 3):
                        row = {"method": method, "cut": cut, "split": split, "eps": eps, "min_samples": ms}
                        row.update({c: float(rng.uniform(0, 1)) for c in GRID_COLUMNS})
                        row["ARF"] = float(rng.uniform(2, 30))
                        rows.append(row)
            sel = {"method": method, "cut": cut, "eps": 0.1, "min_samples": 3, "feasible": True}
            for m in METRICS:
                sel[m] = float(rng.uniform(0, 1))
                sel[f"by_validation_{m}"] = float(rng.uniform(0, 1))
            sel["ARF"], sel["by_validation_ARF"] = float(rng.uniform(2, 30)), float(rng.uniform(2, 30))
            selected.append(sel)
            for chosen in ("training", "by_validation"):
                for inc, name in ((-1, "benign"), (1, "scan_a")):
                    pc.append({"method": method, "cut": cut, "split": "validation", "eps": 0.1, "min_samples": 3,
                               "incident": inc, "incident_name": name, "precision": rng.uniform(),
                               "recall": rng.uniform(), "f1": rng.uniform(), "support": 5, "accuracy": rng.uniform(),
                               "chosen": chosen})
    pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
    frame = pd.DataFrame(selected)
    frame.to_csv(folder / "selected.csv", index=False)
    if per_class:
        pd.DataFrame(pc).to_csv(folder / "selected_per_class.csv", index=False)
    return frame


def _fake_similarity(methods, cuts) -> pd.DataFrame:
    """A similarity.csv as crossval writes it: 40 bins over [-1, 1] per method and cut; cut c of
    method k has correlated counts 10 * (k + 1) * (c + 1) in the top bin and 2 in the bottom one,
    uncorrelated counts 1000 per bin."""
    edges = np.linspace(-1, 1, 41)
    parts = []
    for k, method in enumerate(methods):
        for cut in cuts:
            correlated = np.zeros(40, dtype=int)
            correlated[-1], correlated[0] = 10 * (k + 1) * (cut + 1), 2
            parts.append(pd.DataFrame({"method": method, "cut": cut, "bin_left": edges[:-1], "bin_right": edges[1:],
                                       "correlated": correlated, "uncorrelated": 1000}))
    return pd.concat(parts, ignore_index=True)


def _fake_crossval(folder: Path, dataset_csv: str, methods=("lsa", "signature"), cuts=(0, 1, 2), seed=0,
                   similarity=True):
    selected = _fake_results(folder, methods, cuts, seed)
    (folder / "summary.md").write_text(f"# Cross-validation summary\n\n- data set: {dataset_csv}\n- seed: 0\n")
    if similarity:
        _fake_similarity(methods, cuts).to_csv(folder / "similarity.csv", index=False)
    return selected


def _fake_run(folder: Path, dataset_csv: str, cut: int, seed: int):
    """A finished train+evaluate run folder, with two epochs of histograms."""
    selected = _fake_results(folder / "evaluation", ["lstm"], [cut], seed)
    (folder / "config.json").write_text(json.dumps({"csv": dataset_csv, "val_cut": cut, "seed": seed}))
    hist = folder / "histograms"
    hist.mkdir(parents=True)
    for epoch in (1, 2):
        edges = np.linspace(0, 1, 11)
        pd.DataFrame({"split": "validation", "bin_left": edges[:-1], "bin_right": edges[1:],
                      "correlated": np.arange(10) * epoch, "uncorrelated": np.arange(10)[::-1] * epoch}
                     ).to_csv(hist / f"epoch-{epoch:03d}.csv", index=False)
    return selected


@pytest.fixture(scope="module")
def fake_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    cv = _fake_crossval(root / "cv", "data/mcfp_alerts.csv")
    runs = [_fake_run(root / f"run{c}", "/somewhere/cic_ids.csv", c, seed=10 + c) for c in (0, 1)]
    return root, cv, runs


@pytest.fixture(scope="module")
def written(fake_inputs, tmp_path_factory):
    root, _, _ = fake_inputs
    out = tmp_path_factory.mktemp("figs")
    status = cli.main(["results", str(root / "cv"), str(root / "run0"), str(root / "run1"), "--out", str(out)])
    assert status == 0
    return out


def test_every_table_and_figure_is_written_in_both_formats(written):
    for table in ("table_rates", "table_classification", "table_per_class"):
        assert (written / f"{table}.md").stat().st_size > 0
        assert (written / f"{table}.tex").read_text().count(r"\begin{tabular}") == 1
    for figure in ("imr_arf", "per_class_f1", "grid_mcfp_alerts_lsa", "grid_mcfp_alerts_signature",
                   "grid_cic_ids_lstm", "similarity_cic_ids", "similarity_mcfp_alerts"):
        assert (written / f"{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure
        assert (written / f"{figure}.pdf").read_bytes()[:5] == b"%PDF-", figure
    summary = (written / "summary.md").read_text()
    assert "imr_arf.png" in summary and "## Inputs" in summary
    # no temporary files left behind by the atomic writes
    assert not [p for p in written.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


def test_similarity_of_a_crossval_is_summed_over_cuts_and_normalised_per_kind(written):
    table = pd.read_csv(written / "similarity_mcfp_alerts.csv")
    assert set(table["method"]) == {"lsa", "signature"} and (table["cuts"] == 3).all()
    lsa = table[table["method"] == "lsa"].sort_values("bin_left")
    assert len(lsa) == 40
    # cuts 0, 1, 2 of the first method: 10 + 20 + 30 correlated pairs in the top bin, 3 x 2 in the bottom
    assert lsa["correlated"].iloc[-1] == 60 and lsa["correlated"].iloc[0] == 6
    assert lsa["correlated_fraction"].iloc[-1] == pytest.approx(60 / 66)
    assert (lsa["uncorrelated"] == 3000).all()
    for kind in ("correlated_fraction", "uncorrelated_fraction"):
        assert table.groupby("method")[kind].sum().to_numpy() == pytest.approx([1.0, 1.0])
    assert "similarity_mcfp_alerts.png" in (written / "summary.md").read_text()


def test_crossval_similarity_is_preferred_to_run_histograms_of_the_same_data_set(fake_inputs, tmp_path,
                                                                                 monkeypatch):
    from lstm_rnn_correlation import results_plots as rp

    root, _, _ = fake_inputs
    out = tmp_path / "out"
    plotted = []
    real_runs, real_cv = rp.plot_similarity, rp.plot_validation_similarity
    for other in ("plot_imr_arf", "plot_per_class", "plot_grids"):  # not under test here; slow
        monkeypatch.setattr(rp, other, lambda *a, **k: [])
    monkeypatch.setattr(rp, "plot_similarity", lambda *a, **k: plotted.append("runs") or real_runs(*a, **k))
    monkeypatch.setattr(rp, "plot_validation_similarity",
                        lambda *a, **k: plotted.append("crossval") or real_cv(*a, **k))
    res.results([root / "cv", root / "run0"], out, labels=["same"])
    assert plotted == ["crossval"]
    assert (out / "similarity_same.png").is_file()
    assert set(pd.read_csv(out / "similarity_same.csv")["method"]) == {"lsa", "signature"}


def test_a_real_crossval_folder_gives_the_similarity_figure(tmp_path, monkeypatch):
    from _eval_helpers import write_dataset

    from lstm_rnn_correlation import results_plots as rp

    for other in ("plot_imr_arf", "plot_per_class", "plot_grids"):  # not under test here; slow
        monkeypatch.setattr(rp, other, lambda *a, **k: [])

    csv = write_dataset(tmp_path / "small.csv", seed=8)
    cv = tmp_path / "cv"
    assert cli.main(["crossval", "--csv", str(csv), "--methods", "signature", "--cuts", "5", "--out", str(cv),
                     "--quiet", "--no-plots"]) == 0
    assert (cv / "cuts" / "signature" / "cut5" / "similarity.csv").is_file()
    figs = tmp_path / "figs"
    written = res.results([cv], figs)
    assert figs / "similarity_small.png" in written["figures"]
    assert (figs / "similarity_small.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(figs / "similarity_small.csv")
    counts = pd.read_csv(cv / "similarity.csv")
    assert table["correlated"].sum() == counts["correlated"].sum() > 0
    assert table["uncorrelated"].sum() == counts["uncorrelated"].sum() > 0


def test_rates_table_gives_min_mean_max_per_method_data_set_and_operating_point(written, fake_inputs):
    _, cv, runs = fake_inputs
    lstm = pd.concat(runs, ignore_index=True)
    md = (written / "table_rates.md").read_text()
    rows = [line.split("|")[1:-1] for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0]]
    table = pd.DataFrame([[c.strip() for c in r] for r in rows[1:]], columns=header)
    # data set names come from summary.md (crossval) and config.json (run folders)
    assert set(zip(table["method"], table["data set"])) == {("lsa", "mcfp_alerts"), ("signature", "mcfp_alerts"),
                                                            ("lstm", "cic_ids")}
    for (method, source), prefix, label in ((("lsa", cv), "", POINT_LABELS[0]),
                                            (("lstm", lstm), "by_validation_", POINT_LABELS[1])):
        rows = source[source["method"] == method]
        got = table[(table["method"] == method) & (table["operating point"] == label)].iloc[0]
        assert int(got["runs"]) == len(rows)
        for m in ("IMR", "ARF", "NARF"):
            values = rows[f"{prefix}{m}"]
            assert float(got[f"{m} min"]) == pytest.approx(values.min(), rel=1e-3)
            assert float(got[f"{m} mean"]) == pytest.approx(values.mean(), rel=1e-3)
            assert float(got[f"{m} max"]) == pytest.approx(values.max(), rel=1e-3)


def test_every_table_states_its_operating_point(written):
    for table in ("table_rates", "table_classification", "table_per_class"):
        for suffix in (".md", ".tex"):
            text = (written / f"{table}{suffix}").read_text()
            for label in POINT_LABELS:
                assert text.count(label) >= 2, (table, suffix, label)  # the note and the rows


def test_classification_and_per_class_tables(written, fake_inputs):
    _, cv, _ = fake_inputs
    md = (written / "table_classification.md").read_text()
    for m in ("accuracy", "precision", "recall", "f1"):
        assert f"{m} mean" in md
    expected = cv[cv["method"] == "signature"]["f1"].mean()
    assert f"{expected:.4g}" in md
    per_class = (written / "table_per_class.md").read_text()
    assert "| scan_a |" in per_class and "| benign |" in per_class  # incident names, not numbers
    tex = (written / "table_per_class.tex").read_text()
    assert r"scan\_a" in tex and "scan_a" not in tex.replace(r"scan\_a", "")


def test_label_names_the_data_sets(fake_inputs, tmp_path):
    root, _, _ = fake_inputs
    out = tmp_path / "out"
    res.results([root / "cv", root / "run0"], out, labels=["A&B", "C"], plots=False)
    md = (out / "table_rates.md").read_text()
    assert "| A&B |" in md and "| C |" in md
    assert r"A\&B" in (out / "table_rates.tex").read_text()
    assert set(pd.read_csv(out / "selected.csv")["dataset"]) == {"A&B", "C"}


def test_same_inputs_give_identical_tables(fake_inputs, tmp_path):
    root, _, _ = fake_inputs
    for name in ("a", "b"):
        res.results([root / "cv", root / "run1"], tmp_path / name, plots=False)
    for table in ("table_rates.md", "table_rates.tex", "table_per_class.tex", "selected.csv"):
        assert (tmp_path / "a" / table).read_bytes() == (tmp_path / "b" / table).read_bytes()


def test_a_folder_without_results_is_a_clear_error(fake_inputs, tmp_path, capsys):
    root, _, _ = fake_inputs
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    assert cli.main(["results", str(root / "cv"), str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "no results" in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written
    assert cli.main(["results", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_label_count_must_match(fake_inputs, tmp_path, capsys):
    root, _, _ = fake_inputs
    args = ["results", str(root / "cv"), str(root / "run0"), str(root / "run1"), "--out", str(tmp_path / "o")]
    assert cli.main(args + ["--label", "x", "--label", "y"]) == 2
    assert "--label" in capsys.readouterr().err


def test_a_broken_selected_csv_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "selected.csv").write_text("method,cut\nlsa,0\n")
    assert cli.main(["results", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(bad / "selected.csv") in err and "missing columns" in err


@pytest.mark.slow
def test_real_tiny_crossval_to_results(bundled_csv, tmp_path):
    data = pd.read_csv(bundled_csv)
    tiny = pd.concat([data[data["cut"] == c].sample(50, random_state=0) for c in (0, 1, 2)])
    csv = tmp_path / "tiny.csv"
    tiny.to_csv(csv, index=False)
    cv = tmp_path / "cv"
    assert cli.main(["crossval", "--csv", str(csv), "--methods", "signature", "--cuts", "0-2", "--out", str(cv),
                     "--quiet", "--no-plots"]) == 0
    figs = tmp_path / "figs"
    proc = subprocess.run([sys.executable, "-m", "lstm_rnn_correlation", "results", str(cv), "--out", str(figs)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"summary: {figs / 'summary.md'}" in proc.stdout
    for name in ("imr_arf.png", "imr_arf.pdf", "per_class_f1.png", "grid_tiny_signature.png", "table_rates.tex",
                 "similarity_tiny.png", "similarity_tiny.pdf"):
        assert (figs / name).is_file(), name
    selected = pd.read_csv(cv / "selected.csv")
    assert f"{selected['IMR'].mean():.4g}" in (figs / "table_rates.md").read_text()

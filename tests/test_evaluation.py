"""Grid evaluation, honest operating-point selection, and the evaluate/crossval commands."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from _eval_helpers import alert_dataset, write_dataset

from lstm_rnn_correlation import evaluation as EV
from lstm_rnn_correlation.cli import main
from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.methods import METHODS, AlertMethod, signature_key

GRID_POINTS = 36


def _data(**kwargs) -> pd.DataFrame:
    from lstm_rnn_correlation.training import incident_labels

    frame = alert_dataset(**kwargs)
    frame["label"] = incident_labels(frame["incident"])[0]
    return frame


# ----------------------------------------------------------------- selection


def _table(rows):
    return pd.DataFrame(rows, columns=["eps", "min_samples", "ARF", "IMR"])


def test_selection_maximises_arf_under_the_imr_target():
    table = _table([(0.01, 3, 20.0, 0.10), (0.03, 3, 12.0, 0.04), (0.1, 3, 15.0, 0.05), (0.3, 3, 30.0, 0.5)])
    row = EV.select_operating_point(table, 0.05)
    assert (row["eps"], row["min_samples"], row["feasible"]) == (0.1, 3, True)
    # a stricter target picks the other feasible point
    assert EV.select_operating_point(table, 0.045)["eps"] == 0.03


def test_selection_ties_go_to_lower_imr_then_smaller_eps_then_smaller_min_samples():
    table = _table([(0.1, 3, 10.0, 0.03), (0.03, 10, 10.0, 0.01), (0.01, 30, 10.0, 0.01), (0.01, 10, 10.0, 0.01)])
    row = EV.select_operating_point(table, 0.05)
    assert (row["eps"], row["min_samples"]) == (0.01, 10)


def test_selection_without_a_feasible_point_takes_the_lowest_imr_and_says_so():
    table = _table([(0.01, 3, 20.0, 0.3), (0.03, 3, 5.0, 0.2), (0.1, 3, 9.0, 0.2), (0.3, 3, 2.0, float("nan"))])
    row = EV.select_operating_point(table, 0.05)
    assert (row["eps"], row["feasible"]) == (0.1, False)


def test_selection_never_picks_undefined_rows():
    table = _table([(0.01, 3, float("nan"), 0.0), (0.03, 3, 2.0, 0.01)])
    assert EV.select_operating_point(table, 0.05)["eps"] == 0.03
    with pytest.raises(UserError, match="no grid point"):
        EV.select_operating_point(_table([(0.01, 3, float("nan"), float("nan"))]), 0.05)


# ----------------------------------------------------------------- options


def test_parse_cuts():
    assert EV.parse_cuts("0-9") == list(range(10))
    assert EV.parse_cuts("3, 1,1") == [1, 3]
    assert EV.parse_cuts(None, [2, 0]) == [0, 2]
    with pytest.raises(UserError, match="not in the data set"):
        EV.parse_cuts("4", [0, 1, 2])
    with pytest.raises(UserError, match="cannot read"):
        EV.parse_cuts("a-b")


def test_parse_method_options():
    got = EV.parse_method_options(["lstm.epochs=5", "lsa.ngram_range=[1,2]", "lstm.loss=supcon"], ["lstm", "lsa"])
    assert got == {"lstm": {"epochs": 5, "loss": "supcon"}, "lsa": {"ngram_range": [1, 2]}}
    with pytest.raises(UserError, match="not among"):
        EV.parse_method_options(["signature.x=1"], ["lsa"])
    with pytest.raises(UserError, match="METHOD.NAME=VALUE"):
        EV.parse_method_options(["epochs=5"], ["lsa"])


def test_inner_cuts_are_the_next_training_cuts():
    assert EV.inner_cuts_for(3, [0, 1, 2, 4, 5]) == [4]
    assert EV.inner_cuts_for(9, range(9)) == [0]
    assert EV.inner_cuts_for(8, [0, 1, 2, 3, 4, 5, 6, 7, 9], 3) == [0, 1, 9]
    with pytest.raises(UserError, match="at least 2 training cuts"):
        EV.inner_cuts_for(0, [1])


# ----------------------------------------------------------------- one cut


@pytest.fixture
def spy_method(monkeypatch):
    """A registered method that records every fit and encodes alerts by signature."""
    fits: list[list[str]] = []

    class Spy(AlertMethod):
        name = "spy"

        def __init__(self, seed: int = 0):
            self.seed = seed

        def fit(self, alerts, incidents):
            fits.append(list(alerts))
            self.keys_ = sorted({signature_key(a) for a in alerts})
            return self

        def transform(self, alerts):
            index = {k: i for i, k in enumerate(self.keys_)}
            out = np.zeros((len(alerts), len(self.keys_) + 1), dtype=np.float32)
            for row, a in enumerate(alerts):
                out[row, index.get(signature_key(a), len(self.keys_))] = 1.0
            return out

    monkeypatch.setitem(METHODS, "spy", Spy)
    return fits


@pytest.mark.parametrize("selection,expected_fits", [("holdout", 1), ("refit", 2), ("reuse", 1)])
def test_fits_never_see_the_validation_cut_and_holdout_never_sees_the_inner_cut(spy_method, selection,
                                                                                 expected_fits):
    data = _data(seed=4)
    tables = EV.evaluate_cut(data, "spy", 2, selection=selection)
    val = set(data.loc[data.cut == 2, "alert"])
    inner = set(data.loc[data.cut == 3, "alert"])
    assert tables.info["inner_cuts"] == [3]
    assert len(spy_method) == expected_fits
    for seen in spy_method:
        assert not val & set(seen)
    if selection in ("holdout", "refit"):
        assert not inner & set(spy_method[-1])  # the fit used for choosing never saw the inner cut
    if selection == "refit":
        assert inner <= set(spy_method[0])  # the validation model used all training cuts


def test_evaluate_cut_tables(spy_method):
    data = _data(seed=5)
    tables = EV.evaluate_cut(data, "spy", 0)
    m = tables.metrics
    assert len(m) == 3 * GRID_POINTS
    assert m.groupby("split").size().to_dict() == {"inner": GRID_POINTS, "train": GRID_POINTS,
                                                   "validation": GRID_POINTS}
    assert m.loc[m.split == "validation", "n_alerts"].iloc[0] == (data.cut == 0).sum()
    assert m.loc[m.split == "inner", "n_alerts"].iloc[0] == (data.cut == 1).sum()
    assert set(m.columns) >= {"method", "cut", "split", "eps", "min_samples", *EV.METRIC_COLUMNS}
    # per-class and confusion matrices for the validation split at every grid point
    assert tables.per_class.groupby(["eps", "min_samples"]).ngroups == GRID_POINTS
    cf = tables.confusion
    one = cf[(cf.eps == 0.01) & (cf.min_samples == 3)]
    for kind in ("incident_cluster", "incident_incident"):
        assert one.loc[one.kind == kind, "count"].sum() == (data.cut == 0).sum()
    assert "benign" in set(tables.per_class["incident_name"])


def test_chosen_point_does_not_depend_on_validation_labels(spy_method):
    data = _data(seed=6)
    a = EV.select_all(EV.evaluate_cut(data, "spy", 0).metrics, 0.05)
    shuffled = data.copy()
    val = shuffled.cut == 0
    shuffled.loc[val, "label"] = np.random.default_rng(0).permutation(shuffled.loc[val, "label"].to_numpy())
    b = EV.select_all(EV.evaluate_cut(shuffled, "spy", 0).metrics, 0.05)
    assert (a.eps[0], a.min_samples[0]) == (b.eps[0], b.min_samples[0])
    assert a.inner_IMR[0] == b.inner_IMR[0]


def test_signature_baseline_clusters_by_rule():
    # every incident here has rules of its own, so at the chosen point no incident is missed
    data = _data(seed=7, n_incidents=3, per_incident=60, n_benign=200)
    tables = EV.evaluate_cut(data, "signature", 0)
    selected = EV.select_all(tables.metrics, 0.05).iloc[0]
    assert selected["feasible"]
    val = tables.metrics[(tables.metrics.split == "validation") & (tables.metrics.eps == selected["eps"])
                         & (tables.metrics.min_samples == selected["min_samples"])].iloc[0]
    assert val["ARF"] > 3


# ----------------------------------------------------------------- similarity histogram


def test_similarity_histogram_counts_pairs_by_hand():
    # five alerts: incident 1 twice, incident 2 once, benign twice
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [1.0, 1.0], [-1.0, 0.0]])
    labels = np.array([1, 1, 2, -1, -1])
    hist = EV.similarity_histogram(vectors, labels, bins=4)
    assert list(hist.columns) == ["bin_left", "bin_right", "correlated", "uncorrelated"]
    assert hist["bin_left"].tolist() == [-1.0, -0.5, 0.0, 0.5]
    # 10 pairs, self-pairs excluded; the one correlated pair (0, 1) has similarity 1;
    # the benign pair (3, 4) is uncorrelated although both are benign
    assert hist["correlated"].tolist() == [0, 0, 0, 1]
    # uncorrelated similarities: (0,2) 0, (0,3) .71, (0,4) -1, (1,2) 0, (1,3) .71, (1,4) -1,
    # (2,3) .71, (2,4) 0, (3,4) -.71 -> [-1, -.5): 3, [-.5, 0): 0, [0, .5): 3, [.5, 1]: 3
    assert hist["uncorrelated"].tolist() == [3, 0, 3, 3]
    assert hist[["correlated", "uncorrelated"]].to_numpy().sum() == 5 * 4 // 2


def test_similarity_histogram_samples_at_most_max_alerts_reproducibly():
    rng = np.random.default_rng(0)
    vectors, labels = rng.normal(size=(50, 4)), rng.integers(-1, 3, size=50)
    a = EV.similarity_histogram(vectors, labels, seed=3, max_alerts=20)
    assert a[["correlated", "uncorrelated"]].to_numpy().sum() == 20 * 19 // 2
    assert len(a) == EV.SIMILARITY_BINS
    pd.testing.assert_frame_equal(a, EV.similarity_histogram(vectors, labels, seed=3, max_alerts=20))
    assert not a.equals(EV.similarity_histogram(vectors, labels, seed=4, max_alerts=20))
    # the sample is the seed's: the same rows, histogrammed in full, give the same counts
    keep = np.sort(np.random.default_rng(3).choice(50, size=20, replace=False))
    pd.testing.assert_frame_equal(a, EV.similarity_histogram(vectors[keep], labels[keep], max_alerts=20))


def test_evaluate_cut_histograms_the_validation_pairs(spy_method):
    data = _data(seed=5)
    tables = EV.evaluate_cut(data, "spy", 0)
    hist = tables.similarity
    y = data.loc[data.cut == 0, "label"].to_numpy()
    n = len(y)
    same = (y[:, None] == y[None, :]) & (y[:, None] != -1)
    n_correlated = (same.sum() - (y != -1).sum()) // 2  # off-diagonal, each pair once
    assert hist["correlated"].sum() == n_correlated
    assert hist["uncorrelated"].sum() == n * (n - 1) // 2 - n_correlated
    # spy vectors are one-hot per signature: similarities are exactly 0 or 1
    assert set(hist.loc[(hist.correlated + hist.uncorrelated) > 0, "bin_right"].round(6)) <= {0.05, 1.0}
    assert tables.info["similarity_alerts"] == n


# ----------------------------------------------------------------- crossval command


def _crossval(tmp_path, *extra):
    csv = tmp_path / "alerts.csv"
    if not csv.exists():
        write_dataset(csv, seed=8)
    out = tmp_path / "cv"
    argv = ["crossval", "--csv", str(csv), "--methods", "lsa,signature", "--cuts", "0,5", "--out", str(out),
            "--quiet", *extra]
    assert main(argv) == 0
    return csv, out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished crossval (lsa and signature, cuts 0 and 5, no plots), shared read-only."""
    return _crossval(tmp_path_factory.mktemp("crossval"), "--no-plots")


@pytest.fixture
def finished_copy(finished, tmp_path):
    """A private copy of the finished crossval, for tests that run it again."""
    import shutil

    csv, out = finished
    shutil.copy(csv, tmp_path / "alerts.csv")
    shutil.copytree(out, tmp_path / "cv")
    return tmp_path


def test_crossval_writes_the_tables_and_the_summary(finished):
    csv, out = finished
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 2 * 2 * 3 * GRID_POINTS  # methods x cuts x splits x grid
    selected = pd.read_csv(out / "selected.csv")
    assert sorted(zip(selected.method, selected.cut)) == [("lsa", 0), ("lsa", 5), ("signature", 0), ("signature", 5)]
    for col in ("eps", "min_samples", "feasible", "IMR", "ARF", "NARF", "f1", "by_validation_eps",
                "by_validation_IMR"):
        assert col in selected.columns
    # the selected row's validation numbers are the metrics table's at that point
    row = selected[(selected.method == "lsa") & (selected.cut == 5)].iloc[0]
    at = metrics[(metrics.method == "lsa") & (metrics.cut == 5) & (metrics.split == "validation")
                 & (metrics.eps == row.eps) & (metrics.min_samples == row.min_samples)].iloc[0]
    assert at.IMR == pytest.approx(row.IMR) and at.ARF == pytest.approx(row.ARF)
    summary = (out / "summary.md").read_text()
    assert "chosen on training data" in summary and "by looking at validation" in summary
    assert "9.25" in summary and "23.3" in summary  # the paper's numbers for reference
    assert (out / "per_class.csv").is_file() and (out / "selected_per_class.csv").is_file()
    sc = pd.read_csv(out / "selected_confusion.csv")
    assert set(sc.chosen) == {"training", "by_validation"}
    assert not (out / "plots").exists()


def test_crossval_draws_the_parameter_grid_plots(tmp_path):
    csv = write_dataset(tmp_path / "alerts.csv", seed=8)
    out = tmp_path / "cv"
    assert main(["crossval", "--csv", str(csv), "--methods", "signature", "--cuts", "5", "--out", str(out),
                 "--quiet", "--per-cut-plots"]) == 0
    assert (out / "plots" / "grid_signature.png").stat().st_size > 1000
    assert (out / "plots" / "signature" / "grid_cut5.png").stat().st_size > 1000


def test_crossval_output_feeds_the_operator_commands(finished):
    from lstm_rnn_correlation.operator import read_operating_point

    _, out = finished
    selected = pd.read_csv(out / "selected.csv")
    row = selected[(selected.method == "lsa") & (selected.cut == 0)].iloc[0]
    assert read_operating_point(out / "selected.csv", method="lsa", cut=0) == (row.eps, row.min_samples)


def test_crossval_resumes_without_recomputing_and_reselects_for_a_new_target(finished_copy, monkeypatch):
    csv, out = finished_copy / "alerts.csv", finished_copy / "cv"
    first = pd.read_csv(out / "metrics.csv")

    def fail(*args, **kwargs):
        raise AssertionError("a finished cut was computed again")

    monkeypatch.setattr(EV, "evaluate_cut", fail)
    assert main(["crossval", "--csv", str(csv), "--methods", "lsa,signature", "--cuts", "0,5", "--out", str(out),
                 "--quiet", "--no-plots", "--imr-target", "0.0"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), first)
    assert (pd.read_csv(out / "selected.csv")["imr_target"] == 0.0).all()


def test_crossval_recomputes_an_unfinished_or_changed_cut(finished_copy, monkeypatch):
    out = finished_copy / "cv"
    (out / "cuts" / "lsa" / "cut5" / "done.json").unlink()  # as if interrupted before finishing
    calls = []
    real = EV.evaluate_cut

    def counting(data, method, cut, **kwargs):
        calls.append((method, cut, kwargs["seed"]))
        if kwargs["seed"] == 3:
            raise KeyboardInterrupt  # enough to know it would recompute
        return real(data, method, cut, **kwargs)

    monkeypatch.setattr(EV, "evaluate_cut", counting)
    _crossval(finished_copy, "--no-plots")
    assert calls == [("lsa", 5, 0)]
    calls.clear()
    # other settings (a seed): a finished cut is computed again
    assert main(["crossval", "--csv", str(finished_copy / "alerts.csv"), "--methods", "lsa", "--cuts", "0",
                 "--out", str(out), "--quiet", "--no-plots", "--seed", "3"]) == 130
    assert calls == [("lsa", 0, 3)]


def test_crossval_recomputes_a_cut_when_a_method_default_changes(finished_copy, monkeypatch):
    # The fingerprint holds the method's defaults: an upgrade that changes one (here the
    # LSA's number of components) must not reuse cuts computed with the old one.
    from lstm_rnn_correlation.methods import LSAMethod

    calls = []

    def interrupt(data, method, cut, **kwargs):
        calls.append((method, cut))
        raise KeyboardInterrupt  # enough to know it would recompute

    monkeypatch.setattr(EV, "evaluate_cut", interrupt)
    defaults = list(LSAMethod.__init__.__defaults__)
    defaults[0] = 50  # n_components
    monkeypatch.setattr(LSAMethod.__init__, "__defaults__", tuple(defaults))
    assert main(["crossval", "--csv", str(finished_copy / "alerts.csv"), "--methods", "lsa", "--cuts", "0",
                 "--out", str(finished_copy / "cv"), "--quiet", "--no-plots"]) == 130
    assert calls == [("lsa", 0)]
    lstm = EV._method_defaults("lstm")
    assert lstm["schemes"]["inbatch"]["pooling"] == "meanmax" and lstm["min_epochs"] >= 1


def test_crossval_is_reproducible(finished, tmp_path):
    _, out = finished
    _, out2 = _crossval(tmp_path, "--no-plots")
    assert (out / "metrics.csv").read_bytes() == (out2 / "metrics.csv").read_bytes()
    assert (out / "selected.csv").read_bytes() == (out2 / "selected.csv").read_bytes()
    assert (out / "similarity.csv").read_bytes() == (out2 / "similarity.csv").read_bytes()


def test_crossval_jobs_compute_cuts_in_parallel_processes_with_the_same_numbers(finished, tmp_path):
    _, out = finished
    _, out2 = _crossval(tmp_path, "--no-plots", "--jobs", "2")
    assert (out / "metrics.csv").read_bytes() == (out2 / "metrics.csv").read_bytes()
    assert (out / "selected.csv").read_bytes() == (out2 / "selected.csv").read_bytes()
    assert (out / "similarity.csv").read_bytes() == (out2 / "similarity.csv").read_bytes()


def test_crossval_writes_the_similarity_histograms(finished):
    _, out = finished
    for method in ("lsa", "signature"):
        for cut in (0, 5):
            cut_hist = pd.read_csv(out / "cuts" / method / f"cut{cut}" / "similarity.csv")
            assert list(cut_hist.columns) == ["bin_left", "bin_right", "correlated", "uncorrelated"]
            assert len(cut_hist) == EV.SIMILARITY_BINS and cut_hist["correlated"].sum() > 0
    combined = pd.read_csv(out / "similarity.csv")
    assert list(combined.columns) == ["method", "cut", "bin_left", "bin_right", "correlated", "uncorrelated"]
    assert sorted(set(zip(combined.method, combined.cut))) == [("lsa", 0), ("lsa", 5), ("signature", 0),
                                                              ("signature", 5)]
    one = combined[(combined.method == "lsa") & (combined.cut == 5)].reset_index(drop=True)
    pd.testing.assert_frame_equal(one.drop(columns=["method", "cut"]),
                                  pd.read_csv(out / "cuts" / "lsa" / "cut5" / "similarity.csv"))


def test_cuts_finished_without_a_similarity_histogram_still_load(finished_copy, monkeypatch):
    out = finished_copy / "cv"
    (out / "cuts" / "lsa" / "cut5" / "similarity.csv").unlink()  # as written before the histogram existed
    assert EV._read_cut(out / "cuts" / "lsa" / "cut5").similarity is None

    def fail(*args, **kwargs):
        raise AssertionError("a finished cut was computed again")

    monkeypatch.setattr(EV, "evaluate_cut", fail)
    _crossval(finished_copy, "--no-plots")
    combined = pd.read_csv(out / "similarity.csv")
    assert sorted(set(zip(combined.method, combined.cut))) == [("lsa", 0), ("signature", 0), ("signature", 5)]


def test_crossval_a_failing_cut_in_a_worker_is_one_clear_error(tmp_path, capsys):
    # a worker's error (here: a method option the method rejects) reaches the user as one line
    csv = write_dataset(tmp_path / "alerts.csv", seed=1)
    argv = ["crossval", "--csv", str(csv), "--methods", "lsa", "--cuts", "0,5", "--out", str(tmp_path / "o"),
            "--quiet", "--no-plots", "--jobs", "2", "--param", "lsa.n_components=0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_an_interrupted_cut_leaves_finished_cuts_intact(tmp_path, monkeypatch):
    csv = write_dataset(tmp_path / "alerts.csv", seed=9)
    out = tmp_path / "cv"
    real = EV.evaluate_cut

    def crash_on_second(data, method, cut, **kwargs):
        if cut == 5:
            raise KeyboardInterrupt
        return real(data, method, cut, **kwargs)

    monkeypatch.setattr(EV, "evaluate_cut", crash_on_second)
    assert main(["crossval", "--csv", str(csv), "--methods", "lsa", "--cuts", "0,5", "--out", str(out),
                 "--quiet", "--no-plots"]) == 130
    assert (out / "cuts" / "lsa" / "cut0" / "done.json").is_file()
    assert not (out / "cuts" / "lsa" / "cut5").exists()
    assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("argv,message", [
    (["--methods", "lsa,nope"], "unknown method"),
    (["--cuts", "12"], "not in the data set"),
    (["--param", "lsa.bogus=1"], "no parameter"),
    (["--imr-target", "-1"], "imr-target"),
])
def test_crossval_bad_options_give_one_clear_line(tmp_path, capsys, argv, message):
    csv = write_dataset(tmp_path / "alerts.csv", seed=1)
    base = ["crossval", "--csv", str(csv), "--methods", "lsa", "--out", str(tmp_path / "o"), "--quiet",
            "--no-plots"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_crossval_bad_data_set_names_file_and_line(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    frame = alert_dataset(seed=1)
    frame["cut"] = frame["cut"].astype(object)
    frame.loc[7, "cut"] = "x"
    frame.to_csv(csv, index=False)
    assert main(["crossval", "--csv", str(csv), "--methods", "lsa", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{csv}:9" in err


# ----------------------------------------------------------------- evaluate command


def test_evaluate_a_run_folder_of_a_baseline(tmp_path):
    csv = write_dataset(tmp_path / "alerts.csv", seed=10)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"csv": str(csv), "val_cut": 4, "seed": 1, "method": "lsa"}))
    assert main(["evaluate", str(run), "--quiet", "--no-plots"]) == 0
    selected = pd.read_csv(run / "evaluation" / "selected.csv")
    assert selected.method.tolist() == ["lsa"] and selected.cut.tolist() == [4]
    assert selected.selection.tolist() == ["refit"]
    assert (run / "evaluation" / "metrics.csv").is_file() and (run / "evaluation" / "summary.md").is_file()


def test_evaluate_without_config_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--quiet"]) == 2
    assert "no config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_a_trained_lstm_run(tmp_path):
    pytest.importorskip("torch")
    csv = write_dataset(tmp_path / "alerts.csv", seed=11, per_incident=15, n_benign=60)
    run = tmp_path / "run"
    assert main(["train", "--csv", str(csv), "--val-cut", "2", "--epochs", "1", "--units", "8", "--out", str(run),
                 "--threads", "1", "--quiet"]) == 0
    assert main(["evaluate", str(run), "--selection", "reuse", "--quiet"]) == 0
    selected = pd.read_csv(run / "evaluation" / "selected.csv")
    assert selected.method.tolist() == ["lstm"] and selected.cut.tolist() == [2]
    assert (run / "evaluation" / "plots" / "grid_lstm.png").is_file()
    assert not math.isnan(selected.IMR[0])

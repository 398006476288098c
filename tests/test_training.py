"""Training runs: configuration, run folder, checkpoints, resume, budgets, reproducibility, margin."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from lstm_rnn_correlation import cli, diagnostics, training
from lstm_rnn_correlation.config import RunConfig, build_config, from_environment, merge_for_resume
from lstm_rnn_correlation.errors import AlertParseError, UserError

from _model_helpers import bundled_dataset_csv, synthetic_dataset, write_dataset

# A tiny model and short alerts keep every run here to a second or two on 2 cores.
TINY = ["--units", "8", "--batch-size", "32", "--threads", "1", "--quiet"]
ENV_VARS = ("CSVIN", "VAL_CUT", "RAND_SEED", "EPOCHS", "BATCH_SIZE", "MAX_PAIRS", "NN_UNITS",
            "NN_LEARNING_RATE", "OLD_JOB", "MAX_HOURS")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "alerts.csv"
    write_dataset(path, n_incidents=3, per_incident=20, n_benign=60, short=True)
    return path


def train_cli(*args) -> int:
    return cli.main(["train", *args])


# ---------------------------------------------------------------- configuration


def test_environment_variables_of_the_original_fill_the_configuration(monkeypatch):
    env = {"CSVIN": "a.csv", "VAL_CUT": "3", "RAND_SEED": "7", "EPOCHS": "4", "BATCH_SIZE": "500",
           "MAX_PAIRS": "10000", "NN_UNITS": "64,32", "NN_LEARNING_RATE": "0.05", "OLD_JOB": "runs/old",
           "MAX_HOURS": "1.5"}
    config = build_config({}, env)
    assert (config.csv, config.val_cut, config.seed, config.epochs, config.batch_size) == ("a.csv", 3, 7, 4, 500)
    assert (config.max_pairs, config.units, config.lr, config.resume, config.max_hours) == (
        10000, (64, 32), 0.05, "runs/old", 1.5)


def test_flags_win_over_environment_and_scheme_defaults_fill_the_rest():
    config = build_config({"val_cut": 5, "epochs": None}, {"VAL_CUT": "3", "EPOCHS": "2"})
    assert config.val_cut == 5 and config.epochs == 2
    paper = RunConfig(scheme="paper").resolved()
    assert (paper.units, paper.lr, paper.batch_size, paper.optimizer, paper.input, paper.pooling) == (
        (10,), 0.1, 10000, "sgd", "onehot", "last")
    default = RunConfig().resolved()
    assert default.optimizer == "adamw" and default.loss == "supcon"


@pytest.mark.parametrize("variable,value", [("EPOCHS", "ten"), ("NN_UNITS", "64,x"), ("NN_UNITS", "0"),
                                            ("NN_LEARNING_RATE", "fast")])
def test_bad_environment_value_names_the_variable(variable, value):
    with pytest.raises(UserError, match=variable):
        from_environment({variable: value})


def test_empty_environment_values_count_as_unset():
    assert from_environment({"EPOCHS": "", "MAX_PAIRS": "None"}) == {}


def test_resume_may_extend_budgets_but_not_change_the_model():
    saved = RunConfig(units=(8,), epochs=2, csv="a.csv").resolved()
    merged = merge_for_resume(saved, RunConfig(epochs=5, max_hours=2.0), {"epochs", "max_hours"})
    assert merged.epochs == 5 and merged.max_hours == 2.0 and merged.units == (8,)
    with pytest.raises(UserError, match="cannot change units"):
        merge_for_resume(saved, RunConfig(units=(16,)), {"units"})


# ---------------------------------------------------------------- data set input


def test_bad_cut_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("incident,alert,cut\n1,first alert,0\nbenign,second alert,12\n", encoding="utf-8")
    with pytest.raises(AlertParseError) as exc:
        training.load_dataset(path)
    assert exc.value.lineno == 3 and str(path) in str(exc.value)
    assert train_cli("--csv", str(path), "--out", str(tmp_path / "run"), *TINY) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: cut must be an integer 0-9" in err and "Traceback" not in err


@pytest.mark.parametrize("text,message", [
    ("incident,alert\n1,x\n", "missing column"),
    ("incident,alert,cut\n", "no alerts"),
    ("incident,alert,cut\n,x,1\n", ":2: empty incident"),
])
def test_bad_data_set_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=message):
        training.load_dataset(path)


def test_incident_labels_accept_ids_names_and_benign():
    labels, names = training.incident_labels(["3", 3, "benign", "BENIGN", -1, "0"])
    assert labels.tolist() == [3, 3, -1, -1, -1, 0]
    assert names[-1] == "benign"
    labels, names = training.incident_labels(["dirb", "wpscan", "benign", "dirb"])
    assert labels.tolist() == [0, 1, -1, 0] and names[1] == "wpscan"
    with pytest.raises(UserError):
        training.incident_labels([1, None])


def test_cuda_asked_for_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA"):
        training.select_device("cuda")
    assert training.select_device("auto").type == "cpu"


# ---------------------------------------------------------------- the run folder


@pytest.fixture(scope="module")
def finished_run(csv_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    assert cli.main(["train", "--csv", str(csv_path), "--val-cut", "2", "--out", str(out), "--epochs", "2", *TINY]) == 0
    return out


def test_run_folder_holds_everything_the_original_wrote(finished_run):
    out = finished_run
    config = json.loads((out / "config.json").read_text())
    assert config["val_cut"] == 2 and config["units"] == [8] and config["scheme"] == "inbatch"
    for name in ("info.log", "verbose.log", "metrics.csv", "metrics.png", "pair_errors.csv", "pair_errors.png",
                 "checkpoints/epoch-001.pt", "checkpoints/epoch-002.pt",
                 "histograms/epoch-001.csv", "histograms/epoch-002.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "epoch 2" in (out / "info.log").read_text()
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics.epoch.tolist() == [1, 2]
    for col in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "val_balanced_accuracy", "seconds"):
        assert metrics[col].notna().all(), col
    hist = pd.read_csv(out / "histograms" / "epoch-002.csv")
    assert set(hist.split) == {"training", "validation"}
    for split, part in hist.groupby("split"):
        assert len(part) == 100
        assert part.bin_left.min() == 0.0 and part.bin_right.max() == 1.0
        assert 0 < part.correlated.sum() <= 1000 and 0 < part.uncorrelated.sum() <= 1000
    errors = pd.read_csv(out / "pair_errors.csv")
    assert {"incident", "TP", "TN", "FP", "FN", "TPR", "TNR", "FPR", "FNR", "TP_normalised"} <= set(errors.columns)
    assert "benign" in errors.incident.astype(str).tolist()


def test_checkpoint_loads_with_weights_only_and_carries_its_configuration(finished_run):
    payload = torch.load(finished_run / "checkpoints" / "epoch-002.pt", weights_only=True)
    assert payload["epoch"] == 2 and len(payload["history"]) == 2
    assert payload["model"]["encoder"]["units"] == [8]
    assert payload["config"]["val_cut"] == 2
    assert "state" in payload["optimizer"]  # what resuming needs
    model = training.model_from_checkpoint(payload)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    bad = tmp_path / "checkpoints" / "epoch-001.pt"
    bad.parent.mkdir()
    bad.write_bytes(pickle.dumps({"format": training.CHECKPOINT_FORMAT, "x": Exploit()}, protocol=2))
    with pytest.raises(UserError, match="not a loadable checkpoint"):
        training.load_checkpoint(tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_a_run_folder_is_not_overwritten_by_a_new_run(finished_run, csv_path, capsys):
    before = (finished_run / "checkpoints" / "epoch-002.pt").read_bytes()
    assert train_cli("--csv", str(csv_path), "--out", str(finished_run), *TINY) == 2
    assert "--resume" in capsys.readouterr().err
    assert (finished_run / "checkpoints" / "epoch-002.pt").read_bytes() == before


# ---------------------------------------------------------------- reproducibility, resume, budgets


def _small_train(seed=0, epochs=2, **kw):
    frame = synthetic_dataset(n_incidents=3, per_incident=20, n_benign=60, short=True)
    frame["label"], _ = training.incident_labels(frame.incident)
    tr, va = frame[frame.cut != 0], frame[frame.cut == 0]
    config = RunConfig(units=(8,), batch_size=32, epochs=epochs, seed=seed, threads=1, quiet=True, **kw)
    return training.train(config, tr.alert.tolist(), tr.label.to_numpy(), va.alert.tolist(), va.label.to_numpy())


def _numbers(history):
    return [{k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds", "pairs_per_second")} for h in history]


def test_same_seed_same_numbers_on_the_cpu():
    a, b, c = _small_train(seed=3), _small_train(seed=3), _small_train(seed=4)
    assert _numbers(a.history) == _numbers(b.history)
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert _numbers(a.history) != _numbers(c.history)


def test_default_training_length_is_a_number_of_steps_written_back_as_epochs(tmp_path):
    # inbatch without EPOCHS: about `steps` optimiser steps, at least MIN_EPOCHS passes;
    # the number chosen is what config.json and the history show.
    from lstm_rnn_correlation.config import MIN_EPOCHS

    frame = synthetic_dataset(n_incidents=3, per_incident=20, n_benign=60, short=True)
    per_epoch = -(-frame[frame.cut != 0].alert.nunique() // 32)
    long = _small_train(epochs=None, steps=per_epoch * (MIN_EPOCHS + 3))
    assert len(long.history) == long.config.epochs == MIN_EPOCHS + 3
    short = _small_train(epochs=None, steps=1)
    assert len(short.history) == MIN_EPOCHS
    resolved = RunConfig().resolved()
    assert resolved.chars == 5_000_000 and resolved.steps is None and resolved.epochs is None
    assert RunConfig(scheme="paper").resolved().epochs == 10


def test_default_training_length_reads_about_chars_characters(tmp_path):
    # Without epochs and steps: epochs enough to read `chars` characters of the distinct
    # training alerts, at least MIN_EPOCHS; steps, when given, win over chars.
    from lstm_rnn_correlation.config import MIN_EPOCHS

    frame = synthetic_dataset(n_incidents=3, per_incident=20, n_benign=60, short=True)
    train = frame[frame.cut != 0].drop_duplicates(["alert", "incident"])
    per_epoch = int(train.alert.str.len().sum())
    run = _small_train(epochs=None, chars=per_epoch * (MIN_EPOCHS + 2) - 1)
    assert len(run.history) == run.config.epochs == MIN_EPOCHS + 2
    assert len(_small_train(epochs=None, chars=1).history) == MIN_EPOCHS
    both = _small_train(epochs=None, steps=1, chars=per_epoch * (MIN_EPOCHS + 2))
    assert len(both.history) == MIN_EPOCHS


def test_amp_flag_runs_the_same_code_path_on_the_cpu():
    # Mixed precision only applies on CUDA; on the CPU the flag changes no number.
    assert _numbers(_small_train(seed=1, epochs=1, amp=True).history) == _numbers(
        _small_train(seed=1, epochs=1).history)


def test_resume_continues_exactly_like_an_uninterrupted_run(csv_path, tmp_path, monkeypatch):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli("--csv", str(csv_path), "--out", str(straight), "--epochs", "3", *TINY) == 0
    assert train_cli("--csv", str(csv_path), "--out", str(split), "--epochs", "1", *TINY) == 0
    # The original's way: OLD_JOB names the run to continue; a longer budget is allowed.
    monkeypatch.setenv("OLD_JOB", str(split))
    assert train_cli("--epochs", "3", "--quiet") == 0
    one = pd.read_csv(straight / "metrics.csv").drop(columns=["seconds", "cpu_seconds", "pairs_per_second"])
    two = pd.read_csv(split / "metrics.csv").drop(columns=["seconds", "cpu_seconds", "pairs_per_second"])
    pd.testing.assert_frame_equal(one, two)
    a = torch.load(straight / "checkpoints" / "epoch-003.pt", weights_only=True)["state_dict"]
    b = torch.load(split / "checkpoints" / "epoch-003.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "resumed from" in (split / "info.log").read_text()
    # Continuing into a new folder leaves the old run as it was.
    monkeypatch.delenv("OLD_JOB")
    other = tmp_path / "other"
    assert train_cli("--resume", str(split), "--out", str(other), "--epochs", "4", "--quiet") == 0
    assert [p.name for p in (other / "checkpoints").iterdir()] == ["epoch-004.pt"]
    assert pd.read_csv(other / "metrics.csv").epoch.tolist() == [1, 2, 3, 4]
    assert pd.read_csv(split / "metrics.csv").epoch.tolist() == [1, 2, 3]


def test_max_hours_stops_cleanly_after_the_last_epoch_that_fits(csv_path, tmp_path, capsys):
    out = tmp_path / "budget"
    # A budget of 0.36 s: the first epoch always runs; the second would not fit.
    assert train_cli("--csv", str(csv_path), "--out", str(out), "--epochs", "5", "--max-hours", "0.0001", *TINY) == 0
    assert "stopped: max_hours" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch-001.pt"]
    assert pd.read_csv(out / "metrics.csv").epoch.tolist() == [1]
    assert "MAX_HOURS" in (out / "info.log").read_text()
    # and the run can be continued later with a larger budget
    assert train_cli("--resume", str(out), "--epochs", "2", "--max-hours", "1", "--quiet") == 0
    assert pd.read_csv(out / "metrics.csv").epoch.tolist() == [1, 2]


# ---------------------------------------------------------------- the paper scheme


def test_paper_scheme_streams_all_ordered_pairs_with_sgd(tmp_path):
    frame = synthetic_dataset(n_incidents=2, per_incident=10, n_benign=15, short=True)
    frame["label"], _ = training.incident_labels(frame.incident)
    tr = frame[frame.cut != 0]
    n = len(tr)
    config = RunConfig(scheme="paper", epochs=1, batch_size=200, threads=1, quiet=True, units=(4,))
    result = training.train(config, tr.alert.tolist(), tr.label.to_numpy(), run_dir=tmp_path / "paper")
    assert result.history[0]["pairs"] == n * n  # the whole cross join, self-pairs included
    payload = training.load_checkpoint(tmp_path / "paper")
    assert "momentum" in payload["optimizer"]["param_groups"][0]  # SGD
    assert payload["optimizer"]["param_groups"][0]["lr"] == 0.1
    assert payload["model"]["encoder"]["input"] == "onehot" and payload["model"]["encoder"]["units"] == [4]
    assert payload["model"]["head"] == {"scale": 1.0, "bias": 0.0, "learnable": False}
    capped = training.train(RunConfig(scheme="paper", epochs=1, batch_size=64, max_pairs=300, threads=1,
                                      quiet=True, units=(4,)), tr.alert.tolist(), tr.label.to_numpy())
    assert capped.history[0]["pairs"] == 300


def test_paper_step_gradient_equals_the_full_batch_gradient():
    # Micro-batches inside one SGD step add up to the gradient of the step's mean loss.
    frame = synthetic_dataset(n_incidents=2, per_incident=6, n_benign=6, short=True)
    labels, _ = training.incident_labels(frame.incident)
    data = training.AlertSet.build(frame.alert.tolist(), labels, None, deduplicate_alerts=False)
    config = RunConfig(scheme="paper", epochs=1, batch_size=len(frame) ** 2, units=(4,), quiet=True).resolved()
    grads = []
    for micro in (len(frame) ** 2, 50):
        torch.manual_seed(0)
        model = training.build_model(config)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the step leaves the weights as they are
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        with training.torch_threads(1):
            training.train_epoch_paper(model, opt, scaler, data, config, 0, torch.device("cpu"),
                                       training._progress(True), micro_batch=micro)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, atol=1e-6, rtol=1e-4)


# ---------------------------------------------------------------- diagnostics


def test_balanced_threshold_separates_the_pairs_best():
    labels = np.array([0, 0, 1, 1, -1])
    counts = np.ones(5, dtype=int)
    prob = np.full((5, 5), 0.6)  # uncorrelated pairs at 0.6
    for i, j in ((0, 1), (2, 3)):
        prob[i, j] = prob[j, i] = 0.9  # correlated pairs at 0.9
    t = diagnostics.balanced_threshold(prob, labels, counts)
    assert 0.6 <= t <= 0.9
    m = diagnostics.pair_metrics(prob, labels, counts, threshold=t)
    assert m["tpr"] == 1.0 and m["tnr"] == 1.0
    assert diagnostics.pair_metrics(prob, labels, counts)["tnr"] == 0.0  # at 0.5 every pair looks correlated


def test_pair_error_analysis_counts_each_pair_for_both_incidents():
    # alerts: a0, a1 (incident 0), b (incident 1), n (benign); predicted correlated: (a0,a1) and (a0,b).
    labels = np.array([0, 0, 1, -1])
    counts = np.ones(4, dtype=np.int64)
    prob = np.zeros((4, 4))
    prob[0, 1] = prob[1, 0] = 0.9
    prob[0, 2] = prob[2, 0] = 0.8
    frame = diagnostics.pair_error_analysis(prob, labels, counts, names={0: "A", 1: "B", -1: "benign"}).set_index("incident")
    # Incident A: pairs with a partner: (a0,a1)x2 TP; (a0,b)x2 FP; (a1,b)x2, (a0,n)x2, (a1,n)x2 TN.
    assert frame.loc["A", ["TP", "TN", "FP", "FN"]].tolist() == [2, 6, 2, 0]
    # Incident B: (a0,b)x2 FP; (a1,b)x2, (b,n)x2 TN.
    assert frame.loc["B", ["TP", "TN", "FP", "FN"]].tolist() == [0, 4, 2, 0]
    assert frame.loc["benign", ["TP", "TN", "FP", "FN"]].tolist() == [0, 6, 0, 0]
    assert frame.loc["A", "FPR"] == pytest.approx(2 / 8)
    assert frame.loc["A", "TP_normalised"] == pytest.approx(2 / 10)
    metrics = diagnostics.pair_metrics(prob, labels, counts)
    assert metrics["tpr"] == 1.0 and metrics["tnr"] == pytest.approx(8 / 10)


def test_duplicate_counts_weigh_like_the_original_rows():
    # Two copies of one alert string equal two rows: same metrics either way.
    labels_rows = np.array([0, 0, 0, -1])
    prob_rows = np.array([[0, .9, .9, .2], [.9, 0, .9, .2], [.9, .9, 0, .6], [.2, .2, .6, 0]])
    rows = diagnostics.pair_metrics(prob_rows, labels_rows, np.ones(4, dtype=np.int64))
    prob_distinct = np.array([[.9, .9, .2], [.9, 0, .6], [.2, .6, 0]])  # alert 0 stands for rows 0 and 1
    distinct = diagnostics.pair_metrics(prob_distinct, np.array([0, 0, -1]), np.array([2, 1, 1]))
    assert distinct == pytest.approx(rows)


# ---------------------------------------------------------------- the margin on the bundled data


def test_training_separates_correlated_from_uncorrelated_validation_pairs(tmp_path_factory):
    """A short seeded run on the bundled data set: validation pairs are measurably separated."""
    frame = training.load_dataset(bundled_dataset_csv(tmp_path_factory))
    val = frame[frame.cut == 0]
    train = frame[frame.cut != 0]
    train = train[train.groupby("label").cumcount() < 60]  # a fifth of the training alerts, every incident
    config = RunConfig(units=(16,), embedding_dim=8, batch_size=32, epochs=6, lr=0.02, seed=0, threads=1, quiet=True)
    result = training.train(config, train.alert.tolist(), train.label.to_numpy(), val.alert.tolist(),
                            val.label.to_numpy())
    first, last = result.history[0], result.history[-1]
    # The default (supcon) output is (1 + cos) / 2: mean output on correlated minus
    # uncorrelated validation pairs (0.19 on this seed with the default mean+max pooling,
    # 0.02 after one epoch).
    assert last["val_margin"] > 0.15
    assert last["val_margin"] > first["val_margin"] + 0.1
    # mean of the correlated and uncorrelated pair hit rates at the threshold chosen on
    # training pairs (0.82 when written, 0.60 after one epoch)
    assert last["val_balanced_accuracy"] > 0.75
    assert 0.5 < last["pair_threshold"] < 1.0
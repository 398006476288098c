"""fit-clusters and correlate: the operator's view of a trained model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstm_rnn_correlation.cli import main
from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.formats import read_alerts
from lstm_rnn_correlation.operator import (Correlator, SavedClustering, choose_operating_point, correlate_records,
                                           fit_clustering, write_outputs)

from _model_helpers import synthetic_dataset
from _operator_helpers import RuleEmbedder, clustering_for, snort

# ---------------------------------------------------------------- correlation logic (known geometry)

KNOWN = {100: (0, 12), 200: (1, 12), 900: (-1, 12)}  # sid -> (incident, training alerts)
AXES = {100: 0, 200: 1, 300: 2, 900: 3}               # 300: an incident the clustering never saw


@pytest.fixture()
def rule_setup():
    emb = RuleEmbedder(AXES)
    clustering = clustering_for(emb, KNOWN)
    emb.calls.clear()
    return emb, clustering


def _records(tmp_path, lines, name="today.log"):
    log = tmp_path / name
    log.write_text("\n".join(lines) + "\n")
    return read_alerts(log).records


def test_known_clusters_new_incident_and_filtered_alerts(rule_setup, tmp_path):
    emb, clustering = rule_setup
    lines = ([snort(100, n) for n in range(5)] + [snort(300, n, victim="192.168.7.7") for n in range(6)]
             + [snort(777, n) for n in range(4)] + [snort(200, n) for n in range(3)])
    frame, summary = correlate_records(Correlator(emb, clustering), _records(tmp_path, lines))
    by_sid = frame.assign(sid=[int(s.split(":")[1]) for s in frame.signature])
    k100 = by_sid[by_sid.sid == 100]
    assert set(k100.status) == {"known"} and set(k100.incident) == {"incident-0"}
    assert k100.group.nunique() == 1 and (k100.distance < 0.01).all()
    assert set(by_sid[by_sid.sid == 200].incident) == {"incident-1"}
    assert by_sid[by_sid.sid == 200].group.iloc[0] != k100.group.iloc[0]
    new = by_sid[by_sid.sid == 300]
    assert set(new.status) == {"new"} and new.group.nunique() == 1 and new.group.iloc[0].startswith("N")
    assert new.incident.eq("").all() and new.distance.isna().all()
    filt = by_sid[by_sid.sid == 777]
    assert set(filt.status) == {"filtered"} and filt.group.eq("").all()
    t = summary["totals"]
    assert (t["alerts"], t["groups"], t["new_groups"], t["known_groups"], t["filtered"]) == (18, 3, 1, 2, 4)
    assert t["alert_reduction_factor"] == pytest.approx(18 / 4)
    # largest first: the new incident (6) before the known groups (5, 3)
    assert [g["size"] for g in summary["groups"]] == [6, 5, 3]
    assert summary["groups"][0]["status"] == "new" and "192.168.7.7" in dict(summary["groups"][0]["hosts"])
    assert summary["filtered"]["signatures"] == [["[1:777:1] ET TEST rule 777", 4]]
    # the input order is kept, one row per alert, with its source line
    assert frame.lineno.tolist() == list(range(1, 19)) and frame.alert.tolist() == lines


def test_new_alerts_below_min_samples_are_filtered_not_grouped(rule_setup, tmp_path):
    emb, clustering = rule_setup  # min_samples 3: two alerts of an unknown incident stay filtered
    frame, summary = correlate_records(Correlator(emb, clustering),
                                       _records(tmp_path, [snort(300, n) for n in range(2)]))
    assert set(frame.status) == {"filtered"} and summary["totals"]["groups"] == 0


def test_identical_alert_lines_are_embedded_once_and_count_as_weight(rule_setup):
    emb, clustering = rule_setup
    corr = Correlator(emb, clustering)
    # one distinct unknown line repeated 3 times is a new group (weight 3 >= min_samples 3)
    lines = [snort(300, 1)] * 3 + [snort(100, 1)] * 1000
    result = corr.correlate(lines)
    assert emb.calls == [2] and result.n_distinct == 2
    assert set(result.status[:3]) == {"new"} and set(result.status[3:]) == {"known"}
    corr.correlate(lines + [snort(100, 2)])  # --follow: only the new line is embedded
    assert emb.calls == [2, 1]


def test_cluster_mapping_weighs_incidents_by_their_size():
    # one cluster of 6 benign + 2 alerts of incident 5; benign has 100 alerts, incident 5 only 2
    X = np.zeros((8 + 94, 4))
    X[:8, 0] = 1.0
    X[8:, 1:] = np.random.default_rng(0).normal(size=(94, 3))
    y = np.array([-1] * 6 + [5] * 2 + [-1] * 94)
    cl = fit_clustering(X, y, eps=0.01, min_samples=3, model_sha256="a" * 64, incident_names={5: "five", -1: "benign"})
    k = cl.component_labels[np.argmax(cl.components[:, 0])]
    assert cl.incident_of()[int(k)] == 5
    assert cl.cluster_sizes[list(cl.cluster_ids).index(k)] == 8


def test_clustering_file_round_trips_without_pickles_and_checks_its_format(rule_setup, tmp_path):
    _, clustering = rule_setup
    path = tmp_path / "clusters.npz"
    clustering.save(path)
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        meta = json.loads(str(data["meta"][()]))
    assert meta["format_version"] == 1 and meta["eps"] == 0.01 and meta["min_samples"] == 3
    again = SavedClustering.load(path)
    np.testing.assert_array_equal(again.components, clustering.components)
    assert again.incident_of() == clustering.incident_of() and again.incident_names[0] == "incident-0"
    # a newer format version, a file of something else, and an object array are refused clearly
    newer = dict(meta, format_version=99)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(tmp_path / "newer.npz", **dict(arrays, meta=np.array(json.dumps(newer))))
    with pytest.raises(UserError, match="version 99"):
        SavedClustering.load(tmp_path / "newer.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(UserError, match="not a clustering file"):
        SavedClustering.load(tmp_path / "junk.npz")
    np.savez(tmp_path / "pickled.npz", **dict(arrays, components=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(UserError, match="not a clustering file"):
        SavedClustering.load(tmp_path / "pickled.npz")


def test_operating_point_flags_then_selected_csv_else_a_clear_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(UserError, match="no operating point"):
        choose_operating_point(run)
    pd.DataFrame({"method": ["lsa", "lstm", "lstm"], "cut": [0, 0, 1], "eps": [0.3, 0.03, 0.1],
                  "min_samples": [1, 3, 10], "val_eps": [1.0, 1.0, 1.0]}).to_csv(run / "selected.csv", index=False)
    assert choose_operating_point(run, cut=0)[:2] == (0.03, 3)
    assert choose_operating_point(run, cut=1)[:2] == (0.1, 10)
    assert choose_operating_point(run, eps=0.5, min_samples=2, cut=0)[:2] == (0.5, 2)
    with pytest.raises(UserError, match="2 different operating points"):
        choose_operating_point(run)  # no cut given: lstm rows disagree


def test_outputs_are_replaced_whole_and_an_earlier_report_survives_a_failed_run(rule_setup, tmp_path):
    emb, clustering = rule_setup
    frame, summary = correlate_records(Correlator(emb, clustering), _records(tmp_path, [snort(100, 1)]))
    out = tmp_path / "report"
    paths = write_outputs(out, frame, summary)
    before = {k: p.read_bytes() for k, p in paths.items()}
    bad = summary | {"totals": summary["totals"] | {"alerts": float("nan")}}  # not JSON-able: write fails
    with pytest.raises(ValueError):
        write_outputs(out, frame.assign(group="changed"), bad)
    assert {k: p.read_bytes() for k, p in paths.items()} == before
    assert sorted(p.name for p in out.iterdir()) == ["groups.csv", "groups.json", "report.html"]


# ---------------------------------------------------------------- the commands with a real (tiny) model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from lstm_rnn_correlation.embedding import LSTMEmbedder

    root = tmp_path_factory.mktemp("operator")
    data = synthetic_dataset(n_incidents=3, per_incident=20, n_benign=40, seed=4)
    csv = root / "alerts.csv"
    data.to_csv(csv, index=False)
    run = root / "run"
    emb = LSTMEmbedder(units=(8,), embedding_dim=8, epochs=1, batch_size=32, threads=1, seed=3)
    emb.fit(data.alert.tolist(), data.incident.tolist())
    emb.save(run / "checkpoints" / "epoch-001.pt")
    return run, csv, data


def test_fit_clusters_then_correlate_assigns_training_alerts_to_their_clusters(trained, tmp_path, capsys):
    run, csv, data = trained
    assert main(["fit-clusters", "--model", str(run), "--csv", str(csv), "--eps", "0.0001",
                 "--min-samples", "1", "--quiet"]) == 0
    clustering = SavedClustering.load(run / "clusters.npz")
    assert "command-line flags" in clustering.meta["operating_point"]
    log = tmp_path / "today.log"
    picked = data.groupby("incident").head(4)
    log.write_text("\n".join(picked.alert) + "\n")
    out = tmp_path / "report"
    assert main(["correlate", "--model", str(run), str(log), "--out", str(out), "--quiet"]) == 0
    groups = pd.read_csv(out / "groups.csv", keep_default_na=False)
    assert len(groups) == len(picked) and groups.alert.tolist() == picked.alert.tolist()
    # every training alert is a core sample (min_samples 1): each is found at distance 0,
    # in the cluster that holds it, and carries that cluster's mapped incident
    assert set(groups.status) == {"known"} and (groups.distance.astype(float) < 1e-6).all()
    mapped = {int(k): clustering.incident_names[v] for k, v in clustering.incident_of().items()}
    assert [mapped[int(c)] for c in groups.cluster] == groups.incident.tolist()
    summary = json.loads((out / "groups.json").read_text())
    assert summary["totals"]["alerts"] == len(picked)
    assert sum(g["size"] for g in summary["groups"]) + summary["filtered"]["count"] == len(picked)
    assert summary["model"]["model_sha256"] == clustering.model_sha256
    assert "groups to review" in (out / "report.html").read_text()


def test_correlate_refuses_a_clustering_made_with_another_model(trained, tmp_path, capsys):
    run, csv, _ = trained
    other = tmp_path / "other.npz"
    assert main(["fit-clusters", "--model", str(run), "--csv", str(csv), "--eps", "0.01", "--min-samples", "2",
                 "--out", str(other), "--quiet"]) == 0
    cl = SavedClustering.load(other)
    cl.model_sha256 = "0" * 64
    cl.save(other)
    log = tmp_path / "a.log"
    log.write_text(snort(100, 1) + "\n")
    capsys.readouterr()
    assert main(["correlate", "--model", str(run), "--clusters", str(other), str(log), "--out",
                 str(tmp_path / "r"), "--quiet"]) == 2
    assert "another model" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_bad_lines_stop_with_file_and_line_or_are_counted(trained, tmp_path, capsys):
    run, csv, _ = trained
    if not (run / "clusters.npz").exists():
        assert main(["fit-clusters", "--model", str(run), "--csv", str(csv), "--eps", "0.01",
                     "--min-samples", "2", "--quiet"]) == 0
    log = tmp_path / "mixed.log"
    log.write_text("\n".join([snort(100, 1), "garbage that is no alert", snort(100, 2), "more garbage"]) + "\n")
    out = tmp_path / "report"
    capsys.readouterr()
    assert main(["correlate", "--model", str(run), str(log), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{log}:2:" in err and "Traceback" not in err and not out.exists()
    assert main(["correlate", "--model", str(run), str(log), "--out", str(out), "--quiet", "--skip-bad-lines"]) == 0
    summary = json.loads((out / "groups.json").read_text())
    assert summary["parse"]["bad_lines"] == 2 and summary["totals"]["alerts"] == 2
    assert [e[1] for e in summary["parse"]["bad_examples"]] == [2, 4]
    assert "2 lines did not parse" in (out / "report.html").read_text()


def test_correlate_follow_from_the_command_line(trained, tmp_path):
    run, csv, data = trained
    if not (run / "clusters.npz").exists():
        assert main(["fit-clusters", "--model", str(run), "--csv", str(csv), "--eps", "0.01",
                     "--min-samples", "2", "--quiet"]) == 0
    log = tmp_path / "alert"
    log.write_text("\n".join(data.alert[:7]) + "\n")
    out = tmp_path / "live"
    assert main(["correlate", "--model", str(run), str(log), "--out", str(out), "--quiet", "--follow",
                 "--batch-lines", "5", "--max-batches", "2", "--poll", "0.05"]) == 0
    summary = json.loads((out / "groups.json").read_text())
    assert summary["totals"]["alerts"] == 7 and summary["follow"]["batches"] == 2


def test_same_input_gives_the_same_bytes(rule_setup, tmp_path):
    emb, clustering = rule_setup
    lines = [snort(100, n) for n in range(4)] + [snort(300, n) for n in range(5)] + [snort(42, 1)]
    records = _records(tmp_path, lines)
    outs = []
    for k in range(2):
        frame, summary = correlate_records(Correlator(emb, clustering), records)
        outs.append(write_outputs(tmp_path / f"r{k}", frame, summary))
    for name in ("csv", "json", "html"):
        assert outs[0][name].read_bytes() == outs[1][name].read_bytes()


def test_fit_clusters_without_an_operating_point_says_what_to_give(trained, tmp_path, capsys):
    run, csv, _ = trained
    capsys.readouterr()
    assert main(["fit-clusters", "--model", str(run), "--csv", str(csv), "--out", str(tmp_path / "c.npz"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--eps and --min-samples" in err and "Traceback" not in err and not (tmp_path / "c.npz").exists()

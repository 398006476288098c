"""Metrics against small examples computed by hand (see the comments for the arithmetic)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lstm_rnn_correlation import metrics as M

# Worked example used by several tests:
#   alert     0  1  2  3  4  5  6  7
#   incident  1  1  1  2  2  b  b  b      (b = benign = -1)
#   cluster   0  0  1  1  1  n  n  2      (n = noise = -1)
Y = np.array([1, 1, 1, 2, 2, -1, -1, -1])
C = np.array([0, 0, 1, 1, 1, -1, -1, 2])


def test_arf_and_narf_count_noise_as_one_set():
    # sets: {0}, {1}, {2}, noise -> 4 sets for 8 alerts
    assert M.alert_reduction_factor(Y, C) == pytest.approx(2.0)
    assert M.normalised_alert_reduction_factor(Y, C) == pytest.approx((2.0 - 1) / 7)


def test_imr_worked_example():
    # incident 1: cluster 0 is all incident 1 -> a pick from it always hits: miss 0
    # incident 2: cluster 1 = {1, 2, 2}: miss 1/3; clusters 0, 2 hold none of it: factor 1
    miss = M.incident_miss_probabilities(Y, C)
    assert miss.to_dict() == pytest.approx({1: 0.0, 2: 1 / 3})
    assert M.incident_miss_rate(Y, C) == pytest.approx(1 / 6)


def _imr_by_enumeration(y, c):
    """IMR straight from its definition: enumerate every choice of one alert per cluster."""
    clusters = [np.flatnonzero(c == k) for k in np.unique(c[c != -1])]
    incidents = np.unique(y[y != -1])
    missed = np.zeros(len(incidents))
    total = 0
    for picks in itertools.product(*clusters):
        hit = set(y[list(picks)])
        missed += [i not in hit for i in incidents]
        total += 1
    return float(np.mean(missed / total))


@pytest.mark.parametrize("seed", range(5))
def test_imr_equals_enumeration_of_every_pick(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(-1, 4, size=11)
    c = rng.integers(-1, 3, size=11)
    if not (y != -1).any():
        y[0] = 2
    assert M.incident_miss_rate(y, c) == pytest.approx(_imr_by_enumeration(y, c))


def test_false_alert_rates():
    # noise: alerts 5, 6 -> both benign; clustered: 6 alerts, one benign (alert 7)
    assert M.false_alert_rate_outliers(Y, C) == pytest.approx(1.0)
    assert M.false_alert_rate_clusters(Y, C) == pytest.approx(1 / 6)


def test_counts():
    assert M.cluster_count(C) == 3
    assert M.noise_count(C) == 2


def test_homogeneity_by_hand():
    # H(Y) over classes {1: 3, 2: 2, b: 3}; H(Y|C) from clusters {0: [1,1]}, {1: [1,2,2]},
    # {n: [b,b]}, {2: [b]}: only cluster 1 is mixed.
    h_y = -sum(p * math.log(p) for p in (3 / 8, 2 / 8, 3 / 8))
    h_y_c = (3 / 8) * -sum(p * math.log(p) for p in (1 / 3, 2 / 3))
    assert M.homogeneity(Y, C) == pytest.approx(1 - h_y_c / h_y)


def test_mapping_is_class_weighted_and_noise_is_benign():
    # weights: incident 1 -> 1/3, incident 2 -> 1/2, benign -> 1/3
    # cluster 1 holds one alert of 1 (1/3) and two of 2 (1.0): incident 2
    assert M.cluster_to_incident_mapping(Y, C) == {-1: -1, 0: 1, 1: 2, 2: -1}


def test_mapping_weights_undo_class_skew():
    # cluster 0: 3 of incident 1 (which has 30 alerts) and 2 of incident 2 (which has 2):
    # raw majority says 1, weighted shares 3/30 < 2/2 say 2
    y = np.array([1] * 30 + [2, 2])
    c = np.array([0, 0, 0] + [-1] * 27 + [0, 0])
    assert M.cluster_to_incident_mapping(y, c)[0] == 2


def test_mapping_ties_go_to_the_larger_incident():
    y = np.array([3, 5])
    c = np.array([0, 0])
    assert M.cluster_to_incident_mapping(y, c)[0] == 5


def test_classification_metrics_worked_example():
    y_pred = M.predict_incidents(C, M.cluster_to_incident_mapping(Y, C))
    assert y_pred.tolist() == [1, 1, 2, 2, 2, -1, -1, -1]
    got = M.classification_metrics(Y, y_pred)
    # per class: 1 -> P 1, R 2/3, F1 0.8; 2 -> P 2/3, R 1, F1 0.8; benign -> all 1
    # weighted by support (3, 2, 3) / 8
    assert got["accuracy"] == pytest.approx(7 / 8)
    assert got["precision"] == pytest.approx((3 * 1 + 2 * 2 / 3 + 3 * 1) / 8)
    assert got["recall"] == pytest.approx((3 * 2 / 3 + 2 * 1 + 3 * 1) / 8)
    assert got["f1"] == pytest.approx((3 * 0.8 + 2 * 0.8 + 3 * 1) / 8)


def test_per_class_metrics_include_a_predicted_class_absent_from_the_cut():
    # incident 7 is predicted (mapping learned elsewhere) but has no alert here
    y = np.array([1, 1, -1])
    y_pred = np.array([1, 7, -1])
    table = M.per_class_metrics(y, y_pred).set_index("incident")
    assert table.index.tolist() == [-1, 1, 7]
    assert table.loc[1, "precision"] == pytest.approx(1.0)
    assert table.loc[1, "recall"] == pytest.approx(0.5)
    assert table.loc[1, "accuracy"] == pytest.approx(0.5)
    assert table.loc[7, "support"] == 0
    assert table.loc[7, "precision"] == 0.0
    assert math.isnan(table.loc[7, "accuracy"])


def test_confusion_matrices():
    cm = M.confusion_incident_cluster(Y, C)
    assert cm.index.tolist() == [-1, 1, 2]
    assert cm.columns.tolist() == [-1, 0, 1, 2]
    assert cm.loc[2, 1] == 2 and cm.loc[1, 1] == 1 and cm.loc[-1, -1] == 2 and cm.to_numpy().sum() == 8
    y_pred = np.array([1, 1, 2, 2, 2, -1, -1, 9])
    ci = M.confusion_incident_incident(Y, y_pred)
    assert ci.index.tolist() == ci.columns.tolist() == [-1, 1, 2, 9]
    assert ci.loc[1, 2] == 1 and ci.loc[-1, 9] == 1 and ci.loc[9].sum() == 0


def test_all_noise():
    y = np.array([1, 1, 2, -1])
    c = np.full(4, -1)
    got = M.clustering_metrics(y, c)
    assert got["ARF"] == 4.0 and got["NARF"] == 1.0
    assert got["IMR"] == 1.0  # nothing is reviewed, every incident is missed
    assert got["FARO"] == pytest.approx(0.25)
    assert math.isnan(got["FARC"])
    assert got["n_clusters"] == 0 and got["n_noise"] == 4
    assert got["accuracy"] == pytest.approx(0.25)  # everything predicted benign


def test_no_benign():
    y = np.array([1, 1, 2, 2])
    c = np.array([0, 0, 0, 1])
    # cluster 0 = {1, 1, 2}: misses 1 w.p. 1/3, 2 w.p. 2/3; cluster 1 = {2} never misses 2
    assert M.incident_miss_rate(y, c) == pytest.approx((1 / 3 + 0) / 2)
    assert math.isnan(M.false_alert_rate_outliers(y, c))
    assert M.false_alert_rate_clusters(y, c) == 0.0


def test_one_cluster():
    y = np.array([1, 2, -1, -1])
    c = np.full(4, 5)
    assert M.alert_reduction_factor(y, c) == 4.0
    assert M.normalised_alert_reduction_factor(y, c) == 1.0
    assert M.incident_miss_rate(y, c) == pytest.approx(0.75)  # each incident: 1 - 1/4
    # weighted scores 1, 1 and 2 * 1/2 = 1 tie: the larger id (2) wins
    assert M.cluster_to_incident_mapping(y, c)[5] == 2


def test_incident_absent_from_cut_does_not_count():
    # only incident 1 is present; the miss rate averages over incidents present only
    y = np.array([1, 1, -1])
    c = np.array([0, 0, -1])
    assert M.incident_miss_rate(y, c) == 0.0
    assert M.incident_miss_probabilities(y, c).index.tolist() == [1]


def test_undefined_cases():
    assert M.incident_miss_rate([-1, -1], [0, -1]) == 0.0  # no incident: nothing to miss
    assert M.normalised_alert_reduction_factor([1], [0]) == 0.0  # one alert
    empty = M.clustering_metrics(np.array([], dtype=int), np.array([], dtype=int))
    for key in ("ARF", "NARF", "IMR", "FARO", "FARC", "homogeneity", "accuracy", "f1"):
        assert math.isnan(empty[key]), key
    assert empty["n_clusters"] == 0 and empty["n_noise"] == 0


def test_metrics_do_not_depend_on_label_values():
    # renaming clusters (not noise) changes nothing
    renamed = np.where(C == -1, -1, C * 10 + 7)
    a, b = M.clustering_metrics(Y, C), M.clustering_metrics(Y, renamed)
    assert a == pytest.approx(b, nan_ok=True)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="differ in length"):
        M.alert_reduction_factor([1, 2], [0])
    with pytest.raises(ValueError, match="integer"):
        M.cluster_count([0.5, 1.0])


def test_predict_incidents_unknown_cluster_is_benign():
    assert M.predict_incidents(np.array([0, 3, -1]), {-1: -1, 0: 4}).tolist() == [4, -1, -1]


@pytest.mark.parametrize("seed", range(6))
def test_scores_agree_with_scikit_learn(seed):
    # the metrics are computed with numpy for speed; scikit-learn is the reference
    from sklearn.metrics import accuracy_score, homogeneity_score, precision_recall_fscore_support

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    y = rng.integers(-1, 5, size=n)
    c = rng.integers(-1, 7, size=n)
    y_pred = rng.integers(-1, 6, size=n)
    assert M.homogeneity(y, c) == pytest.approx(homogeneity_score(y, c))
    got = M.classification_metrics(y, y_pred)
    p, r, f, _ = precision_recall_fscore_support(y, y_pred, average="weighted", zero_division=0)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, y_pred))
    assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f))
    labels = np.union1d(y, y_pred)
    p, r, f, s = precision_recall_fscore_support(y, y_pred, labels=labels, average=None, zero_division=0)
    table = M.per_class_metrics(y, y_pred)
    np.testing.assert_array_equal(table["incident"], labels)
    np.testing.assert_allclose(table[["precision", "recall", "f1"]].to_numpy(), np.column_stack([p, r, f]))
    np.testing.assert_array_equal(table["support"], s)

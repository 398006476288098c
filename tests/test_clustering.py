"""The matrix-free cosine DBSCAN gives the original's labels (precomputed matrix + DBSCAN)."""

from __future__ import annotations

import numpy as np
import pytest
from _eval_helpers import clustered_vectors, reference_dbscan, reference_predict

from lstm_rnn_correlation import clustering as CL
from lstm_rnn_correlation.clustering import (
    EPS_GRID,
    MIN_SAMPLES_GRID,
    CosineDBSCAN,
    GridClustering,
    cluster_grid,
    unique_rows,
)


@pytest.fixture(params=["default", "tiny-balls"])
def index_setting(request, monkeypatch):
    """Run with the default block index and with tiny balls, so that pruning is exercised hard."""
    if request.param == "tiny-balls":
        monkeypatch.setattr(CL, "_BRUTE_ROWS", 0)
        monkeypatch.setattr(CL, "_EDGE_BUFFER", 5)  # merge components every few edges
        monkeypatch.setattr(CL, "_GROUP_SIZE", 3)
        monkeypatch.setattr(CL, "_WIDE", 0.05)
    return request.param


def _new_points(X, seed=1):
    rng = np.random.default_rng(seed)
    near = X[:40] + rng.normal(scale=0.02, size=(40, X.shape[1]))
    far = rng.normal(size=(15, X.shape[1]))
    Q = np.vstack([near, far, X[5:10]])  # also some exact training vectors
    return Q / np.linalg.norm(Q, axis=1, keepdims=True)


def test_grid_equals_original_formulation(index_setting):
    X = clustered_vectors(seed=0)
    Q = _new_points(X)
    grid = cluster_grid(X)
    predicted = grid.predict(Q)
    assert grid.labels_.shape == (len(EPS_GRID), len(MIN_SAMPLES_GRID), len(X))
    assert grid.n_distinct_ < len(X)  # duplicates were collapsed
    seen = set()
    for i, eps in enumerate(EPS_GRID):
        for j, ms in enumerate(MIN_SAMPLES_GRID):
            ref = reference_dbscan(X, eps, ms)
            np.testing.assert_array_equal(grid.labels_[i, j], ref.labels_, err_msg=f"eps={eps} ms={ms}")
            np.testing.assert_array_equal(predicted[i, j], reference_predict(X, ref, Q, eps))
            seen.add(len(set(ref.labels_)))
    assert len(seen) > 5  # the grid really spans few to many clusters


@pytest.mark.parametrize("eps,ms", [(0.003, 1), (0.01, 3), (0.03, 10), (0.1, 30), (1.0, 3)])
def test_single_point_equals_original_formulation(eps, ms, index_setting):
    X = clustered_vectors(seed=2)
    Q = _new_points(X, seed=3)
    ref = reference_dbscan(X, eps, ms)
    est = CosineDBSCAN(eps=eps, min_samples=ms).fit(X)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_array_equal(est.core_sample_indices_, ref.core_sample_indices_)
    np.testing.assert_array_equal(est.predict(Q), reference_predict(X, ref, Q, eps))


def _on_circle(angles):
    return np.column_stack([np.cos(angles), np.sin(angles)])


def test_border_point_between_two_clusters_goes_to_the_first_cluster():
    # two clusters on the unit circle, 0.04 rad apart, and one border point half-way: it is
    # within eps of a core point of each, core of neither; DBSCAN gives it the cluster that
    # is reached first, i.e. the one whose first core point comes first in the data.
    a = [0.06, 0.06, 0.07, 0.07, 0.08, 0.08]  # listed first -> cluster 0
    b = [0.0, 0.0, 0.01, 0.01, 0.02, 0.02]
    X = _on_circle(np.array(a + b + [0.04]))
    eps, ms = 0.0003, 6  # 1 - cos(0.02) = 0.0002 <= eps < 1 - cos(0.04)
    ref = reference_dbscan(X, eps, ms)
    assert ref.labels_[-1] == 0 and set(ref.labels_) == {0, 1}
    assert ref.labels_[-1] not in ref.labels_[ref.core_sample_indices_][ref.core_sample_indices_ == len(X) - 1]
    np.testing.assert_array_equal(CosineDBSCAN(eps, ms).fit(X).labels_, ref.labels_)
    grid = GridClustering(eps_grid=[eps], min_samples_grid=[ms]).fit(X)
    np.testing.assert_array_equal(grid.labels_[0, 0], ref.labels_)


def test_prediction_tie_goes_to_the_lower_index():
    # a new alert exactly as close to two core samples of different clusters
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    X = np.array([e2, e2, e1, e1])
    Q = ((e1 + e2) / np.sqrt(2))[None, :]
    eps = 0.3  # 1 - 1/sqrt(2) = 0.293
    ref = reference_dbscan(X, eps, 2)
    expected = reference_predict(X, ref, Q, eps)
    assert expected.tolist() == [0]  # e2 comes first
    assert CosineDBSCAN(eps, 2).fit(X).predict(Q).tolist() == [0]
    grid = GridClustering(eps_grid=[eps], min_samples_grid=[2]).fit(X)
    assert grid.predict(Q)[0, 0].tolist() == [0]


def test_prediction_falls_back_when_the_neighbour_list_is_too_short(monkeypatch):
    # with only 2 neighbours looked at, a query whose 2 nearest are non-core points within
    # eps must still find the core sample further away
    monkeypatch.setattr(CL, "_PREDICT_NEIGHBOURS", 2)
    X = clustered_vectors(seed=4, spread=0.03)
    Q = _new_points(X, seed=5)
    for eps, ms in [(0.03, 10), (0.1, 30), (0.01, 3)]:
        ref = reference_dbscan(X, eps, ms)
        grid = GridClustering(eps_grid=[eps], min_samples_grid=[ms]).fit(X)
        np.testing.assert_array_equal(grid.predict(Q)[0, 0], reference_predict(X, ref, Q, eps))


def test_sample_weight_equals_repeated_rows():
    X = clustered_vectors(seed=6, n_duplicates=0)
    w = np.random.default_rng(0).integers(1, 4, size=len(X))
    repeated = np.repeat(X, w, axis=0)
    for eps, ms in [(0.01, 3), (0.03, 10)]:
        weighted = CosineDBSCAN(eps, ms).fit(X, sample_weight=w)
        plain = CosineDBSCAN(eps, ms).fit(repeated)
        np.testing.assert_array_equal(np.repeat(weighted.labels_, w), plain.labels_)
        ref = DBSCAN_weighted(X, eps, ms, w)
        np.testing.assert_array_equal(weighted.labels_, ref)


def DBSCAN_weighted(X, eps, ms, w):
    from scipy.spatial.distance import cdist
    from sklearn.cluster import DBSCAN

    return DBSCAN(eps=eps, min_samples=ms, metric="precomputed").fit(cdist(X, X, "cosine"), sample_weight=w).labels_


def test_grid_estimator_matches_single_point_fit():
    X = clustered_vectors(seed=7)
    Q = _new_points(X, seed=8)
    grid = cluster_grid(X)
    for eps, ms in [(0.003, 3), (0.03, 10), (0.3, 1)]:
        from_grid = grid.estimator(eps, ms)
        direct = CosineDBSCAN(eps, ms).fit(X)
        np.testing.assert_array_equal(from_grid.labels_, direct.labels_)
        np.testing.assert_array_equal(from_grid.predict(Q), direct.predict(Q))
        labels, dist = direct.predict(Q, return_distance=True)
        assert np.all(np.isinf(dist[labels == -1])) and np.all(dist[labels != -1] <= eps)


def test_float32_vectors_and_unnormalised_input_give_the_same_clusters():
    X = clustered_vectors(seed=9)
    scaled = X * np.random.default_rng(1).uniform(0.5, 3.0, size=(len(X), 1))
    a = CosineDBSCAN(0.01, 3).fit(X).labels_
    b = CosineDBSCAN(0.01, 3).fit(scaled).labels_
    c = CosineDBSCAN(0.01, 3).fit(X.astype(np.float32)).labels_
    np.testing.assert_array_equal(a, b)
    # float32 rounding may move pairs that sit exactly on eps; none here
    np.testing.assert_array_equal(a, c)


def test_zero_vectors_are_far_from_everything():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    est = CosineDBSCAN(0.1, 3).fit(X)
    # the three identical zero rows form their own group; they are 1 away from the others
    assert est.labels_.tolist() == [-1, -1, 0, 0, 0]
    assert est.predict(np.array([[0.0, 0.0], [1.0, 0.0]])).tolist() == [0, -1]
    grid = GridClustering(eps_grid=[0.1], min_samples_grid=[3]).fit(X)
    assert grid.labels_[0, 0].tolist() == [-1, -1, 0, 0, 0]
    assert grid.predict(np.array([[0.0, 0.0], [1.0, 0.0]]))[0, 0].tolist() == [0, -1]


def test_unique_rows_keeps_first_occurrence_order():
    X = np.array([[2.0, 1.0], [0.0, 1.0], [2.0, 1.0], [-0.0, 1.0], [5.0, 5.0]])
    u = unique_rows(X)
    np.testing.assert_array_equal(u.values, [[2.0, 1.0], [0.0, 1.0], [5.0, 5.0]])
    assert u.inverse.tolist() == [0, 1, 0, 1, 2]
    assert u.counts.tolist() == [2, 2, 1]
    assert u.first.tolist() == [0, 1, 4]


def test_unique_rows_survives_hash_collisions(monkeypatch):
    monkeypatch.setattr(CL, "_row_hashes", lambda words: np.zeros(len(words), dtype=np.uint64))
    X = np.array([[3.0, 1.0], [1.0, 2.0], [3.0, 1.0], [0.5, 0.5]])
    u = unique_rows(X)
    np.testing.assert_array_equal(u.values, [[3.0, 1.0], [1.0, 2.0], [0.5, 0.5]])
    assert u.inverse.tolist() == [0, 1, 0, 2]


def test_bad_parameters_and_vectors_are_rejected():
    with pytest.raises(ValueError, match="eps"):
        CosineDBSCAN(eps=0, min_samples=3).fit(np.eye(3))
    with pytest.raises(ValueError, match="min_samples"):
        CosineDBSCAN(eps=0.1, min_samples=0).fit(np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        CosineDBSCAN().fit(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="not fitted"):
        CosineDBSCAN().predict(np.eye(2))


def test_empty_and_tiny_inputs():
    grid = cluster_grid(np.eye(3)[:1])
    assert grid.labels_.shape == (len(EPS_GRID), len(MIN_SAMPLES_GRID), 1)
    assert grid.labels_[:, 0, 0].tolist() == [0] * len(EPS_GRID)  # min_samples 1: its own cluster
    assert (grid.labels_[:, 1:, 0] == -1).all()
    assert grid.predict(np.zeros((0, 3))).shape == (len(EPS_GRID), len(MIN_SAMPLES_GRID), 0)

"""Metrics of alert correlation: pure functions of true incidents and cluster labels.

Conventions (as in the original, see ``METHOD.md``):

* ``y`` holds the true incident of each alert as an integer; **benign is -1**.
* ``clusters`` holds the DBSCAN cluster of each alert (or, for new alerts, the
  cluster of the nearest training core sample); **noise is -1**.
* ``y_pred`` holds a predicted incident per alert (benign -1), obtained by mapping
  clusters to incidents with :func:`cluster_to_incident_mapping`.

Undefined cases (0/0) are decided once, here, and tested:

============================  =================================================
case                          value
============================  =================================================
no alerts at all              ARF, NARF, IMR, FARO, FARC, homogeneity, accuracy,
                              precision, recall, F1 are ``nan``
one alert                     NARF = 0.0 (no reduction is possible)
no incident alert (all        IMR = 0.0 (there is nothing to miss)
benign)
no noise alert                FARO = ``nan`` (no filtered alert to judge)
no clustered alert            FARC = ``nan`` (no cluster to judge)
a class never predicted       its precision is 0.0 (scikit-learn
                              ``zero_division=0``)
============================  =================================================

The original computed the training-split incident prediction as the true labels
themselves (so training accuracy was 1 by construction); here the training
prediction is the mapped incident of the alert's cluster, the same rule as on
validation, so training and validation numbers mean the same thing.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

BENIGN = -1
NOISE = -1

#: Scalar metric names, in the order used in every table.
METRIC_COLUMNS = (
    "ARF",
    "NARF",
    "IMR",
    "FARO",
    "FARC",
    "n_clusters",
    "n_noise",
    "homogeneity",
    "accuracy",
    "precision",
    "recall",
    "f1",
)


def _as_labels(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
        if not np.array_equal(as_int, arr):
            raise ValueError(f"{name} must hold integer labels")
        arr = as_int
    return arr.astype(np.int64, copy=False)


def _pair(y, clusters, second: str = "clusters") -> tuple[np.ndarray, np.ndarray]:
    y = _as_labels(y, "y")
    c = _as_labels(clusters, second)
    if y.shape != c.shape:
        raise ValueError(f"y and {second} differ in length: {len(y)} != {len(c)}")
    return y, c


def alert_reduction_factor(y, clusters) -> float:
    """ARF, alert reduction factor: alerts per set an operator reviews.

    ``len(y) / len(set(clusters))``; the noise alerts count as one set.

    Parameters
    ----------
    y : true incidents (benign -1), shape (n,)
    clusters : cluster labels (noise -1), shape (n,)
    """
    y, c = _pair(y, clusters)
    if len(y) == 0:
        return math.nan
    return len(y) / len(np.unique(c))


def normalised_alert_reduction_factor(y, clusters) -> float:
    """NARF: ``(ARF - 1) / (len(y) - 1)``, 0 for no reduction, 1 for one set.

    One alert gives 0.0 (no reduction is possible); no alert gives ``nan``.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    if len(y) == 0:
        return math.nan
    if len(y) == 1:
        return 0.0
    return (alert_reduction_factor(y, c) - 1.0) / (len(y) - 1)


def incident_miss_probabilities(y, clusters) -> pd.Series:
    """Probability that each incident is missed when one alert per cluster is reviewed.

    One alert is picked at random from each non-noise cluster; incident ``i`` is
    missed when no pick belongs to it.  Cluster ``k`` misses ``i`` with
    probability ``1 - share of i in k``; the miss probability of ``i`` is the
    product over clusters.  Noise alerts are never picked, so an incident whose
    alerts all lie in noise is missed with probability 1.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)

    Returns
    -------
    Series indexed by incident id (benign excluded, sorted), values in [0, 1].
    """
    y, c = _pair(y, clusters)
    incidents = np.unique(y[y != BENIGN])
    if incidents.size == 0:
        return pd.Series([], dtype=float, index=pd.Index([], dtype=np.int64, name="incident"))
    clustered = c != NOISE
    yc, cc = y[clustered], c[clustered]
    log_miss = np.zeros(incidents.size)
    if yc.size:
        cluster_ids, cluster_idx, cluster_size = np.unique(cc, return_inverse=True, return_counts=True)
        # distinct (cluster, incident) pairs with their alert counts
        inc_idx = np.searchsorted(incidents, yc)
        is_incident = (inc_idx < incidents.size) & (incidents[np.minimum(inc_idx, incidents.size - 1)] == yc)
        key = cluster_idx[is_incident].astype(np.int64) * incidents.size + inc_idx[is_incident]
        pair_key, pair_count = np.unique(key, return_counts=True)
        pair_cluster = pair_key // incidents.size
        pair_incident = pair_key % incidents.size
        share = pair_count / cluster_size[pair_cluster]
        with np.errstate(divide="ignore"):
            terms = np.where(share >= 1.0, -np.inf, np.log1p(-np.minimum(share, 1.0)))
        np.add.at(log_miss, pair_incident, terms)
    miss = np.exp(log_miss)
    return pd.Series(miss, index=pd.Index(incidents, name="incident"), name="miss_probability")


def incident_miss_rate(y, clusters) -> float:
    """IMR, incident miss rate: mean miss probability over the incidents present.

    See :func:`incident_miss_probabilities`.  Benign is not an incident; when no
    incident alert is present the rate is 0.0 (nothing can be missed); no alert
    at all gives ``nan``.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    if len(y) == 0:
        return math.nan
    miss = incident_miss_probabilities(y, c)
    if miss.empty:
        return 0.0
    return float(miss.mean())


def false_alert_rate_outliers(y, clusters) -> float:
    """FARO: share of the noise (filtered) alerts that are benign; higher is better.

    ``nan`` when there is no noise alert.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    noise = c == NOISE
    if not noise.any():
        return math.nan
    return float(np.mean(y[noise] == BENIGN))


def false_alert_rate_clusters(y, clusters) -> float:
    """FARC: share of the clustered (not noise) alerts that are benign; lower is better.

    ``nan`` when every alert is noise.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    clustered = c != NOISE
    if not clustered.any():
        return math.nan
    return float(np.mean(y[clustered] == BENIGN))


def cluster_count(clusters) -> int:
    """Number of clusters, noise not counted.

    Parameters
    ----------
    clusters : cluster labels (noise -1)
    """
    c = _as_labels(clusters, "clusters")
    return int(np.unique(c[c != NOISE]).size)


def noise_count(clusters) -> int:
    """Number of noise alerts (label -1), the alerts filtered as false.

    Parameters
    ----------
    clusters : cluster labels (noise -1)
    """
    c = _as_labels(clusters, "clusters")
    return int(np.count_nonzero(c == NOISE))


def _pair_counts(a: np.ndarray, b: np.ndarray):
    """Distinct (a, b) pairs and their counts: (pair_a, pair_b, counts)."""
    ua, ia = np.unique(a, return_inverse=True)
    ub, ib = np.unique(b, return_inverse=True)
    key = ia.ravel().astype(np.int64) * len(ub) + ib.ravel()
    k, counts = np.unique(key, return_counts=True)
    return ua[k // len(ub)], ub[k % len(ub)], counts


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def homogeneity(y, clusters) -> float:
    """Homogeneity of the clustering with respect to the incidents: ``1 - H(Y|C) / H(Y)``.

    Natural logarithms; 1.0 when ``H(Y)`` is 0 (one class), as scikit-learn's
    ``homogeneity_score``.  Noise counts as one cluster and benign as one class,
    as in the original.  ``nan`` for no alert.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    if len(y) == 0:
        return math.nan
    h_y = _entropy(np.unique(y, return_counts=True)[1])
    if h_y == 0:
        return 1.0
    _, pair_c, n_yc = _pair_counts(y, c)
    cl, n_c = np.unique(c, return_counts=True)
    n_c_of_pair = n_c[np.searchsorted(cl, pair_c)]
    h_y_given_c = float(-(n_yc / len(y) * np.log(n_yc / n_c_of_pair)).sum())
    return 1.0 - h_y_given_c / h_y


def cluster_to_incident_mapping(y, clusters) -> dict[int, int]:
    """Map each cluster to the incident with the largest class-weighted share of it.

    Each alert of incident ``i`` weighs ``1 / (number of alerts of i in y)``, which
    undoes class skew; benign takes part like an incident.  Ties go to the larger
    incident id (the original's rule).  Noise (-1) always maps to benign (-1).

    Parameters
    ----------
    y : true incidents of the training alerts (benign -1)
    clusters : their cluster labels (noise -1)

    Returns
    -------
    dict cluster label -> incident id, with ``{-1: -1}`` always present.
    """
    y, c = _pair(y, clusters)
    mapping: dict[int, int] = {NOISE: BENIGN}
    clustered = c != NOISE
    if not clustered.any():
        return mapping
    classes, class_count = np.unique(y, return_counts=True)
    cluster, incident, count = _pair_counts(c[clustered], y[clustered])
    # count / class size: exact rational ties give equal floats (division is correctly rounded)
    score = count / class_count[np.searchsorted(classes, incident)]
    # per cluster: best score first, ties to the larger incident id
    order = np.lexsort((-incident, -score, cluster))
    first = np.ones(order.size, dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    best = order[first]
    mapping.update(zip(cluster[best].tolist(), incident[best].tolist()))
    return mapping


def predict_incidents(clusters, mapping: Mapping[int, int]) -> np.ndarray:
    """Incident prediction: the mapped incident of each alert's cluster.

    Parameters
    ----------
    clusters : cluster labels (noise -1)
    mapping : from :func:`cluster_to_incident_mapping`; a label missing from it
        (a cluster unknown to the mapping) predicts benign.
    """
    c = _as_labels(clusters, "clusters")
    if c.size == 0:
        return c.copy()
    keys = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
    values = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    pos = np.clip(np.searchsorted(keys, c), 0, len(keys) - 1)
    found = keys[pos] == c
    return np.where(found, values[pos], BENIGN)


def _class_scores(y: np.ndarray, p: np.ndarray):
    """Per class of the union of ``y`` and ``p``: labels, precision, recall, F1, support, correct."""
    labels = np.union1d(y, p)
    support = np.bincount(np.searchsorted(labels, y), minlength=labels.size)
    predicted = np.bincount(np.searchsorted(labels, p), minlength=labels.size)
    hit = y == p
    correct = np.bincount(np.searchsorted(labels, y[hit]), minlength=labels.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, correct / np.maximum(predicted, 1), 0.0)
        recall = np.where(support > 0, correct / np.maximum(support, 1), 0.0)
        denom = predicted + support
        f1 = np.where(denom > 0, 2.0 * correct / np.maximum(denom, 1), 0.0)
    return labels, precision, recall, f1, support, correct


def classification_metrics(y, y_pred) -> dict[str, float]:
    """Accuracy and support-weighted precision, recall and F1 of the incident prediction.

    As scikit-learn's ``precision_recall_fscore_support(average="weighted",
    zero_division=0)``: labels are the union of true and predicted incidents, a
    class never predicted has precision 0.  All ``nan`` for no alert.

    Parameters
    ----------
    y : true incidents (benign -1)
    y_pred : predicted incidents (benign -1)
    """
    y, p = _pair(y, y_pred, "y_pred")
    if len(y) == 0:
        return {"accuracy": math.nan, "precision": math.nan, "recall": math.nan, "f1": math.nan}
    _, precision, recall, f1, support, correct = _class_scores(y, p)
    w = support / support.sum()
    return {
        "accuracy": float(correct.sum() / len(y)),
        "precision": float((precision * w).sum()),
        "recall": float((recall * w).sum()),
        "f1": float((f1 * w).sum()),
    }


def per_class_metrics(y, y_pred) -> pd.DataFrame:
    """Precision, recall, F1, support and accuracy of each incident class.

    ``accuracy`` of a class is the share of its alerts predicted as that class
    (the original's definition; equal to recall).  Classes are the union of
    true and predicted incidents; a class with no true alert has support 0 and
    accuracy ``nan``; a class never predicted has precision 0.

    Parameters
    ----------
    y : true incidents (benign -1)
    y_pred : predicted incidents (benign -1)

    Returns
    -------
    DataFrame with columns incident, precision, recall, f1, support, accuracy.
    """
    y, p = _pair(y, y_pred, "y_pred")
    columns = ["incident", "precision", "recall", "f1", "support", "accuracy"]
    if len(y) == 0:
        return pd.DataFrame(columns=columns)
    labels, precision, recall, f1, support, correct = _class_scores(y, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(support > 0, correct / np.maximum(support, 1), np.nan)
    return pd.DataFrame(
        {
            "incident": labels,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(np.int64),
            "accuracy": accuracy,
        },
        columns=columns,
    )


def confusion_incident_cluster(y, clusters) -> pd.DataFrame:
    """Confusion matrix incident x cluster: alerts of each incident in each cluster.

    Rows are the incidents present (benign -1 first), columns the clusters present
    (noise -1 first).

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    """
    y, c = _pair(y, clusters)
    table = pd.crosstab(pd.Series(y, name="incident"), pd.Series(c, name="cluster"))
    return table.sort_index(axis=0).sort_index(axis=1)


def confusion_incident_incident(y, y_pred) -> pd.DataFrame:
    """Confusion matrix incident x predicted incident, over the union of both label sets.

    Parameters
    ----------
    y : true incidents (benign -1)
    y_pred : predicted incidents (benign -1)
    """
    from sklearn.metrics import confusion_matrix

    y, p = _pair(y, y_pred, "y_pred")
    labels = np.union1d(y, p)
    matrix = confusion_matrix(y, p, labels=labels) if len(y) else np.zeros((0, 0), dtype=np.int64)
    return pd.DataFrame(
        matrix,
        index=pd.Index(labels, name="incident"),
        columns=pd.Index(labels, name="predicted"),
    )


def clustering_metrics(y, clusters, y_pred=None) -> dict[str, float]:
    """Every scalar metric of one clustering, keyed as in :data:`METRIC_COLUMNS`.

    Parameters
    ----------
    y : true incidents (benign -1)
    clusters : cluster labels (noise -1)
    y_pred : predicted incidents; by default the mapping learned from ``y`` and
        ``clusters`` themselves (what a training split reports).
    """
    y, c = _pair(y, clusters)
    if y_pred is None:
        y_pred = predict_incidents(c, cluster_to_incident_mapping(y, c))
    out = {
        "ARF": alert_reduction_factor(y, c),
        "NARF": normalised_alert_reduction_factor(y, c),
        "IMR": incident_miss_rate(y, c),
        "FARO": false_alert_rate_outliers(y, c),
        "FARC": false_alert_rate_clusters(y, c),
        "n_clusters": cluster_count(c),
        "n_noise": noise_count(c),
        "homogeneity": homogeneity(y, c),
    }
    out.update(classification_metrics(y, y_pred))
    return out

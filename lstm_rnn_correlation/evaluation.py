"""Grid evaluation, an honestly chosen operating point, and the ``evaluate`` and ``crossval`` commands.

For one method and one validation cut ``v`` (the other cuts are training):

1. The method maps alerts to vectors; DBSCAN (cosine) clusters the training vectors
   at every grid point (:mod:`~lstm_rnn_correlation.clustering`); every cluster is
   mapped to an incident (:func:`~lstm_rnn_correlation.metrics.cluster_to_incident_mapping`).
2. Metrics per grid point (:mod:`~lstm_rnn_correlation.metrics`) on three splits:

   ``train``       the training alerts' own clusters,
   ``inner``       *inner* held-out training cuts ``h`` (the ``--inner-cuts`` training
                   cuts after ``v``, default one), predicted through clusters of the
                   remaining training cuts,
   ``validation``  cut ``v``, predicted through clusters of all training cuts.

3. **Operating point chosen honestly** from the ``inner`` split only: the grid point
   with the largest ARF among those with IMR <= the target (default 0.05); ties go to
   the lower IMR, then the smaller eps, then the smaller min_samples.  If no point
   meets the target, the one with the lowest IMR (ties: larger ARF, ...) is taken and
   marked ``feasible = False``.  Its *validation* metrics are the result.
4. For comparison with the paper, the same rule applied to the *validation* metrics
   gives the point the original chose by looking at validation; its columns are
   prefixed ``by_validation_`` and it is labelled so everywhere.

How the method is fitted for the inner split (``--selection``; the same for every method):

``holdout`` (default for ``crossval``)
    The method is fitted **once**, on the training cuts without ``h``.  It never sees
    ``h`` (so the choice on ``h`` is honest) nor ``v``; the validation clusters still
    use every training cut's vectors and labels.  Cost: one fit per cut; the price is
    that the method learns from 8 of the 9 training cuts.
``refit`` (default for ``evaluate``)
    The method used for validation is fitted on all training cuts; a second fit on the
    training cuts without ``h`` serves the choice.  Honest, full data, two fits per cut.
``reuse``
    One fit on all training cuts serves both; the choice on ``h`` then sees vectors of
    alerts the method was fitted on, which flatters tight settings.  Cheapest; reported
    as such.

Outputs of ``crossval --out DIR`` (all tidy CSV, written atomically):

``DIR/metrics.csv``       one row per method, cut, split, eps, min_samples, every metric
``DIR/selected.csv``      per method and cut: the chosen point (``eps``, ``min_samples``),
                          its inner and validation metrics, and the ``by_validation_`` point
``DIR/per_class.csv``     per-class precision/recall/F1/support/accuracy (validation, every point)
``DIR/confusion.csv``     both confusion matrices (validation, every point), long format,
                          non-zero cells only (``kind`` incident_cluster / incident_incident)
``DIR/selected_per_class.csv``, ``DIR/selected_confusion.csv``  the same at the chosen points
``DIR/similarity.csv``    per method and cut: a histogram (40 bins over [-1, 1], columns
                          ``bin_left``, ``bin_right``, ``correlated``, ``uncorrelated``) of the
                          cosine similarity of validation alert pairs (at most 1,000 validation
                          alerts, a sample fixed by ``--seed``; self-pairs excluded); correlated
                          pairs share an incident and are not benign, every other pair is
                          uncorrelated (:func:`similarity_histogram`).  Cuts finished before this
                          table existed have none (delete their folder to recompute them)
``DIR/summary.md``        min/mean/max of IMR, ARF, NARF, F1 per method, beside the paper's
``DIR/plots/``            parameter-grid plots per method (mean over cuts; per cut with
                          ``--per-cut-plots``)
``DIR/cuts/<method>/cut<k>/``  each finished cut's tables (``similarity.csv`` among them) and a
                          ``done.json``; a finished
                          cut with the same settings is not recomputed (the run resumes)

The choice of operating point depends only on ``metrics.csv``, so changing
``--imr-target`` re-selects without recomputing a cut.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstm_rnn_correlation.clustering import EPS_GRID, MIN_SAMPLES_GRID, GridClustering
from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.fileio import write_csv_atomic, write_text_atomic
from lstm_rnn_correlation.metrics import (
    METRIC_COLUMNS,
    cluster_to_incident_mapping,
    clustering_metrics,
    per_class_metrics,
    predict_incidents,
)

SELECTIONS = ("holdout", "refit", "reuse")
DEFAULT_IMR_TARGET = 0.05
SPLITS = ("train", "inner", "validation")
#: Validation alerts sampled for the pair similarity histogram, and its bins over [-1, 1].
SIMILARITY_MAX_ALERTS = 1000
SIMILARITY_BINS = 40
SIMILARITY_COLUMNS = ("bin_left", "bin_right", "correlated", "uncorrelated")
#: Version of the per-cut results; a change invalidates finished cuts.
RESULTS_VERSION = 2
#: The original paper's results (METHOD.md), 10-fold means on the validation cut.
PAPER_RESULTS = (
    ("LSTM", "MCFP + benign", "0.0062", "9.25", "0.72"),
    ("LSTM", "CIC-IDS-2017", "0.061", "3.00", "0.38"),
    ("LSA", "MCFP + benign", "~0", "23.3", "0.79"),
    ("LSA", "CIC-IDS-2017", "0.099", "4.55", "0.65"),
)


def _progress(iterable, quiet: bool, **kwargs):
    if quiet:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- options


def parse_cuts(text: str | None, available=range(10)) -> list[int]:
    """Cuts from ``"0-9"``, ``"0,3,5"``, ``"2"`` or ``None`` (all available).

    Parameters
    ----------
    text : the flag value.
    available : the cuts present in the data.
    """
    available = sorted(int(c) for c in available)
    if text is None or str(text).strip() == "":
        return available
    cuts: set[int] = set()
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(p) for p in part.split("-", 1))
                if lo > hi:
                    raise ValueError
                cuts.update(range(lo, hi + 1))
            else:
                cuts.add(int(part))
        except ValueError:
            raise UserError(f"--cuts: cannot read {part!r} (use e.g. 0-9 or 0,3,5)") from None
    missing = sorted(cuts - set(available))
    if missing:
        raise UserError(f"--cuts: cut(s) {', '.join(map(str, missing))} not in the data set (it has "
                        f"{', '.join(map(str, available))})")
    return sorted(cuts)


def parse_method_options(items, methods) -> dict[str, dict]:
    """``["lstm.epochs=5", "lsa.n_components=50"]`` -> ``{"lstm": {"epochs": 5}, ...}``.

    Values are read as JSON where they parse (numbers, true/false, lists), else as text.

    Parameters
    ----------
    items : the ``--param`` values.
    methods : the methods being run (an option for another method is an error).
    """
    out: dict[str, dict] = {m: {} for m in methods}
    for item in items or ():
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise UserError(f"--param {item!r}: use METHOD.NAME=VALUE, e.g. lstm.epochs=20")
        key, value = item.split("=", 1)
        method, name = key.split(".", 1)
        if method not in out:
            raise UserError(f"--param {item!r}: method {method!r} is not among --methods ({', '.join(methods)})")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out[method][name] = parsed
    return out


def inner_cuts_for(val_cut: int, training_cuts, k: int = 1) -> list[int]:
    """The training cuts held out for choosing the operating point: the ``k`` next after ``val_cut``.

    Cyclic: after the last cut come the first ones.

    Parameters
    ----------
    val_cut : the validation cut.
    training_cuts : the cuts used for training.
    k : how many cuts to hold out (at least one training cut must remain).
    """
    cuts = sorted(int(c) for c in training_cuts)
    if k < 1:
        raise UserError(f"--inner-cuts must be at least 1, got {k}")
    if len(cuts) < k + 1:
        raise UserError(f"choosing an operating point on {k} inner cut(s) needs at least {k + 1} training cuts; "
                        f"cut {val_cut} leaves {len(cuts)}")
    later = [c for c in cuts if c > val_cut]
    order = later + [c for c in cuts if c < val_cut]
    return sorted(order[:k])


# --------------------------------------------------------------------------- grid metrics


@dataclass
class GridTables:
    """Tables of one method and cut (every grid point)."""

    metrics: pd.DataFrame
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    info: dict = field(default_factory=dict)
    #: cosine similarity histogram of validation pairs (:func:`similarity_histogram`);
    #: None for cuts finished before it existed.
    similarity: pd.DataFrame | None = None


def similarity_histogram(vectors, labels, *, seed: int = 0, max_alerts: int = SIMILARITY_MAX_ALERTS,
                         bins: int = SIMILARITY_BINS) -> pd.DataFrame:
    """Histogram of the cosine similarity of alert pairs, correlated and uncorrelated.

    At most ``max_alerts`` alerts are used (a random sample drawn with
    ``numpy.random.default_rng(seed)`` when there are more); every unordered pair of
    distinct sampled alerts counts once.  A pair is *correlated* when both alerts have
    the same incident and it is not benign (-1); every other pair is *uncorrelated*.

    Parameters
    ----------
    vectors : (n, d) alert vectors (normalised here; a zero vector has similarity 0).
    labels : (n,) incidents, benign -1.
    seed : seed of the sample.
    max_alerts : largest number of alerts used.
    bins : equal bins over [-1, 1].

    Returns
    -------
    DataFrame with columns bin_left, bin_right, correlated, uncorrelated (pair counts).
    """
    X = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(X) != len(y):
        raise ValueError(f"{len(X)} vectors but {len(y)} labels")
    if len(y) > max_alerts:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), size=max_alerts, replace=False))
        X, y = X[keep], y[keep]
    X = X.reshape(len(y), -1)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    i, j = np.triu_indices(len(y), k=1)
    sims = np.clip((X @ X.T)[i, j], -1.0, 1.0)
    correlated = (y[i] == y[j]) & (y[i] != -1)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:],
                         "correlated": np.histogram(sims[correlated], edges)[0].astype(np.int64),
                         "uncorrelated": np.histogram(sims[~correlated], edges)[0].astype(np.int64)})


def _confusion_long(y, clusters, y_pred) -> pd.DataFrame:
    """Both confusion matrices as non-zero (kind, incident, column, count) rows."""
    parts = []
    for kind, col in (("incident_cluster", clusters), ("incident_incident", y_pred)):
        keys, counts = np.unique(np.stack([y, col]), axis=1, return_counts=True) if len(y) else (np.zeros((2, 0), int), np.zeros(0, int))
        parts.append(pd.DataFrame({"kind": kind, "incident": keys[0], "column": keys[1], "count": counts}))
    return pd.concat(parts, ignore_index=True)


def grid_tables(grid: GridClustering, y_fit: np.ndarray, splits: dict, keys: dict,
                detail_splits=("validation",)) -> GridTables:
    """Metrics of every grid point for each split.

    Parameters
    ----------
    grid : a fitted :class:`~lstm_rnn_correlation.clustering.GridClustering` (its
        training vectors have incidents ``y_fit``).
    y_fit : incidents of the clustered vectors (benign -1).
    splits : name -> (labels array (n_eps, n_ms, n) or ``None`` for the clustered
        vectors themselves, true incidents).
    keys : columns put in front of every row (method, cut, ...).
    detail_splits : splits that also get per-class metrics and confusion matrices.
    """
    rows, per_class, confusion = [], [], []
    for i, eps in enumerate(grid.eps_grid_):
        for j, ms in enumerate(grid.min_samples_grid_):
            fit_labels = grid.labels_[i, j].astype(np.int64)
            mapping = cluster_to_incident_mapping(y_fit, fit_labels)
            for split, (labels, y) in splits.items():
                clusters = fit_labels if labels is None else labels[i, j].astype(np.int64)
                y_pred = predict_incidents(clusters, mapping)
                point = {**keys, "split": split, "eps": eps, "min_samples": ms, "n_alerts": len(y)}
                rows.append({**point, **clustering_metrics(y, clusters, y_pred)})
                if split in detail_splits:
                    pc = per_class_metrics(y, y_pred)
                    per_class.append(pc.assign(**point))
                    confusion.append(_confusion_long(y, clusters, y_pred).assign(**point))
    front = list(keys) + ["split", "eps", "min_samples"]
    metrics = pd.DataFrame(rows)[front + ["n_alerts", *METRIC_COLUMNS]]
    pc = pd.concat(per_class, ignore_index=True) if per_class else pd.DataFrame()
    if not pc.empty:
        pc = pc[front + ["incident", "precision", "recall", "f1", "support", "accuracy"]]
    cf = pd.concat(confusion, ignore_index=True) if confusion else pd.DataFrame()
    if not cf.empty:
        cf = cf[front + ["kind", "incident", "column", "count"]]
    return GridTables(metrics, pc, cf)


# --------------------------------------------------------------------------- selection


def select_operating_point(metrics: pd.DataFrame, imr_target: float = DEFAULT_IMR_TARGET) -> dict:
    """The grid point with the largest ARF among those with IMR <= ``imr_target``.

    Ties go to the lower IMR, then the smaller eps, then the smaller min_samples.
    Without a point meeting the target: the lowest IMR (ties: larger ARF, smaller
    eps, smaller min_samples), with ``feasible`` False.  Rows with an undefined IMR
    or ARF are never chosen.

    Parameters
    ----------
    metrics : rows of one method, cut and split (columns eps, min_samples, ARF, IMR).
    imr_target : the largest acceptable incident miss rate.

    Returns
    -------
    dict with eps, min_samples, feasible and the chosen row's metrics.
    """
    if not (imr_target >= 0):
        raise UserError(f"--imr-target must be a number >= 0, got {imr_target}")
    valid = metrics[np.isfinite(metrics["IMR"]) & np.isfinite(metrics["ARF"])]
    if valid.empty:
        raise UserError("no grid point has defined ARF and IMR (no alerts in the split?)")
    feasible = valid[valid["IMR"] <= imr_target + 1e-12]
    if not feasible.empty:
        ordered = feasible.sort_values(["ARF", "IMR", "eps", "min_samples"], ascending=[False, True, True, True],
                                       kind="mergesort")
        ok = True
    else:
        ordered = valid.sort_values(["IMR", "ARF", "eps", "min_samples"], ascending=[True, False, True, True],
                                    kind="mergesort")
        ok = False
    row = ordered.iloc[0].to_dict()
    row["feasible"] = ok
    return row


def select_all(metrics: pd.DataFrame, imr_target: float = DEFAULT_IMR_TARGET) -> pd.DataFrame:
    """Per method and cut: the point chosen on ``inner`` with its validation metrics, and the
    point chosen by looking at ``validation`` (columns prefixed ``by_validation_``).

    Parameters
    ----------
    metrics : the tidy metrics table (columns method, cut, split, eps, min_samples, ...).
    imr_target : the largest acceptable incident miss rate.
    """
    rows = []
    for (method, cut), group in metrics.groupby(["method", "cut"], sort=False):
        inner = group[group["split"] == "inner"]
        val = group[group["split"] == "validation"]
        chosen = select_operating_point(inner, imr_target)
        at = val[(val["eps"] == chosen["eps"]) & (val["min_samples"] == chosen["min_samples"])].iloc[0]
        peek = select_operating_point(val, imr_target)
        row = {"method": method, "cut": int(cut), "imr_target": imr_target,
               "eps": chosen["eps"], "min_samples": int(chosen["min_samples"]), "feasible": bool(chosen["feasible"]),
               "inner_ARF": chosen["ARF"], "inner_IMR": chosen["IMR"]}
        for col in ("inner_cuts", "selection"):
            if col in group.columns:
                row[col] = group[col].iloc[0]
        row.update({m: at[m] for m in METRIC_COLUMNS})
        row.update({"by_validation_eps": peek["eps"], "by_validation_min_samples": int(peek["min_samples"]),
                    "by_validation_feasible": bool(peek["feasible"])})
        row.update({f"by_validation_{m}": peek[m] for m in METRIC_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- one cut


def _fit(method_name: str, options: dict, seed: int, quiet: bool, work_dir, alerts, y):
    from lstm_rnn_correlation.methods import METHODS

    if method_name not in METHODS:
        raise UserError(f"unknown method {method_name!r}; choose from {', '.join(METHODS)}")
    method = METHODS[method_name].from_options(options, seed=seed, quiet=quiet, work_dir=work_dir)
    return method.fit(list(alerts), np.asarray(y))


def _incident_names(data: pd.DataFrame) -> dict[int, str]:
    if "incident" not in data.columns:
        return {-1: "benign"}
    first = data.groupby("label", sort=True)["incident"].first()
    names = {int(k): str(v) for k, v in first.items()}
    names[-1] = "benign"
    return names


def evaluate_cut(data: pd.DataFrame, method_name: str, val_cut: int, *, selection: str = "holdout",
                 inner_cuts: int = 1, options: dict | None = None, seed: int = 0, quiet: bool = True,
                 work_dir=None, fitted=None, eps_grid=EPS_GRID, min_samples_grid=MIN_SAMPLES_GRID) -> GridTables:
    """Fit a method, cluster over the grid and measure the train, inner and validation splits.

    Parameters
    ----------
    data : the data set (columns ``alert``, ``label`` (int, benign -1), ``cut``).
    method_name : a registered method (:mod:`~lstm_rnn_correlation.methods`).
    val_cut : the validation cut; every other cut in ``data`` is training.
    selection : ``holdout``, ``refit`` or ``reuse`` (see the module docstring).
    inner_cuts : how many training cuts form the inner split (pooled).
    options : the method's options.
    seed : seed of the method.
    quiet : no progress output.
    work_dir : a folder the method may write to (the LSTM's run folders).
    fitted : a method already fitted on all training cuts (``evaluate`` of a trained
        run); with ``holdout`` it is not usable and an error is raised.
    eps_grid, min_samples_grid : the DBSCAN grid.
    """
    if selection not in SELECTIONS:
        raise UserError(f"--selection must be one of {', '.join(SELECTIONS)}, got {selection!r}")
    if fitted is not None and selection == "holdout":
        raise UserError("a model trained on all training cuts cannot give a holdout choice; "
                        "use --selection refit or reuse")
    options = dict(options or {})
    cuts = data["cut"].to_numpy()
    if not (cuts == val_cut).any():
        raise UserError(f"cut {val_cut} has no alerts")
    train_cuts = sorted(set(cuts.tolist()) - {val_cut})
    inner = inner_cuts_for(val_cut, train_cuts, inner_cuts)
    is_train = cuts != val_cut
    is_inner = np.isin(cuts, inner)
    is_fit = is_train & ~is_inner
    alerts = data["alert"].to_numpy(dtype=object)
    y = data["label"].to_numpy(dtype=np.int64)
    work = None if work_dir is None else Path(work_dir)
    timings = {}

    t0 = time.perf_counter()
    if selection == "holdout":
        main = _fit(method_name, options, seed, quiet, work and work / "model", alerts[is_fit], y[is_fit])
        inner_method = main
    else:
        main = fitted if fitted is not None else _fit(method_name, options, seed, quiet, work and work / "model",
                                                      alerts[is_train], y[is_train])
        inner_method = main if selection == "reuse" else _fit(method_name, options, seed, quiet,
                                                              work and work / "model-inner",
                                                              alerts[is_fit], y[is_fit])
    timings["fit_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    vec_train = main.transform(alerts[is_train])
    vec_val = main.transform(alerts[cuts == val_cut])
    if inner_method is main:
        in_fit = ~is_inner[is_train]
        vec_inner_fit, vec_inner_eval = vec_train[in_fit], vec_train[~in_fit]
    else:
        vec_inner_fit = inner_method.transform(alerts[is_fit])
        vec_inner_eval = inner_method.transform(alerts[is_inner])
    timings["transform_s"] = time.perf_counter() - t0

    keys = {"method": method_name, "cut": int(val_cut)}
    t0 = time.perf_counter()
    grid = GridClustering(eps_grid, min_samples_grid, quiet=True).fit(vec_train)
    y_train, y_val = y[is_train], y[cuts == val_cut]
    outer = grid_tables(grid, y_train, {"train": (None, y_train), "validation": (grid.predict(vec_val), y_val)}, keys)
    grid_inner = GridClustering(eps_grid, min_samples_grid, quiet=True).fit(vec_inner_fit)
    y_inner_fit, y_inner = y[is_fit], y[is_inner]
    inner_tables = grid_tables(grid_inner, y_inner_fit, {"inner": (grid_inner.predict(vec_inner_eval), y_inner)},
                               keys, detail_splits=())
    timings["cluster_s"] = time.perf_counter() - t0
    similarity = similarity_histogram(vec_val, y_val, seed=seed)

    metrics = pd.concat([outer.metrics, inner_tables.metrics], ignore_index=True)
    order = {s: k for k, s in enumerate(SPLITS)}
    metrics = metrics.sort_values(["split", "eps", "min_samples"], key=lambda s: s.map(order) if s.name == "split" else s,
                                  kind="mergesort").reset_index(drop=True)
    metrics.insert(2, "selection", selection)
    metrics.insert(3, "inner_cuts", " ".join(map(str, inner)))
    names = _incident_names(data)
    for table in (outer.per_class, outer.confusion):
        if not table.empty:
            table.insert(table.columns.get_loc("incident") + 1, "incident_name",
                         [names.get(int(k), str(k)) for k in table["incident"]])
    info = {"method": method_name, "cut": int(val_cut), "inner_cuts": list(inner), "selection": selection,
            "n_train": int(is_train.sum()), "n_validation": int((cuts == val_cut).sum()),
            "n_inner": int(is_inner.sum()), "n_distinct_train_vectors": int(grid.n_distinct_),
            "vector_size": int(vec_train.shape[1]),
            "similarity_alerts": int(min(len(y_val), SIMILARITY_MAX_ALERTS)),
            **{k: round(v, 3) for k, v in timings.items()}}
    return GridTables(metrics, outer.per_class, outer.confusion, info, similarity)


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cut_dir(out: Path, method: str, cut: int) -> Path:
    return out / "cuts" / method / f"cut{cut}"


def _method_defaults(method: str) -> dict:
    """``METHODS[method].defaults()``, JSON-normalised as ``done.json`` holds it ({} for an unknown name)."""
    from lstm_rnn_correlation.methods import METHODS

    defaults = METHODS[method].defaults() if method in METHODS else {}
    return json.loads(json.dumps(defaults, sort_keys=True, default=repr))


def _fingerprint(csv_sha: str, method: str, cut: int, options: dict, seed: int, selection: str,
                 inner_cuts: int) -> dict:
    return {"results_version": RESULTS_VERSION, "csv_sha256": csv_sha, "method": method, "cut": int(cut),
            "options": options, "defaults": _method_defaults(method), "seed": int(seed), "selection": selection,
            "inner_cuts": int(inner_cuts), "eps_grid": list(EPS_GRID), "min_samples_grid": list(MIN_SAMPLES_GRID)}


def _read_done(cut_dir: Path) -> dict | None:
    try:
        return json.loads((cut_dir / "done.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_cut(cut_dir: Path, tables: GridTables, fingerprint: dict) -> None:
    """The cut's tables first, ``done.json`` last: a cut without it counts as unfinished."""
    write_csv_atomic(tables.metrics, cut_dir / "metrics.csv")
    write_csv_atomic(tables.per_class, cut_dir / "per_class.csv")
    write_csv_atomic(tables.confusion, cut_dir / "confusion.csv")
    if tables.similarity is not None:
        write_csv_atomic(tables.similarity, cut_dir / "similarity.csv")
    done = {"fingerprint": fingerprint, "info": tables.info}
    write_text_atomic(cut_dir / "done.json", json.dumps(done, indent=2, sort_keys=True, default=str) + "\n")


def _read_cut(cut_dir: Path) -> GridTables:
    def read(name):
        path = cut_dir / name
        try:
            return pd.read_csv(path)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot read a finished cut's table ({exc}); delete {cut_dir} to recompute") from None

    done = _read_done(cut_dir) or {}
    # cuts finished before the similarity histogram existed have no similarity.csv
    similarity = read("similarity.csv") if (cut_dir / "similarity.csv").is_file() else None
    return GridTables(read("metrics.csv"), read("per_class.csv"), read("confusion.csv"), done.get("info", {}),
                      similarity)


def _at_points(table: pd.DataFrame, selected: pd.DataFrame, prefix: str, label: str) -> pd.DataFrame:
    if table.empty:
        return table
    points = selected[["method", "cut", f"{prefix}eps", f"{prefix}min_samples"]].rename(
        columns={f"{prefix}eps": "eps", f"{prefix}min_samples": "min_samples"})
    return table.merge(points, on=["method", "cut", "eps", "min_samples"]).assign(chosen=label)


def _stats_table(selected: pd.DataFrame, prefix: str) -> pd.DataFrame:
    rows = []
    for method, group in selected.groupby("method", sort=False):
        row = {"method": method, "cuts": len(group)}
        for m in ("IMR", "ARF", "NARF", "f1"):
            values = group[f"{prefix}{m}"].astype(float)
            row[f"{m} min"] = values.min()
            row[f"{m} mean"] = values.mean()
            row[f"{m} max"] = values.max()
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("nan" if math.isnan(v) else floatfmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(selected: pd.DataFrame, settings: dict, timings: pd.DataFrame | None = None) -> str:
    """The summary: the paper's tables (min/mean/max of IMR, ARF, NARF, F1 per method) for the
    honestly chosen point and for the validation-chosen point, beside the paper's numbers.

    Parameters
    ----------
    selected : the table from :func:`select_all`.
    settings : run settings shown at the top (data set, cuts, seed, selection, target).
    timings : optional per method and cut timings (columns method, fit_s, cluster_s).
    """
    target = settings.get("imr_target", DEFAULT_IMR_TARGET)
    out = ["# Cross-validation summary", ""]
    out += [f"- {k}: {v}" for k, v in settings.items()]
    out += ["", "## Operating point chosen on training data (inner cuts), validation metrics", "",
            f"Per method and cut, (eps, min_samples) maximises ARF on the inner held-out training cut(s) "
            f"subject to IMR <= {target} (see `lstm_rnn_correlation.evaluation`); the numbers are the "
            "validation cut's at that point.", "",
            _markdown(_stats_table(selected, "")), ""]
    feasible = selected.groupby("method", sort=False)["feasible"].agg(["sum", "count"])
    out += ["Cuts whose inner split met the IMR target: " + ", ".join(
        f"{m} {int(r['sum'])}/{int(r['count'])}" for m, r in feasible.iterrows()), ""]
    out += ["## Operating point chosen by looking at validation (what the original paper did)", "",
            "Optimistic by construction: the point is picked with the validation labels.", "",
            _markdown(_stats_table(selected, "by_validation_")), ""]
    out += ["## The original paper's results (METHOD.md; 10-fold means, validation cut, point chosen by eye)", "",
            _markdown(pd.DataFrame(list(PAPER_RESULTS), columns=["method", "data set", "IMR (mean)", "ARF (mean)",
                                                                 "F1 (mean)"])), ""]
    per_cut = selected[["method", "cut", "eps", "min_samples", "feasible", "inner_IMR", "inner_ARF", "IMR", "ARF",
                        "f1", "by_validation_eps", "by_validation_min_samples", "by_validation_IMR",
                        "by_validation_ARF"]]
    out += ["## Per cut", "", _markdown(per_cut), ""]
    if timings is not None and not timings.empty:
        out += ["## Time per cut (seconds)", "", _markdown(timings, "{:.1f}"), ""]
    return "\n".join(out)


def similarity_long(tables: list[GridTables]) -> pd.DataFrame | None:
    """The cuts' similarity histograms in one table (method, cut, bin_left, bin_right,
    correlated, uncorrelated); None when no cut has one.

    Parameters
    ----------
    tables : per (method, cut) results.
    """
    parts = []
    for t in tables:
        if t.similarity is None or t.similarity.empty:
            continue
        keys = t.metrics[["method", "cut"]].iloc[0] if not t.metrics.empty else t.info
        parts.append(t.similarity[list(SIMILARITY_COLUMNS)].assign(method=keys["method"], cut=int(keys["cut"])))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)[["method", "cut", *SIMILARITY_COLUMNS]]


def write_results(out: Path, tables: list[GridTables], imr_target: float, settings: dict,
                  plots: bool = True, per_cut_plots: bool = False, quiet: bool = True) -> pd.DataFrame:
    """Write the combined tables, the selection, the summary and the plots of finished cuts.

    Parameters
    ----------
    out : the output folder.
    tables : per (method, cut) results.
    imr_target : the largest acceptable incident miss rate.
    settings : shown at the top of the summary.
    plots : draw the parameter-grid plots (per method, mean over the cuts).
    per_cut_plots : also one plot per method and cut (``plots/<method>/grid_cut<k>.png``).
    quiet : no progress output.

    Returns the selection table.
    """
    metrics = pd.concat([t.metrics for t in tables], ignore_index=True)
    per_class = pd.concat([t.per_class for t in tables if not t.per_class.empty], ignore_index=True)
    confusion = pd.concat([t.confusion for t in tables if not t.confusion.empty], ignore_index=True)
    selected = select_all(metrics, imr_target)
    write_csv_atomic(metrics, out / "metrics.csv")
    write_csv_atomic(selected, out / "selected.csv")
    write_csv_atomic(per_class, out / "per_class.csv")
    write_csv_atomic(confusion, out / "confusion.csv")
    similarity = similarity_long(tables)
    if similarity is not None:
        write_csv_atomic(similarity, out / "similarity.csv")
    write_csv_atomic(pd.concat([_at_points(per_class, selected, "", "training"),
                                _at_points(per_class, selected, "by_validation_", "by_validation")],
                               ignore_index=True), out / "selected_per_class.csv")
    write_csv_atomic(pd.concat([_at_points(confusion, selected, "", "training"),
                                _at_points(confusion, selected, "by_validation_", "by_validation")],
                               ignore_index=True), out / "selected_confusion.csv")
    timing_cols = ["method", "cut", "fit_s", "transform_s", "cluster_s"]
    timings = pd.DataFrame([t.info for t in tables])
    timings = timings[[c for c in timing_cols if c in timings.columns]] if not timings.empty else None
    write_text_atomic(out / "summary.md", summary_markdown(selected, settings, timings))
    if plots:
        from lstm_rnn_correlation.evaluation_plots import plot_grid

        for method, group in metrics.groupby("method", sort=False):
            cuts = group["cut"].unique()
            chosen = None
            if len(cuts) == 1:
                row = selected[selected["method"] == method].iloc[0]
                chosen = (row["eps"], row["min_samples"])
            plot_grid(group, out / "plots" / f"grid_{method}.png", chosen=chosen,
                      title=f"{method}: cut {cuts[0]}" if len(cuts) == 1 else f"{method}: mean over {len(cuts)} cuts")
            for cut, cgroup in (group.groupby("cut") if per_cut_plots else ()):
                chosen = selected[(selected["method"] == method) & (selected["cut"] == cut)].iloc[0]
                plot_grid(cgroup, out / "plots" / method / f"grid_cut{cut}.png", title=f"{method}, cut {cut}",
                          chosen=(chosen["eps"], chosen["min_samples"]))
    return selected


# --------------------------------------------------------------------------- crossval


def crossval(csv, methods, out, *, cuts=None, imr_target: float = DEFAULT_IMR_TARGET, seed: int = 0,
             selection: str = "holdout", inner_cuts: int = 1, options: dict | None = None, plots: bool = True,
             per_cut_plots: bool = False, quiet: bool = True, jobs: int = 1) -> pd.DataFrame:
    """Train and evaluate every method on every cut; write everything under ``out``.

    A cut whose ``done.json`` holds the same settings is read back instead of being
    recomputed, so an interrupted run resumes.

    Parameters
    ----------
    csv : the data set CSV (incident, alert, cut).
    methods : method names, e.g. ``["lstm", "lsa", "signature"]``.
    out : output folder.
    cuts : validation cuts, a list or text such as ``"0-9"`` (default: every cut in the data).
    imr_target : the largest acceptable incident miss rate when choosing the point.
    seed : seed of every method.
    selection : how the method is fitted for the inner split (see the module docstring).
    inner_cuts : training cuts pooled into the inner split.
    options : method -> options dict.
    plots : draw the parameter-grid plots (per method, mean over cuts).
    per_cut_plots : also draw them per cut.
    quiet : no progress output.
    jobs : cuts computed at once, each in its own process with its share of the cores
        (0: one per usable core).  The numbers do not depend on it.

    Returns the selection table (also in ``out/selected.csv``).
    """
    from lstm_rnn_correlation.training import load_dataset

    csv, out = Path(csv), Path(out)
    data = load_dataset(csv)
    cuts = parse_cuts(cuts if isinstance(cuts, str) or cuts is None else ",".join(map(str, cuts)),
                      data["cut"].unique())
    options = options or {}
    csv_sha = _sha256(csv)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(m, c) for m in methods for c in cuts]
    todo = []
    for method, cut in tasks:
        cut_dir = _cut_dir(out, method, cut)
        fingerprint = _fingerprint(csv_sha, method, cut, options.get(method, {}), seed, selection, inner_cuts)
        done = _read_done(cut_dir)
        if done is not None and done.get("fingerprint") == fingerprint:
            continue
        if done is not None:
            _log(f"{cut_dir}: settings changed since it finished; computing it again", quiet)
        todo.append((method, cut, cut_dir, fingerprint))
    task_args = dict(data=data, selection=selection, inner_cuts=inner_cuts, options=options, seed=seed)
    jobs = _jobs(jobs, len(todo))
    bar = _progress(todo, quiet, desc="crossval", unit="cut", total=len(todo))
    if jobs <= 1:
        for method, cut, cut_dir, fingerprint in bar:
            if not quiet and hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(f"{method} cut {cut}")
            _compute_cut(method, cut, cut_dir, fingerprint, **task_args)
    else:
        _compute_cuts_in_processes(todo, jobs, task_args, bar)
    results = [_read_cut(_cut_dir(out, method, cut)) for method, cut in tasks]
    settings = {"data set": str(csv), "data set sha256": csv_sha[:16], "methods": ", ".join(methods),
                "cuts": ", ".join(map(str, cuts)), "seed": seed, "selection": selection,
                "inner cuts": inner_cuts, "imr_target": imr_target,
                "options": json.dumps(options, sort_keys=True)}
    return write_results(out, results, imr_target, settings, plots=plots, per_cut_plots=per_cut_plots, quiet=quiet)


def _compute_cut(method, cut, cut_dir, fingerprint, *, data, selection, inner_cuts, options, seed) -> None:
    """Evaluate one method on one cut and write its tables and ``done.json``."""
    tables = evaluate_cut(data, method, cut, selection=selection, inner_cuts=inner_cuts,
                          options=options.get(method, {}), seed=seed, quiet=True, work_dir=cut_dir)
    _write_cut(cut_dir, tables, fingerprint)


def _jobs(jobs: int, n_tasks: int) -> int:
    """Processes for ``n_tasks`` cuts (``jobs`` 0: one per usable core)."""
    from lstm_rnn_correlation.parallel import usable_cores

    jobs = int(jobs)
    if jobs < 0:
        raise UserError(f"--jobs must be 0 (one per core) or more, got {jobs}")
    return max(1, min(usable_cores() if jobs == 0 else jobs, n_tasks))


def _job_worker_init(threads: int) -> None:
    """A ``crossval`` worker: its share of the cores, for torch and for the methods' defaults."""
    import torch

    from lstm_rnn_correlation import training

    torch.set_num_threads(threads)
    training._THREADS_OVERRIDE[:] = [threads]


def _compute_cuts_in_processes(todo, jobs: int, task_args: dict, bar) -> None:
    """Run :func:`_compute_cut` for every task in ``jobs`` worker processes.

    Workers are forked on Linux (the parent has run no torch work, and each worker
    sets its thread count first, as PyTorch's DataLoader workers do) and spawned
    elsewhere.  A failing cut stops the run with its error; finished cuts stay done.
    """
    import multiprocessing
    import sys
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    from lstm_rnn_correlation.parallel import usable_cores

    threads = max(1, usable_cores() // jobs)
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_job_worker_init,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(_compute_cut, method, cut, cut_dir, fingerprint, **task_args): (method, cut)
                   for method, cut, cut_dir, fingerprint in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise future.exception()
                if hasattr(bar, "update"):
                    bar.update(1)
                    method, cut = futures[future]
                    bar.set_postfix_str(f"{method} cut {cut} done")
    if hasattr(bar, "close"):
        bar.close()


# --------------------------------------------------------------------------- evaluate RUNDIR


def _resolve_csv(csv_value, run_dir: Path) -> Path:
    if not csv_value:
        raise UserError(f"{run_dir / 'config.json'}: no csv (data set path); give --csv")
    path = Path(str(csv_value))
    candidates = [path] if path.is_absolute() else [path, run_dir / path, run_dir.parent / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserError(f"data set {csv_value} (from {run_dir / 'config.json'}) not found; give --csv")


def evaluate_run(run_dir, *, out=None, csv=None, imr_target: float = DEFAULT_IMR_TARGET,
                 selection: str = "refit", inner_cuts: int = 1, plots: bool = True,
                 quiet: bool = True) -> pd.DataFrame:
    """Evaluate one trained run on its validation cut (``lstm-rnn-correlation evaluate``).

    ``RUNDIR/config.json`` gives ``csv``, ``val_cut``, ``seed`` and ``method``
    (default ``lstm``: the run's newest checkpoint gives the vectors; another method is
    fitted here, with the config's ``options``).

    Parameters
    ----------
    run_dir : the run folder.
    out : output folder (default ``RUNDIR/evaluation``).
    csv : the data set, overriding the config's.
    imr_target : the largest acceptable incident miss rate.
    selection : ``refit`` (default: train a second model on the training cuts without
        the inner cut, with the run's settings) or ``reuse`` (no second model; optimistic).
    inner_cuts : training cuts pooled into the inner split.
    plots : draw the parameter-grid plots.
    quiet : no progress output.
    """
    from lstm_rnn_correlation.training import load_dataset

    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir}: not a run folder (no config.json)") from None
    except ValueError as exc:
        raise UserError(f"{config_path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "val_cut" not in config:
        raise UserError(f"{config_path}: no val_cut")
    method = str(config.get("method", "lstm"))
    seed = int(config.get("seed", 0) or 0)
    val_cut = int(config["val_cut"])
    csv_path = Path(csv) if csv else _resolve_csv(config.get("csv"), run_dir)
    if not csv_path.is_file():
        raise UserError(f"{csv_path}: no such data set file")
    out = Path(out) if out else run_dir / "evaluation"
    data = load_dataset(csv_path)
    fitted, options = None, dict(config.get("options") or {})
    if method == "lstm":
        from lstm_rnn_correlation.methods import LSTMMethod

        fitted = LSTMMethod.from_run(run_dir, quiet=quiet)
        if selection == "holdout":
            raise UserError("evaluate: the run's model saw every training cut; use --selection refit or reuse")
        # the inner model is trained with the run's own settings, for as many epochs as the
        # run trained (it has no validation alerts for early stopping), without diagnostics
        params = fitted.embedder_.get_params()
        params.pop("seed", None)
        if params.get("patience") is not None and getattr(fitted.embedder_, "history_", None):
            params["epochs"] = len(fitted.embedder_.history_)
        params.update(patience=None, quiet=True, max_eval_alerts=0)
        options = params
    _log(f"evaluate {run_dir}: method {method}, validation cut {val_cut}, selection {selection}", quiet)
    tables = evaluate_cut(data, method, val_cut, selection=selection, inner_cuts=inner_cuts, options=options,
                          seed=seed, quiet=quiet, work_dir=None, fitted=fitted)
    settings = {"run": str(run_dir), "data set": str(csv_path), "method": method, "cut": val_cut, "seed": seed,
                "selection": selection, "inner cuts": inner_cuts, "imr_target": imr_target}
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "done.json", json.dumps({"info": tables.info, "settings": settings}, indent=2,
                                                    sort_keys=True, default=str) + "\n")
    return write_results(out, [tables], imr_target, settings, plots=plots, quiet=quiet)


# --------------------------------------------------------------------------- command line


def _common_arguments(parser) -> None:
    parser.add_argument("--inner-cuts", type=int, default=1, metavar="K",
                        help="training cuts pooled into the inner split that chooses the operating point "
                             "(default 1: the training cut after the validation cut)")
    parser.add_argument("--imr-target", type=float, default=DEFAULT_IMR_TARGET,
                        help=f"largest incident miss rate accepted when choosing (eps, min_samples) "
                             f"(default {DEFAULT_IMR_TARGET})")
    parser.add_argument("--no-plots", action="store_true", help="skip the parameter-grid plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_arguments(parser) -> None:
    """Options of ``evaluate`` or ``crossval`` (told apart by the subparser's name).

    Parameters
    ----------
    parser : the subcommand's argparse parser.
    """
    if parser.prog.split()[-1] == "evaluate":
        parser.add_argument("run_dir", metavar="RUNDIR", help="run folder written by `lstm-rnn-correlation train`")
        parser.add_argument("--csv", help="data set CSV (default: the run's config.json)")
        parser.add_argument("--out", help="output folder (default RUNDIR/evaluation)")
        parser.add_argument("--selection", choices=("refit", "reuse"), default="refit",
                            help="refit (default): choose the operating point with a second model trained "
                                 "without the inner cut; reuse: with the run's model (cheaper, optimistic)")
        _common_arguments(parser)
        parser.set_defaults(_evaluation_command="evaluate")
    else:
        parser.add_argument("--csv", required=True, help="data set CSV (incident, alert, cut)")
        parser.add_argument("--methods", default="lstm,lsa,signature",
                            help="comma-separated methods (default lstm,lsa,signature)")
        parser.add_argument("--cuts", help="validation cuts, e.g. 0-9 or 0,3,5 (default: all)")
        parser.add_argument("--seed", type=int, default=0, help="seed of every method (default 0)")
        parser.add_argument("--selection", choices=SELECTIONS, default="holdout",
                            help="how methods are fitted for choosing the operating point (default holdout; "
                                 "see the module documentation)")
        parser.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE",
                            help="a method option, e.g. lstm.epochs=20 (repeatable)")
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--per-cut-plots", action="store_true",
                            help="also draw the parameter-grid plots of every cut (default: mean over cuts only)")
        parser.add_argument("--jobs", type=int, default=1,
                            help="cuts computed at once, each in its own process with its share of the cores "
                                 "(default 1; 0: one per core); the numbers do not depend on it")
        _common_arguments(parser)
        parser.set_defaults(_evaluation_command="crossval")


def run(args) -> int:
    """Run ``evaluate`` or ``crossval``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments (see :func:`add_arguments`).
    """
    if not (args.imr_target >= 0):
        raise UserError(f"--imr-target must be a number >= 0, got {args.imr_target}")
    if getattr(args, "_evaluation_command", None) == "evaluate":
        selected = evaluate_run(args.run_dir, out=args.out, csv=args.csv, imr_target=args.imr_target,
                                selection=args.selection, inner_cuts=args.inner_cuts, plots=not args.no_plots,
                                quiet=args.quiet)
        where = Path(args.out) if args.out else Path(args.run_dir) / "evaluation"
    else:
        from lstm_rnn_correlation.methods import METHODS

        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if not methods:
            raise UserError("--methods: give at least one method")
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            raise UserError(f"--methods: unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
        if len(set(methods)) != len(methods):
            raise UserError("--methods: a method is listed twice")
        csv = Path(args.csv)
        if not csv.is_file():
            raise UserError(f"{csv}: no such data set file")
        selected = crossval(csv, methods, args.out, cuts=args.cuts, imr_target=args.imr_target, seed=args.seed,
                            selection=args.selection, inner_cuts=args.inner_cuts,
                            options=parse_method_options(args.param, methods),
                            plots=not args.no_plots, per_cut_plots=args.per_cut_plots, quiet=args.quiet,
                            jobs=args.jobs)
        where = Path(args.out)
    if not args.quiet:
        stats = _stats_table(selected, "")
        print(_markdown(stats))
    print(f"results in {where}")
    return 0

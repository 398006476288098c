"""The operator's view: a trained model plus today's alert log give the groups to review.

Two commands:

``lstm-rnn-correlation fit-clusters --model RUNDIR --csv alerts.csv``
    Embeds the labelled alerts of a data set CSV with the run's model, clusters them
    with DBSCAN (cosine) at one operating point and saves the production clustering
    (:class:`SavedClustering`) as ``RUNDIR/clusters.npz`` (or ``--out``).

    The operating point is, in this order: ``--eps``/``--min-samples`` when given; else
    the honestly chosen point (from training data only) of the ``lstm`` method for the
    run's validation cut, read from an evaluation's ``selected.csv``
    (``--selected FILE``, or the first of ``RUNDIR/selected.csv``,
    ``RUNDIR/evaluation/selected.csv``, ``RUNDIR/eval/selected.csv``,
    ``RUNDIR/../selected.csv``).  With neither, the command stops and says so: there is
    no silent default, because a wrong radius silently merges or splits incidents.

``lstm-rnn-correlation correlate --model RUNDIR LOG... --out REPORTDIR``
    Parses the logs (the parser's bad-line rules: stop at the first bad line with its
    file and line number unless ``--skip-bad-lines``, then count), embeds every
    *distinct* alert line once, and

    * **known**: assigns each alert to the cluster of the nearest training core sample
      within ``eps`` (its mapped incident comes along);
    * **new**: clusters the alerts that match no known cluster among themselves
      (DBSCAN, same ``eps`` and ``min_samples``; duplicates count by weight), so a new
      incident still shows as one group;
    * **filtered**: the rest (noise among the unknowns).

    Writes, each atomically: ``groups.csv`` (one row per alert, in input order:
    group, status, cluster, incident, distance, timestamp, signature, src/dst ip and
    port, protocol, priority, file, lineno and the alert line),
    ``groups.json`` (totals, groups, filtered summary) and ``report.html``
    (:mod:`~lstm_rnn_correlation.report_html`: self-contained, everything escaped).
    ``--follow`` tails the logs (:mod:`~lstm_rnn_correlation.follow`) and rewrites the
    three files after each batch.

Clustering file (``clusters.npz``, format version 1)
----------------------------------------------------
A NumPy ``.npz`` of plain arrays, loaded with ``allow_pickle=False`` (no code can run):

``components``        (c, d) float64, the distinct core sample vectors (unit rows)
``component_labels``  (c,) int64, their cluster
``cluster_ids``       (k,) int64, the clusters
``cluster_incidents`` (k,) int64, each cluster's mapped incident (class-weighted
                      majority, METHOD.md; benign -1)
``cluster_sizes``     (k,) int64, training alerts per cluster
``meta``              0-d unicode array holding a JSON object: ``format``,
                      ``format_version``, ``eps``, ``min_samples``, ``model_sha256`` (the
                      SHA-256 of the checkpoint file the vectors came from), ``model_checkpoint``,
                      ``incident_names`` (label -> name), ``n_alerts``, ``n_noise``,
                      ``operating_point`` (where eps/min_samples came from), ``source_csv``.

``correlate`` refuses a clustering whose ``model_sha256`` differs from the model's
newest checkpoint: its vectors would mean nothing to another model.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lstm_rnn_correlation.errors import UserError

CLUSTERING_FORMAT = "lstm-rnn-correlation clustering"
CLUSTERING_VERSION = 1
CLUSTERS_FILE = "clusters.npz"
SELECTED_CANDIDATES = ("selected.csv", "evaluation/selected.csv", "eval/selected.csv", "../selected.csv")
BENIGN = -1
NOISE = -1
#: group sections written in full in report.html (the rest are listed in groups.csv/json)
DEFAULT_REPORT_GROUPS = 200
#: signatures and hosts listed per group
TOP_ITEMS = 8


# --------------------------------------------------------------------------- model identity


def model_checkpoint(model_dir) -> Path:
    """The checkpoint file a run folder's model is loaded from (its newest), or the file itself.

    Parameters
    ----------
    model_dir : run folder or checkpoint file.
    """
    from lstm_rnn_correlation.training import last_checkpoint

    path = Path(model_dir)
    if not path.exists():
        raise UserError(f"--model {path}: no such run folder or checkpoint")
    return last_checkpoint(path)


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes.

    Parameters
    ----------
    path : the file.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(model_dir, *, threads: int | None = None, workers: int = 0, quiet: bool = True):
    """``(embedder, checkpoint_path, sha256)`` for a run folder or checkpoint file.

    Parameters
    ----------
    model_dir : run folder or checkpoint file.
    threads : CPU threads for torch (None: the default from the core count).
    workers : processes that embed a large log (0, the default: one per usable core;
        see ``LSTMEmbedder``).
    quiet : no progress bars.
    """
    from lstm_rnn_correlation.embedding import LSTMEmbedder

    checkpoint = model_checkpoint(model_dir)
    sha = file_sha256(checkpoint)
    embedder = LSTMEmbedder.load(checkpoint, threads=threads, workers=workers, quiet=quiet)
    return embedder, checkpoint, sha


def embed_distinct(embedder, alerts) -> tuple[np.ndarray, np.ndarray, list]:
    """Embed each distinct alert string once.

    Parameters
    ----------
    embedder : a fitted embedder (``transform(list) -> (n, d)``).
    alerts : alert lines.

    Returns
    -------
    ``(vectors, inverse, distinct)``: vectors (u, d) of the distinct lines in order of
    first occurrence, the index of each alert's line in them, and the distinct lines.
    """
    codes, uniques = pd.factorize(pd.Series(list(alerts), dtype=object), sort=False)
    distinct = list(uniques)
    vectors = embedder.transform(distinct) if distinct else np.zeros((0, embedder.n_features_out_), np.float32)
    return vectors, codes.astype(np.int64), distinct


# --------------------------------------------------------------------------- saved clustering


@dataclass
class SavedClustering:
    """A production clustering: core samples, their clusters, the mapped incidents, the operating point.

    Attributes
    ----------
    components : (c, d) core sample vectors.
    component_labels : (c,) their clusters.
    cluster_ids, cluster_incidents, cluster_sizes : (k,) per cluster.
    eps, min_samples : the operating point.
    model_sha256 : SHA-256 of the model checkpoint the vectors came from.
    meta : the whole JSON metadata (incident names, counts, provenance).
    """

    components: np.ndarray
    component_labels: np.ndarray
    cluster_ids: np.ndarray
    cluster_incidents: np.ndarray
    cluster_sizes: np.ndarray
    eps: float
    min_samples: int
    model_sha256: str
    meta: dict = field(default_factory=dict)

    @property
    def incident_names(self) -> dict[int, str]:
        """Incident label -> display name (benign -1 -> ``benign``)."""
        names = {int(k): str(v) for k, v in self.meta.get("incident_names", {}).items()}
        names.setdefault(BENIGN, "benign")
        return names

    def incident_of(self) -> dict[int, int]:
        """Cluster id -> mapped incident label."""
        return dict(zip(self.cluster_ids.tolist(), self.cluster_incidents.tolist()))

    def estimator(self):
        """A :class:`~lstm_rnn_correlation.clustering.CosineDBSCAN` that predicts with these core samples."""
        from lstm_rnn_correlation.clustering import CosineDBSCAN

        est = CosineDBSCAN(eps=self.eps, min_samples=self.min_samples)
        est.components_ = self.components
        est.component_labels_ = self.component_labels
        return est

    def save(self, path) -> None:
        """Write the clustering atomically as a ``.npz`` of plain arrays (see the module docstring).

        Parameters
        ----------
        path : target file.
        """
        from lstm_rnn_correlation.fileio import atomic_open

        meta = dict(self.meta)
        meta.update(format=CLUSTERING_FORMAT, format_version=CLUSTERING_VERSION, eps=float(self.eps),
                    min_samples=int(self.min_samples), model_sha256=self.model_sha256)
        with atomic_open(path, "wb") as handle:
            np.savez(handle, components=np.asarray(self.components, dtype=np.float64),
                     component_labels=np.asarray(self.component_labels, dtype=np.int64),
                     cluster_ids=np.asarray(self.cluster_ids, dtype=np.int64),
                     cluster_incidents=np.asarray(self.cluster_incidents, dtype=np.int64),
                     cluster_sizes=np.asarray(self.cluster_sizes, dtype=np.int64),
                     meta=np.array(json.dumps(meta, sort_keys=True)))

    @classmethod
    def load(cls, path) -> "SavedClustering":
        """Read a clustering file, checking its format and version (no pickles, no code).

        Parameters
        ----------
        path : a file written by :meth:`save`.
        """
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: no clustering file (write one with lstm-rnn-correlation fit-clusters)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as exc:  # noqa: BLE001 - every failure means "not a clustering file"
            raise UserError(f"{path}: not a clustering file ({type(exc).__name__}: {exc})") from None
        need = ("components", "component_labels", "cluster_ids", "cluster_incidents", "cluster_sizes", "meta")
        missing = [n for n in need if n not in arrays]
        if missing:
            raise UserError(f"{path}: not a clustering file (missing {', '.join(missing)})")
        try:
            meta = json.loads(str(arrays["meta"][()]))
        except (ValueError, TypeError) as exc:
            raise UserError(f"{path}: unreadable metadata ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != CLUSTERING_FORMAT:
            raise UserError(f"{path}: not an lstm-rnn-correlation clustering file")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > CLUSTERING_VERSION or version < 1:
            raise UserError(f"{path}: clustering format version {version!r}; this program reads up to "
                            f"{CLUSTERING_VERSION}")
        comps = arrays["components"]
        labels = arrays["component_labels"]
        ids, incs, sizes = arrays["cluster_ids"], arrays["cluster_incidents"], arrays["cluster_sizes"]
        if (comps.ndim != 2 or labels.shape != (comps.shape[0],) or ids.ndim != 1
                or incs.shape != ids.shape or sizes.shape != ids.shape
                or not np.issubdtype(comps.dtype, np.floating)):
            raise UserError(f"{path}: inconsistent array shapes in the clustering file")
        if not set(np.unique(labels).tolist()) <= set(ids.tolist()):
            raise UserError(f"{path}: core samples of clusters missing from the cluster table")
        try:
            eps, min_samples = float(meta["eps"]), int(meta["min_samples"])
            sha = str(meta["model_sha256"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path}: metadata lacks {exc}") from None
        return cls(comps.astype(np.float64), labels.astype(np.int64), ids.astype(np.int64),
                   incs.astype(np.int64), sizes.astype(np.int64), eps, min_samples, sha, meta)


def fit_clustering(vectors, incidents, eps: float, min_samples: int, *, model_sha256: str,
                   incident_names: dict | None = None, sample_weight=None, meta: dict | None = None,
                   quiet: bool = True) -> SavedClustering:
    """Cluster labelled vectors at one operating point and map each cluster to an incident.

    Parameters
    ----------
    vectors : (n, d) alert vectors.
    incidents : (n,) integer incident per vector (benign -1).
    eps, min_samples : the DBSCAN operating point (cosine distance).
    model_sha256 : identity of the model that made the vectors.
    incident_names : label -> display name.
    sample_weight : optional weight per vector (e.g. the count of a de-duplicated alert);
        ``incidents`` then holds one label per weighted vector.
    meta : extra metadata to store.
    quiet : no progress bars.
    """
    from lstm_rnn_correlation.clustering import CosineDBSCAN
    from lstm_rnn_correlation.metrics import cluster_to_incident_mapping

    y = np.asarray(incidents, dtype=np.int64)
    est = CosineDBSCAN(eps=float(eps), min_samples=int(min_samples), quiet=quiet).fit(vectors, sample_weight=sample_weight)
    labels = est.labels_
    w = np.ones(len(y), dtype=np.int64) if sample_weight is None else np.asarray(sample_weight).astype(np.int64)
    # the mapping weighs alerts, so expand weighted vectors back into alerts
    y_alerts, c_alerts = np.repeat(y, w), np.repeat(labels, w)
    mapping = cluster_to_incident_mapping(y_alerts, c_alerts)
    ids = np.unique(labels[labels != NOISE]).astype(np.int64)
    sizes = np.array([int(w[labels == k].sum()) for k in ids], dtype=np.int64)
    incs = np.array([mapping.get(int(k), BENIGN) for k in ids], dtype=np.int64)
    names = {str(int(k)): str(v) for k, v in (incident_names or {}).items()}
    info = dict(meta or {})
    info.update(incident_names=names, n_alerts=int(w.sum()), n_noise=int(w[labels == NOISE].sum()),
                n_clusters=int(ids.size))
    return SavedClustering(est.components_, est.component_labels_.astype(np.int64), ids, incs, sizes,
                           float(eps), int(min_samples), model_sha256, info)


# --------------------------------------------------------------------------- operating point


def _find_selected(model_dir: Path) -> Path | None:
    base = model_dir if model_dir.is_dir() else model_dir.parent
    for name in SELECTED_CANDIDATES:
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def read_operating_point(path, *, method: str = "lstm", cut: int | None = None) -> tuple[float, int]:
    """The honestly chosen ``(eps, min_samples)`` from an evaluation's ``selected.csv``.

    The file has one row per method and cut with the point chosen from training data in
    columns ``eps`` and ``min_samples`` (columns of the validation-chosen point carry
    another name and are ignored).  Rows are narrowed to ``method`` (when a ``method``
    column exists) and ``cut`` (when a ``cut``/``val_cut`` column exists and ``cut`` is
    given); the remaining rows must agree on one point.

    Parameters
    ----------
    path : the CSV.
    method : method name to use.
    cut : the model's validation cut.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read the selected operating points ({exc})") from None
    if not {"eps", "min_samples"} <= set(frame.columns):
        raise UserError(f"{path}: no eps and min_samples columns")
    if "method" in frame.columns:
        frame = frame[frame["method"].astype(str) == method]
    cut_col = "cut" if "cut" in frame.columns else ("val_cut" if "val_cut" in frame.columns else None)
    if cut is not None and cut_col is not None and (frame[cut_col] == cut).any():
        frame = frame[frame[cut_col] == cut]
    points = {(float(e), int(s)) for e, s in zip(frame["eps"], frame["min_samples"])
              if pd.notna(e) and pd.notna(s)}
    if len(points) != 1:
        what = "no" if not points else f"{len(points)} different"
        raise UserError(f"{path}: {what} operating points for method {method!r}"
                        f"{'' if cut is None else f' and cut {cut}'}; give --eps and --min-samples")
    return points.pop()


def choose_operating_point(model_dir, eps=None, min_samples=None, selected=None, cut=None):
    """``(eps, min_samples, source)``: flags first, then the evaluation's choice (see the module docstring).

    Parameters
    ----------
    model_dir : the run folder.
    eps, min_samples : flag values (None: not given).
    selected : an explicit ``selected.csv`` path.
    cut : the model's validation cut (selects the row of ``selected.csv``).
    """
    if eps is not None and min_samples is not None:
        return float(eps), int(min_samples), "command-line flags"
    path = Path(selected) if selected else _find_selected(Path(model_dir))
    if path is None:
        raise UserError("no operating point: give --eps and --min-samples, or --selected with the selected.csv "
                        "of an evaluation (lstm-rnn-correlation crossval), or put it in the run folder")
    e, s = read_operating_point(path, cut=cut)
    return (float(eps) if eps is not None else e), (int(min_samples) if min_samples is not None else s), f"{path}"


# --------------------------------------------------------------------------- correlation


@dataclass
class Correlation:
    """The result of correlating a records frame (one entry per alert, input order).

    Attributes
    ----------
    status : ``known``, ``new`` or ``filtered`` per alert.
    group : group id per alert (``K<cluster>``, ``N<k>``; empty for filtered).
    cluster : known cluster per alert (-1 otherwise).
    incident : mapped incident name per alert (empty unless known).
    distance : cosine distance to the nearest known core sample (NaN unless known).
    lines : the alert line per alert (what the model read).
    n_distinct : distinct alert lines.
    """

    status: np.ndarray
    group: np.ndarray
    cluster: np.ndarray
    incident: np.ndarray
    distance: np.ndarray
    lines: list
    n_distinct: int


class Correlator:
    """Assign alerts to known clusters, group the unknowns, filter the rest.

    Keeps the vector and known-cluster assignment of every distinct line it has seen,
    so that ``--follow`` embeds each new distinct line once.

    Parameters
    ----------
    embedder : fitted embedder (``transform``).
    clustering : :class:`SavedClustering` made with the same model.
    quiet : no progress bars.
    """

    def __init__(self, embedder, clustering: SavedClustering, quiet: bool = True):
        self.embedder = embedder
        self.clustering = clustering
        self.quiet = quiet
        self._estimator = clustering.estimator()
        self._index: dict[str, int] = {}
        dim = clustering.components.shape[1]
        self._vectors = np.zeros((0, dim), dtype=np.float32)
        self._known = np.zeros(0, dtype=np.int64)
        self._dist = np.zeros(0, dtype=np.float64)
        names = clustering.incident_names
        self._incident_name = {k: names.get(v, str(v)) for k, v in clustering.incident_of().items()}

    def _add_lines(self, lines: list[str]) -> None:
        fresh = [ln for ln in lines if ln not in self._index]
        if not fresh:
            return
        vectors = self.embedder.transform(fresh)
        if vectors.shape[1] != self._vectors.shape[1]:
            raise UserError(f"the model gives {vectors.shape[1]}-d vectors but the clustering holds "
                            f"{self._vectors.shape[1]}-d ones")
        known, dist = self._estimator.predict(vectors, return_distance=True)
        start = len(self._index)
        for i, ln in enumerate(fresh):
            self._index[ln] = start + i
        self._vectors = np.concatenate([self._vectors, vectors.astype(np.float32)])
        self._known = np.concatenate([self._known, np.asarray(known, dtype=np.int64)])
        self._dist = np.concatenate([self._dist, np.asarray(dist, dtype=np.float64)])

    def correlate(self, lines) -> Correlation:
        """Correlate alert lines (one per alert).

        Parameters
        ----------
        lines : the alert lines the model reads (:func:`alert_lines`).
        """
        from lstm_rnn_correlation.clustering import CosineDBSCAN

        lines = list(lines)
        n = len(lines)
        codes, uniques = pd.factorize(pd.Series(lines, dtype=object), sort=False)
        distinct = list(uniques)
        self._add_lines(distinct)
        rows = np.fromiter((self._index[ln] for ln in distinct), dtype=np.int64, count=len(distinct))
        counts = np.bincount(codes, minlength=len(distinct))
        known_u = self._known[rows]
        dist_u = self._dist[rows]
        new_u = np.full(len(distinct), NOISE, dtype=np.int64)
        unknown = np.flatnonzero(known_u == NOISE)
        if unknown.size:
            est = CosineDBSCAN(eps=self.clustering.eps, min_samples=self.clustering.min_samples, quiet=self.quiet)
            est.fit(self._vectors[rows[unknown]], sample_weight=counts[unknown])
            new_u[unknown] = est.labels_
        known = known_u[codes] if n else np.zeros(0, np.int64)
        new = new_u[codes] if n else np.zeros(0, np.int64)
        status = np.where(known != NOISE, "known", np.where(new != NOISE, "new", "filtered")).astype(object)
        group = np.full(n, "", dtype=object)
        kmask, nmask = known != NOISE, (known == NOISE) & (new != NOISE)
        if kmask.any():
            group[kmask] = pd.Series(known[kmask]).map(lambda k: f"K{k}").to_numpy()
        if nmask.any():
            group[nmask] = pd.Series(new[nmask]).map(lambda k: f"N{k + 1}").to_numpy()
        incident = np.full(n, "", dtype=object)
        if kmask.any():
            incident[kmask] = pd.Series(known[kmask]).map(self._incident_name).fillna("").to_numpy()
        distance = np.where(kmask, dist_u[codes] if n else np.zeros(0), np.nan)
        return Correlation(status, group, known, incident, distance, lines, len(distinct))


def alert_lines(records: pd.DataFrame) -> list[str]:
    """The line the model reads for each record.

    Snort and Suricata fast records are their raw line (which the parser guarantees to
    round-trip exactly); other formats are rebuilt with
    :func:`~lstm_rnn_correlation.formats.build_alert_line`.

    Parameters
    ----------
    records : from :func:`~lstm_rnn_correlation.formats.read_alerts`.
    """
    from lstm_rnn_correlation.formats import build_alert_line

    if records.empty:
        return []
    fast = records["format"].isin(["snort", "suricata-fast"]).to_numpy() if "format" in records else \
        np.zeros(len(records), bool)
    lines = records["raw"].astype(object).to_numpy().copy()
    if fast.any():  # the raw line without trailing white space, as the model was trained
        lines[fast] = records["raw"][fast].str.rstrip().to_numpy(dtype=object)
    other = np.flatnonzero(~fast)
    if other.size:
        sub = records.iloc[other].to_dict("records")
        for i, rec in zip(other, sub):
            lines[i] = build_alert_line(rec)
    return lines.tolist()


def _signature(records: pd.DataFrame) -> np.ndarray:
    msg = records["message"].astype(object).where(records["message"].notna(), "")
    rule = (records["gid"].astype("Int64").astype(str) + ":" + records["sid"].astype("Int64").astype(str) + ":"
            + records["rev"].astype("Int64").astype(str))
    has_rule = records["sid"].notna().to_numpy()
    out = msg.to_numpy(dtype=object).copy()
    out[has_rule] = ("[" + rule[has_rule] + "] " + msg[has_rule]).to_numpy()
    return out


GROUPS_COLUMNS = ["group", "status", "cluster", "incident", "distance", "timestamp", "signature", "src_ip",
                  "src_port", "dst_ip", "dst_port", "protocol", "priority", "file", "lineno", "alert"]


def groups_frame(records: pd.DataFrame, corr: Correlation) -> pd.DataFrame:
    """One row per alert (input order): :data:`GROUPS_COLUMNS`.

    ``group`` is ``K<cluster>`` (known), ``N<k>`` (new) or empty (filtered); ``distance``
    is the cosine distance to the nearest known core sample (empty unless known).

    Parameters
    ----------
    records : parsed records.
    corr : their :class:`Correlation`.
    """
    n = len(records)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GROUPS_COLUMNS})
    cluster = pd.array(np.where(corr.cluster >= 0, corr.cluster, 0), dtype="Int64")
    cluster[corr.cluster < 0] = pd.NA
    return pd.DataFrame({
        "group": corr.group,
        "status": corr.status,
        "cluster": cluster,
        "incident": corr.incident,
        "distance": np.round(corr.distance, 6),
        "timestamp": records["timestamp"].to_numpy(),
        "signature": _signature(records),
        "src_ip": records["src_ip"].to_numpy(dtype=object),
        "src_port": records["src_port"].astype("Int64").array,
        "dst_ip": records["dst_ip"].to_numpy(dtype=object),
        "dst_port": records["dst_port"].astype("Int64").array,
        "protocol": records["protocol"].to_numpy(dtype=object),
        "priority": records["priority"].astype("Int64").array,
        "file": records["file"].to_numpy(dtype=object),
        "lineno": records["lineno"].to_numpy(),
        "alert": np.asarray(corr.lines, dtype=object),
    })


def _iso(ts) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()


def _ranked(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per group, the values of ``column`` with their counts, most frequent first (ties: first seen)."""
    counts = frame.groupby(["group", column], sort=False).size().reset_index(name="n")
    counts["order"] = np.arange(len(counts))
    return counts.sort_values(["group", "n", "order"], ascending=[True, False, True], kind="mergesort")


def _top(series: pd.Series, k: int = TOP_ITEMS) -> list:
    values = series[series.notna() & (series.astype(str) != "")]
    if values.empty:
        return []
    ranked = _ranked(pd.DataFrame({"group": 0, "v": values.astype(str).to_numpy()}), "v").head(k)
    return [[v, int(c)] for v, c in zip(ranked["v"], ranked["n"])]


def _top_per_group(ranked: pd.DataFrame, column: str, k: int = TOP_ITEMS) -> dict:
    head = ranked.groupby("group", sort=False).head(k)
    out: dict = {}
    for g, v, c in zip(head["group"], head[column], head["n"]):
        out.setdefault(g, []).append([str(v), int(c)])
    return out


def summarise(frame: pd.DataFrame, *, parse_report: dict | None = None, model: dict | None = None,
              report_groups: int = DEFAULT_REPORT_GROUPS) -> dict:
    """The content of ``groups.json`` and ``report.html``: totals, groups in review order, filtered summary.

    Groups come largest first, then newest (latest alert) first, then by id.  Each has
    its size, time span, hosts and signatures (most frequent first, with counts) and a
    representative alert: for a known group the alert nearest the known core samples,
    for a new group its most frequent line (the first seen among equals).

    Parameters
    ----------
    frame : from :func:`groups_frame`.
    parse_report : the parser's report (``ParseReport.to_dict()``).
    model : identity of the model and clustering (shown in the report).
    report_groups : groups shown in full in the report (all are in the JSON).
    """
    n = len(frame)
    grouped = frame[frame["status"] != "filtered"]
    filtered = frame[frame["status"] == "filtered"]
    groups = []
    if not grouped.empty:
        g = grouped.groupby("group", sort=False)
        stats = g.agg(size=("status", "size"), first=("timestamp", "min"), last=("timestamp", "max"),
                      status=("status", "first"), cluster=("cluster", "first"), incident=("incident", "first"))
        stats["id"] = stats.index
        stats = stats.sort_values(["size", "last", "id"], ascending=[False, False, True], kind="mergesort")
        known = grouped[grouped["status"] == "known"]
        rep = {}
        if not known.empty:
            nearest = known.groupby("group", sort=False)["distance"].idxmin()
            rep.update(zip(nearest.index, frame.loc[nearest.to_numpy(), "alert"]))
        new = grouped[grouped["status"] == "new"]
        if not new.empty:
            common = _ranked(new, "alert").drop_duplicates("group")
            rep.update(zip(common["group"], common["alert"]))
        sig_ranked = _ranked(grouped, "signature")
        sigs = _top_per_group(sig_ranked, "signature")
        n_sigs = sig_ranked.groupby("group").size().to_dict()
        hosts_long = pd.DataFrame({
            "group": np.concatenate([grouped["group"].to_numpy(), grouped["group"].to_numpy()]),
            "host": np.concatenate([grouped["src_ip"].to_numpy(dtype=object), grouped["dst_ip"].to_numpy(dtype=object)]),
        })
        hosts_long = hosts_long[hosts_long["host"].notna() & (hosts_long["host"].astype(str) != "")]
        host_ranked = _ranked(hosts_long, "host")
        hosts = _top_per_group(host_ranked, "host")
        n_hosts = host_ranked.groupby("group").size().to_dict()
        for gid, st in zip(stats.index, stats.itertuples(index=False)):
            status = str(st.status)
            groups.append({
                "id": str(gid),
                "status": status,
                "cluster": int(st.cluster) if status == "known" else None,
                "incident": str(st.incident) if status == "known" else None,
                "size": int(st.size),
                "first": _iso(st.first),
                "last": _iso(st.last),
                "hosts": hosts.get(gid, []),
                "n_hosts": int(n_hosts.get(gid, 0)),
                "signatures": sigs.get(gid, []),
                "n_signatures": int(n_sigs.get(gid, 0)),
                "representative": str(rep.get(gid, "")),
            })
    n_groups = len(groups)
    filtered_sigs = _top(filtered["signature"], 50) if not filtered.empty else []
    totals = {
        "alerts": int(n),
        "groups": n_groups,
        "known_groups": sum(1 for g in groups if g["status"] == "known"),
        "new_groups": sum(1 for g in groups if g["status"] == "new"),
        "alerts_in_known": int((frame["status"] == "known").sum()),
        "alerts_in_new": int((frame["status"] == "new").sum()),
        "filtered": int(len(filtered)),
        # METHOD.md's ARF: alerts / distinct labels, the filtered alerts counting as one
        "alert_reduction_factor": (n / (n_groups + (1 if len(filtered) else 0))) if n else None,
        "first": _iso(frame["timestamp"].min()) if n else None,
        "last": _iso(frame["timestamp"].max()) if n else None,
    }
    return {
        "format": "lstm-rnn-correlation groups",
        "format_version": 1,
        "totals": totals,
        "model": model or {},
        "parse": parse_report or {},
        "groups": groups,
        "report_groups": int(report_groups),
        "filtered": {"count": int(len(filtered)), "n_signatures": int(filtered["signature"].nunique()),
                     "signatures": filtered_sigs},
    }


def write_outputs(out_dir, frame: pd.DataFrame, summary: dict) -> dict[str, Path]:
    """Write ``groups.csv``, ``groups.json`` and ``report.html`` atomically into ``out_dir``.

    Parameters
    ----------
    out_dir : the report folder (created if missing).
    frame : from :func:`groups_frame`.
    summary : from :func:`summarise`.
    """
    from lstm_rnn_correlation.fileio import write_csv_atomic, write_text_atomic
    from lstm_rnn_correlation.report_html import render_report

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    paths = {"csv": out / "groups.csv", "json": out / "groups.json", "html": out / "report.html"}
    # render everything first: a failure then leaves all three earlier files as they were
    json_text = json.dumps(summary, indent=1, sort_keys=False, allow_nan=False, default=_json_default) + "\n"
    html_text = render_report(summary)
    try:
        write_csv_atomic(_csv_ready(frame), paths["csv"])
        write_text_atomic(paths["json"], json_text)
        write_text_atomic(paths["html"], html_text)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    return paths


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as ISO text to the microsecond (NumPy's C formatter: pandas' date_format is slow)."""
    if frame.empty or not np.issubdtype(frame["timestamp"].dtype, np.datetime64):
        return frame
    ts = frame["timestamp"].to_numpy(dtype="datetime64[us]")
    text = np.datetime_as_string(ts, unit="us").astype(object)
    text[np.isnat(ts)] = ""
    return frame.assign(timestamp=text)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if not math.isfinite(value) else float(value)
    raise TypeError(f"not JSON-able: {type(value).__name__}")


# --------------------------------------------------------------------------- command: fit-clusters


def _fit_clusters_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="RUNDIR", help="trained run folder (or checkpoint file)")
    parser.add_argument("--csv", required=True, help="labelled data set CSV (incident, alert, cut)")
    parser.add_argument("--eps", type=float, help="DBSCAN radius (cosine distance); default: the evaluation's choice")
    parser.add_argument("--min-samples", type=int, help="DBSCAN min_samples; default: the evaluation's choice")
    parser.add_argument("--selected", metavar="CSV",
                        help="selected.csv of an evaluation (default: looked for in and beside the run folder)")
    parser.add_argument("--cuts", choices=["all", "train"], default="all",
                        help="alerts to cluster: all cuts (default) or only the model's training cuts")
    parser.add_argument("--out", metavar="FILE", help=f"clustering file (default RUNDIR/{CLUSTERS_FILE})")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes embedding a large log, one torch thread each (default 0: one per core)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run_fit_clusters(args) -> int:
    """Run ``lstm-rnn-correlation fit-clusters``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments.
    """
    from lstm_rnn_correlation.training import incident_labels, load_dataset

    embedder, checkpoint, sha = load_model(args.model, threads=args.threads, workers=args.workers, quiet=args.quiet)
    val_cut = getattr(embedder.config_, "val_cut", None)
    eps, min_samples, source = choose_operating_point(args.model, args.eps, args.min_samples, args.selected,
                                                      cut=val_cut)
    frame = load_dataset(args.csv)
    if args.cuts == "train" and val_cut is not None:
        frame = frame[frame.cut != val_cut]
        if frame.empty:
            raise UserError(f"{args.csv}: no alerts outside the model's validation cut {val_cut}")
    _, names = incident_labels(frame.incident)
    # one weighted point per distinct (alert, incident) pair
    pairs = frame.groupby(["alert", "label"], sort=False).size().reset_index(name="count")
    vectors, inverse, _ = embed_distinct(embedder, pairs["alert"].tolist())
    clustering = fit_clustering(vectors[inverse], pairs["label"].to_numpy(), eps, min_samples, model_sha256=sha,
                                incident_names=names, sample_weight=pairs["count"].to_numpy(),
                                meta={"model_checkpoint": str(checkpoint), "source_csv": str(args.csv),
                                      "cuts": args.cuts, "operating_point": source},
                                quiet=args.quiet)
    out = Path(args.out) if args.out else (Path(args.model) if Path(args.model).is_dir()
                                           else Path(args.model).parent) / CLUSTERS_FILE
    clustering.save(out)
    meta = clustering.meta
    print(f"clustering: {out} (eps {eps:g}, min_samples {min_samples} from {source}; "
          f"{meta['n_clusters']} clusters, {meta['n_noise']} of {meta['n_alerts']} alerts noise)")
    return 0


# --------------------------------------------------------------------------- command: correlate


def _correlate_arguments(parser) -> None:
    from lstm_rnn_correlation.formats import FORMATS

    parser.add_argument("logs", nargs="+", metavar="LOG", help="alert logs")
    parser.add_argument("--model", required=True, metavar="RUNDIR", help="trained run folder (or checkpoint file)")
    parser.add_argument("--clusters", metavar="FILE", help=f"clustering file (default RUNDIR/{CLUSTERS_FILE})")
    parser.add_argument("--out", required=True, metavar="REPORTDIR", help="folder for groups.csv, groups.json, report.html")
    parser.add_argument("--format", dest="fmt", default="auto", choices=("auto",) + FORMATS,
                        help="log format (default: auto, sniffed per file)")
    parser.add_argument("--skip-bad-lines", action="store_true", help="skip and count lines that do not parse")
    parser.add_argument("--year", type=int, help="year for timestamps without one")
    parser.add_argument("--report-groups", type=int, default=DEFAULT_REPORT_GROUPS,
                        help=f"groups shown in full in report.html (default {DEFAULT_REPORT_GROUPS}; all are in the CSV/JSON)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes embedding a large log, one torch thread each (default 0: one per core)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    f = parser.add_argument_group("follow mode")
    f.add_argument("--follow", action="store_true",
                   help="keep reading the growing logs (survives rotation) and update the outputs per batch")
    f.add_argument("--from-end", action="store_true", help="with --follow: skip what the logs hold already")
    f.add_argument("--batch-lines", type=int, default=10000, help="a batch is at most this many lines (default 10000)")
    f.add_argument("--batch-seconds", type=float, default=5.0,
                   help="process pending lines at least this often (default 5 s)")
    f.add_argument("--poll", type=float, default=0.5, help="seconds between looks at the logs (default 0.5)")
    f.add_argument("--max-batches", type=int, help="stop after this many batches")
    f.add_argument("--idle-exit", type=float, metavar="SECONDS", help="stop after this long without new lines")


def _model_identity(checkpoint: Path, sha: str, clusters_path: Path, clustering: SavedClustering) -> dict:
    return {"checkpoint": str(checkpoint), "model_sha256": sha, "clusters": str(clusters_path),
            "eps": clustering.eps, "min_samples": clustering.min_samples,
            "known_clusters": int(clustering.cluster_ids.size)}


def open_correlator(model, clusters=None, *, threads=None, workers=0, quiet=True):
    """``(correlator, identity)`` for a run folder and its clustering file, checking they belong together.

    Parameters
    ----------
    model : run folder or checkpoint.
    clusters : clustering file (default ``RUNDIR/clusters.npz``).
    threads : CPU threads for torch.
    workers : processes embedding a large log (0: one per usable core).
    quiet : no progress bars.
    """
    model = Path(model)
    clusters_path = Path(clusters) if clusters else (model if model.is_dir() else model.parent) / CLUSTERS_FILE
    clustering = SavedClustering.load(clusters_path)
    embedder, checkpoint, sha = load_model(model, threads=threads, workers=workers, quiet=quiet)
    if clustering.model_sha256 != sha:
        raise UserError(f"{clusters_path} was made with another model (checkpoint SHA-256 "
                        f"{clustering.model_sha256[:12]}..., but {checkpoint} is {sha[:12]}...); "
                        "run fit-clusters again for this model")
    return Correlator(embedder, clustering, quiet=quiet), _model_identity(checkpoint, sha, clusters_path, clustering)


def correlate_records(correlator: Correlator, records: pd.DataFrame, *, parse_report=None, identity=None,
                      report_groups: int = DEFAULT_REPORT_GROUPS) -> tuple[pd.DataFrame, dict]:
    """``(groups frame, summary)`` for parsed records.

    Parameters
    ----------
    correlator : from :func:`open_correlator`.
    records : from :func:`~lstm_rnn_correlation.formats.read_alerts`.
    parse_report : the parse report as a dict.
    identity : model/clustering identity for the report.
    report_groups : groups shown in full in the HTML.
    """
    corr = correlator.correlate(alert_lines(records))
    frame = groups_frame(records, corr)
    summary = summarise(frame, parse_report=parse_report, model=identity, report_groups=report_groups)
    summary["totals"]["distinct_lines"] = corr.n_distinct
    return frame, summary


def run_correlate(args) -> int:
    """Run ``lstm-rnn-correlation correlate``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments.
    """
    from lstm_rnn_correlation.formats import read_alerts

    if args.report_groups < 0:
        raise UserError("--report-groups must be >= 0")
    correlator, identity = open_correlator(args.model, args.clusters, threads=args.threads, workers=args.workers,
                                           quiet=args.quiet)
    if args.follow:
        from lstm_rnn_correlation.follow import follow_and_correlate

        return follow_and_correlate(args, correlator, identity)
    result = read_alerts(args.logs, args.fmt, skip_bad_lines=args.skip_bad_lines, year=args.year,
                         quiet=args.quiet)
    frame, summary = correlate_records(correlator, result.records, parse_report=result.report.to_dict(),
                                       identity=identity, report_groups=args.report_groups)
    paths = write_outputs(args.out, frame, summary)
    print(result.report.summary(), file=sys.stderr)
    t = summary["totals"]
    arf = t["alert_reduction_factor"]
    print(f"{t['alerts']:,} alerts -> {t['groups']:,} groups to review ({t['known_groups']} known, "
          f"{t['new_groups']} new), {t['filtered']:,} filtered"
          + (f"; alert reduction factor {arf:.1f}" if arf else "") + f"\nreport: {paths['html']}")
    return 0


# --------------------------------------------------------------------------- subcommand entry points


def add_arguments(parser) -> None:
    """Options of ``fit-clusters`` or ``correlate`` (told apart by the subparser's name).

    Parameters
    ----------
    parser : the subcommand's argparse parser.
    """
    if parser.prog.split()[-1] == "fit-clusters":
        _fit_clusters_arguments(parser)
        parser.set_defaults(_operator_command="fit-clusters")
    else:
        _correlate_arguments(parser)
        parser.set_defaults(_operator_command="correlate")


def run(args) -> int:
    """Run ``fit-clusters`` or ``correlate``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments (see :func:`add_arguments`).
    """
    if getattr(args, "_operator_command", None) == "fit-clusters":
        return run_fit_clusters(args)
    return run_correlate(args)

"""Which pair loss (and pooling, size, learning rate) serves DBSCAN clustering best?

The measurement behind the model's defaults.  For each configuration and cut it
trains an ``LSTMEmbedder`` on the other cuts, clusters the training vectors with
DBSCAN over the METHOD.md grid (cosine eps as a Euclidean radius on unit vectors),
predicts each validation alert by its nearest training core sample within eps,
and reports, averaged over cuts:

* honest IMR / ARF: validation metrics at the grid point chosen on the *training*
  clusters (largest ARF with training IMR <= 0.05);
* min IMR and its ARF: the best validation IMR of the grid (looking at validation);
* 1-NN incident recall: share of each incident's validation alerts whose nearest
  training alert is of the same incident (mean over incidents), and the same for
  benign alerts.  This one does not depend on the DBSCAN grid and varies far less
  between cuts than IMR.

A compact, self-contained copy of the protocol for quick model comparisons; the
project's evaluation command (``crossval``) is the reference implementation.

Usage::

    python benchmarks/compare_losses.py --csv alerts.csv --cuts 0-9 --configs lsa,sigmoid,supcon,contrastive
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lstm_rnn_correlation.embedding import LSTMEmbedder  # noqa: E402
from lstm_rnn_correlation.training import load_dataset  # noqa: E402

EPS = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1]
MIN_SAMPLES = [1, 3, 10, 30]

CONFIGS = {
    "sigmoid": dict(loss="sigmoid"),
    "supcon": dict(loss="supcon"),
    "contrastive": dict(loss="contrastive"),
    "sigmoid-last": dict(loss="sigmoid", pooling="last"),
    "sigmoid-max": dict(loss="sigmoid", pooling="max"),
    "sigmoid-meanmax": dict(loss="sigmoid", pooling="meanmax"),
    "sigmoid-128": dict(loss="sigmoid", units=(128,), lr=0.003),
    "sigmoid-lr003": dict(loss="sigmoid", lr=0.003),
}


def alert_reduction_factor(c: np.ndarray) -> float:
    """ARF: alerts per cluster, noise counted as one cluster."""
    return len(c) / len(set(c.tolist()))


def incident_miss_rate(y: np.ndarray, c: np.ndarray) -> float:
    """IMR: mean over incidents of the chance that no cluster's random representative is of it."""
    clusters = [k for k in np.unique(c) if k != -1]
    misses = []
    for i in (i for i in np.unique(y) if i != -1):
        p = 1.0
        for k in clusters:
            p *= 1.0 - np.mean(y[c == k] == i)
        misses.append(p)
    return float(np.mean(misses)) if misses else float("nan")


def grid(x_train, y_train, x_val, y_val) -> list[dict]:
    """Training and validation IMR/ARF at every grid point."""
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    rows = []
    for eps in EPS:
        radius = np.sqrt(2 * eps)  # cosine distance eps between unit vectors
        for ms in MIN_SAMPLES:
            db = DBSCAN(eps=radius, min_samples=ms).fit(x_train)
            core = db.core_sample_indices_
            predicted = np.full(len(x_val), -1)
            if len(core):
                dist, j = NearestNeighbors(n_neighbors=1).fit(x_train[core]).kneighbors(x_val)
                predicted = np.where(dist[:, 0] <= radius + 1e-9, db.labels_[core][j[:, 0]], -1)
            rows.append(dict(eps=eps, min_samples=ms, train_imr=incident_miss_rate(y_train, db.labels_),
                             train_arf=alert_reduction_factor(db.labels_),
                             val_imr=incident_miss_rate(y_val, predicted), val_arf=alert_reduction_factor(predicted)))
    return rows


def summarise(rows: list[dict], imr_target: float = 0.05) -> dict:
    """Honest point (chosen on training) and the best validation IMR."""
    ok = [r for r in rows if r["train_imr"] <= imr_target]
    honest = (max(ok, key=lambda r: (r["train_arf"], -r["train_imr"])) if ok
              else min(rows, key=lambda r: r["train_imr"]))
    best = min(rows, key=lambda r: (r["val_imr"], -r["val_arf"]))
    return dict(honest_imr=honest["val_imr"], honest_arf=honest["val_arf"],
                min_imr=best["val_imr"], min_imr_arf=best["val_arf"])


def lsa_vectors(train_alerts, val_alerts, seed=0):
    """The LSA baseline of METHOD.md."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), max_df=0.5, min_df=2, max_features=10000)
    a = vectorizer.fit_transform(train_alerts)
    svd = TruncatedSVD(100, random_state=seed).fit(a)
    return normalize(svd.transform(a)), normalize(svd.transform(vectorizer.transform(val_alerts)))


def parse_cuts(text: str) -> list[int]:
    """``0-9`` or ``0,3,5``."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(c) for c in text.split(",")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--cuts", default="0-9")
    parser.add_argument("--configs", default="lsa,sigmoid,supcon,contrastive",
                        help=f"comma-separated: lsa, {', '.join(CONFIGS)}")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    frame = load_dataset(args.csv)
    print("| configuration | honest IMR | honest ARF | min IMR | its ARF | 1-NN incident recall | 1-NN benign | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.configs.split(","):
        start = time.perf_counter()
        results = []
        for cut in parse_cuts(args.cuts):
            train, val = frame[frame.cut != cut], frame[frame.cut == cut]
            if name == "lsa":
                x_train, x_val = lsa_vectors(train.alert.tolist(), val.alert.tolist(), args.seed)
            else:
                params = dict(epochs=args.epochs, seed=args.seed, threads=args.threads, max_eval_alerts=0,
                              **CONFIGS[name])
                emb = LSTMEmbedder(**params).fit(train.alert.tolist(), train.label.to_numpy())
                x_train, x_val = emb.transform(train.alert.tolist()), emb.transform(val.alert.tolist())
            y_train, y_val = train.label.to_numpy(), val.label.to_numpy()
            row = summarise(grid(x_train, y_train, x_val, y_val))
            nearest = y_train[np.argmax(x_val @ x_train.T, axis=1)]
            row["nn_incident"] = np.mean([np.mean(nearest[y_val == i] == i) for i in np.unique(y_val[y_val >= 0])])
            row["nn_benign"] = np.mean(nearest[y_val < 0] < 0)
            results.append(row)
        m = pd.DataFrame(results).mean()
        print(f"| {name} | {m.honest_imr:.4f} | {m.honest_arf:.2f} | {m.min_imr:.4f} | {m.min_imr_arf:.2f} | "
              f"{m.nn_incident:.3f} | {m.nn_benign:.3f} | {time.perf_counter() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

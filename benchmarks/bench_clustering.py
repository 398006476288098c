"""Clustering benchmark: matrix-free cosine DBSCAN against the original's precomputed matrix.

Part 1 clusters N alert vectors at one grid point and predicts N new ones, in a fresh
child process per measurement (wall time and peak resident memory of that process):

* ``new``: :class:`lstm_rnn_correlation.clustering.CosineDBSCAN` (duplicates collapsed,
  ball index, blocks) at N = 1,000,000 with about 50,000 distinct vectors;
* ``original``: what the original did: the full cosine distance matrix
  (``scipy.spatial.distance.cdist``), scikit-learn's DBSCAN on it, and prediction from a
  cross distance matrix to the core samples (vectorised here; the original looped in
  Python), at sizes up to ``--original-max``; ``new`` runs at the same sizes, and the
  ratio is taken at equal size.

The vectors imitate an embedding of alerts: unit vectors around incident centres of
varying tightness, 5% distinct (as 50,000 of 1,000,000), a few scattered ones.

Part 2 (``--crossval``) times ``lstm-rnn-correlation crossval`` for lstm, lsa and
signature on 10 cuts of the bundled data set (generated from data_cfg.py unless
``--csv`` is given).

    .venv/bin/python benchmarks/bench_clustering.py [--repeats 3] [--crossval]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_vectors(n: int, distinct: int, dim: int, seed: int, pool_seed: int = 0) -> np.ndarray:
    """n unit vectors (float32) drawn from ``distinct`` distinct ones around incident centres."""
    rng = np.random.default_rng(pool_seed)
    n_centres = max(5, distinct // 100)
    centres = rng.normal(size=(n_centres, dim))
    spread = rng.choice([0.005, 0.02, 0.05], size=n_centres)
    which = rng.integers(0, n_centres, size=distinct)
    pool = centres[which] + rng.normal(size=(distinct, dim)) * spread[which, None]
    scattered = rng.random(distinct) < 0.02
    pool[scattered] = rng.normal(size=(int(scattered.sum()), dim))
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    pool = pool.astype(np.float32)
    draw = np.random.default_rng(seed)
    # every distinct vector at least once, the rest skewed (a few alerts repeat a lot)
    rest = draw.zipf(1.3, size=max(0, n - distinct)) % distinct
    idx = np.concatenate([np.arange(distinct), rest])[:n]
    draw.shuffle(idx)
    return pool[idx]


def child(args) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    distinct = max(2, int(args.n * args.distinct_share))
    X = make_vectors(args.n, distinct, args.dim, seed=1)
    Q = make_vectors(args.n, distinct, args.dim, seed=2)
    from scipy.spatial.distance import cdist
    from sklearn.cluster import DBSCAN

    from lstm_rnn_correlation.clustering import CosineDBSCAN

    start = time.perf_counter()
    if args.approach == "new":
        est = CosineDBSCAN(eps=args.eps, min_samples=args.min_samples).fit(X)
        labels = est.labels_
        pred = est.predict(Q)
    else:
        D = cdist(X, X, metric="cosine")
        model = DBSCAN(eps=args.eps, min_samples=args.min_samples, metric="precomputed").fit(D)
        del D
        labels = model.labels_
        core = model.core_sample_indices_
        pred = np.full(len(Q), -1)
        step = max(1, 50_000_000 // max(1, len(core)))
        for s in range(0, len(Q), step):
            Dq = cdist(Q[s:s + step], X[core], metric="cosine")
            j = Dq.argmin(axis=1)
            ok = Dq[np.arange(len(j)), j] <= args.eps
            pred[s:s + step] = np.where(ok, labels[core][j], -1)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "peak_mb": peak_mb, "clusters": int(len(set(labels.tolist())) - (-1 in labels)),
                      "noise": int((labels == -1).sum()), "pred_noise": int((pred == -1).sum())}))


def measure(approach: str, n: int, args, repeats: int) -> dict:
    """Median wall time and peak memory over ``repeats`` child processes."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, __file__, "--child", "--approach", approach, "--n", str(n), "--dim", str(args.dim),
               "--eps", str(args.eps), "--min-samples", str(args.min_samples),
               "--distinct-share", str(args.distinct_share)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    out = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "peak_mb")}
    out.update({k: runs[0][k] for k in ("clusters", "noise", "pred_noise")})
    return out


def part1(args) -> None:
    print(f"# Part 1: cluster + predict at eps={args.eps}, min_samples={args.min_samples}, dim={args.dim}, "
          f"{args.distinct_share:.0%} distinct, BLAS threads={args.threads}, median of {args.repeats}")
    print(f"{'N':>9} {'approach':>9} {'wall s':>9} {'peak MB':>9} {'clusters':>9}  ratio (original/new)")
    sizes = [s for s in (2000, 4000, 8000, 16000, 24000) if s <= args.original_max]
    for n in sizes:
        new = measure("new", n, args, args.repeats)
        orig = measure("original", n, args, args.repeats)
        for name, r in (("original", orig), ("new", new)):
            if "error" in r:
                print(f"{n:>9} {name:>9}  failed: {r['error']}")
            else:
                print(f"{n:>9} {name:>9} {r['wall_s']:>9.2f} {r['peak_mb']:>9.0f} {r['clusters']:>9}", end="")
                if name == "new" and "error" not in orig:
                    print(f"  time x{orig['wall_s'] / r['wall_s']:.1f}, memory x{orig['peak_mb'] / r['peak_mb']:.1f}"
                          f", same clusters: {orig['clusters'] == r['clusters'] and orig['noise'] == r['noise']}")
                else:
                    print()
        sys.stdout.flush()
    if args.skip_large:
        return
    big = measure("new", args.n, args, args.repeats)
    if "error" in big:
        print(f"{args.n:>9} {'new':>9}  failed: {big['error']}")
    else:
        ok = big["wall_s"] < 60 and big["peak_mb"] < 4096
        print(f"{args.n:>9} {'new':>9} {big['wall_s']:>9.2f} {big['peak_mb']:>9.0f} {big['clusters']:>9}  "
              f"target < 60 s and < 4096 MB: {'met' if ok else 'NOT met'}")
    print(f"(original at 1,000,000 would need a {args.n ** 2 * 8 / 2 ** 40:.1f} TiB distance matrix)")


def bundled_csv(work: Path) -> Path:
    sys.path.insert(0, str(REPO))
    os.environ["LRC_DATA_DIR"] = str(work / "data")
    from lstm_rnn_correlation import preprocessing as pp

    config = pp.load_data_config(REPO / "data_cfg.py")
    return Path(pp.preprocess_mcfp(config, work / "alerts.csv", seed=0).paths["data"])


def part2(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-crossval-"))
    try:
        csv = Path(args.csv) if args.csv else bundled_csv(work)
        tool = Path(sys.executable).with_name("lstm-rnn-correlation")
        cmd = [str(tool), "crossval", "--csv", str(csv), "--methods", args.methods, "--cuts", "0-9",
               "--out", str(work / "cv"), "--quiet", *args.crossval_args]
        print(f"# Part 2: {' '.join(cmd[1:])}")
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            print(f"crossval failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
            return
        print(f"crossval wall time: {wall:.0f} s ({wall / 60:.1f} min); target < 10 min: "
              f"{'met' if wall < 600 else 'NOT met'}")
        import pandas as pd

        info = [json.loads(p.read_text())["info"] for p in sorted((work / "cv" / "cuts").glob("*/cut*/done.json"))]
        frame = pd.DataFrame(info).groupby("method")[["fit_s", "transform_s", "cluster_s"]].sum()
        print("seconds summed over the 10 cuts:")
        print(frame.round(1).to_string())
        print((work / "cv" / "summary.md").read_text().split("## The original")[0])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--approach", choices=("new", "original"), default="new", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=1_000_000, help="alerts at the large size (default 1,000,000)")
    p.add_argument("--distinct-share", type=float, default=0.05, help="share of distinct vectors (default 0.05)")
    p.add_argument("--dim", type=int, default=32, help="vector size (default 32)")
    p.add_argument("--eps", type=float, default=0.01, help="grid point eps (default 0.01)")
    p.add_argument("--min-samples", type=int, default=3, help="grid point min_samples (default 3)")
    p.add_argument("--repeats", type=int, default=3, help="measurements per point (median; default 3)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    p.add_argument("--original-max", type=int, default=16000, help="largest size for the original (default 16000)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per child process")
    p.add_argument("--skip-part1", action="store_true", help="only part 2")
    p.add_argument("--skip-large", action="store_true", help="part 1: only the equal-size comparison")
    p.add_argument("--crossval", action="store_true", help="also time crossval (part 2; trains 10 LSTMs)")
    p.add_argument("--csv", help="part 2: data set CSV (default: the bundled data set, generated)")
    p.add_argument("--methods", default="lstm,lsa,signature", help="part 2: methods")
    p.add_argument("--crossval-args", nargs=argparse.REMAINDER, default=[], help="part 2: more crossval flags")
    p.add_argument("--keep", action="store_true", help="part 2: keep the crossval output")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    print(f"cores: {os.cpu_count()}, load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          "(the cores are shared with other work: times are upper bounds)")
    if not args.skip_part1:
        part1(args)
    if args.crossval:
        part2(args)


if __name__ == "__main__":
    main()

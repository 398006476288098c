"""Benchmark: alerts per second through ``correlate`` on a large Snort log, and peak memory.

Builds a Snort fast log of ``--lines`` lines (default 1,000,000) from the bundled data set's
alert lines.  By default (``--distinct 0``) every line gets its own increasing timestamp
with microseconds, as in a real Snort log, so every line is distinct and the model embeds
every one (the model reads the whole line, timestamp included: the number of *distinct*
lines is what the embedding costs; it is printed).  ``--distinct K`` instead draws the
lines from a pool of K distinct lines (the data set's lines, then copies with a new
random source port), a log that repeats whole lines.  Then, in a fresh subprocess
(so that peak memory is its own), runs what ``lstm-rnn-correlation correlate`` runs, phase
by phase: parse, alert lines, embed distinct lines + assign to known clusters + DBSCAN of
the unknowns, groups table + summary, writing the three outputs.

Printed: wall time per phase, alerts/s overall, distinct lines/s of the embedding, peak
resident memory (``ru_maxrss``), and side by side the embedding rate on every line of a
slice of the log (as if nothing were de-duplicated) with the ratio to the whole pipeline.
Median over ``--repeats`` runs.  Target (issue 6): at least 5,000 alerts/s on 2 cores.

Usage::

    python benchmarks/bench_correlate.py --model RUNDIR --clusters FILE [--lines N] [--distinct K]
        [--threads T] [--workers W] [--repeats R] [--seed S]

Without ``--model``, a default-sized model (the ``inbatch`` defaults) is trained
for one epoch on the bundled data set and clustered at eps 0.1, min_samples 3: its speed is
that of the default model, its groups are not meant to be good.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_PORT = re.compile(r"(\{(?:TCP|UDP)\} [0-9.]+):(\d+)( -> )")
_STAMP = re.compile(r"^\d\d/\d\d-\d\d:\d\d:\d\d\.\d{6}")


def make_log(path: Path, pool: list[str], lines: int, distinct: int, seed: int) -> int:
    """Write ``lines`` lines drawn from ``pool`` grown to ``distinct`` lines; returns the distinct count.

    ``distinct == 0``: every line drawn from ``pool`` gets a fresh, increasing timestamp
    (12 alerts per second on average), so (nearly) every line is distinct.
    """
    rng = random.Random(seed)
    if distinct == 0:
        import datetime

        clock = datetime.datetime(2026, 4, 1)
        seen = set()
        with open(path, "w") as handle:
            for _ in range(lines):
                clock += datetime.timedelta(microseconds=rng.randrange(1, 160_000))
                line = _STAMP.sub(clock.strftime("%m/%d-%H:%M:%S.%f"), rng.choice(pool), count=1)
                seen.add(hash(line))
                handle.write(line + "\n")
        return len(seen)
    grown = list(dict.fromkeys(pool))
    seen = set(grown)
    tries = 0
    while len(grown) < distinct and tries < distinct * 20:
        tries += 1
        base = grown[rng.randrange(len(pool))]
        new = _PORT.sub(lambda m: f"{m.group(1)}:{rng.randrange(1024, 65536)}{m.group(3)}", base, count=1)
        if new not in seen:
            seen.add(new)
            grown.append(new)
    grown = grown[:distinct]
    with open(path, "w") as handle:
        for _ in range(lines // 10000 + 1):
            n = min(10000, lines)
            if n <= 0:
                break
            handle.write("\n".join(rng.choices(grown, k=n)) + "\n")
            lines -= n
    return len(grown)


def child(args) -> None:
    """Run the correlate phases on ``args.log``; print one JSON line."""
    from lstm_rnn_correlation.formats import read_alerts
    from lstm_rnn_correlation.operator import (alert_lines, groups_frame, open_correlator, summarise,
                                               write_outputs)

    t = {}
    start = time.perf_counter()
    correlator, identity = open_correlator(args.model, args.clusters, threads=args.threads, workers=args.workers,
                                           quiet=True)
    t["load model"] = time.perf_counter() - start
    t0 = time.perf_counter()
    result = read_alerts(args.log, "snort", quiet=True)
    t["parse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lines = alert_lines(result.records)
    t["alert lines"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    corr = correlator.correlate(lines)
    t["embed+assign+new groups"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = groups_frame(result.records, corr)
    summary = summarise(frame, parse_report=result.report.to_dict(), model=identity)
    t["groups+summary"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_outputs(out, frame, summary)
    t["write outputs"] = time.perf_counter() - t0
    total = time.perf_counter() - start - t["load model"]
    # side by side: embedding every line of a slice, as if nothing were de-duplicated
    sample = list(dict.fromkeys(lines))[: args.naive_sample]
    t0 = time.perf_counter()
    correlator.embedder.transform(sample)
    naive_rate = len(sample) / (time.perf_counter() - t0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"phases": t, "total": total,
                      "cpu_s": usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime,
                      "worker_peak_rss_mb": workers.ru_maxrss / 1024, "alerts": len(lines), "distinct": corr.n_distinct,
                      "totals": summary["totals"], "naive_lines_per_s": naive_rate,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def default_model(work: Path, csv: Path) -> tuple[Path, Path]:
    """Train a default-sized model for one epoch and cluster it (eps 0.1, min_samples 3)."""
    run = work / "run"
    cli = [sys.executable, "-m", "lstm_rnn_correlation"]
    subprocess.run(cli + ["train", "--csv", str(csv), "--val-cut", "0", "--epochs", "1", "--out", str(run),
                          "--quiet"], check=True)
    subprocess.run(cli + ["fit-clusters", "--model", str(run), "--csv", str(csv), "--eps", "0.1",
                          "--min-samples", "3", "--quiet"], check=True)
    return run, run / "clusters.npz"


def bundled_csv(work: Path) -> Path:
    """The bundled data set (seed 0), generated into ``work``."""
    os.environ["LRC_DATA_DIR"] = str(work / "data")
    from lstm_rnn_correlation import preprocessing as pp

    config = pp.load_data_config(REPO / "data_cfg.py")
    return Path(pp.preprocess_mcfp(config, work / "out" / "alerts.csv", seed=0).paths["data"])


def main() -> None:
    """Parse options, build the log, run the repeats, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--distinct", type=int, default=0,
                   help="distinct alert lines in the log (default 0: every line its own timestamp, all distinct)")
    p.add_argument("--model", help="run folder (default: train a default-sized model for one epoch)")
    p.add_argument("--clusters", help="clustering file (default RUNDIR/clusters.npz)")
    p.add_argument("--csv", help="data set CSV for the line pool (default: the bundled one, generated)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of each embedding process")
    p.add_argument("--workers", type=int, default=0, help="embedding processes (default 0: one per core)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--naive-sample", type=int, default=1000, help="lines embedded one by one for the ratio")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--log", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="bench-correlate-") as tmp:
        work = Path(tmp)
        csv = Path(args.csv) if args.csv else bundled_csv(work)
        if args.model:
            model, clusters = Path(args.model), args.clusters
        else:
            model, clusters = default_model(work, csv)
        pool = pd.read_csv(csv).alert.tolist()
        log = work / "alerts.log"
        t0 = time.perf_counter()
        distinct = make_log(log, pool, args.lines, args.distinct, args.seed)
        print(f"log: {args.lines:,} lines, {distinct:,} distinct, {log.stat().st_size / 1e6:.0f} MB "
              f"(built in {time.perf_counter() - t0:.1f} s)", flush=True)
        runs = []
        for _ in range(args.repeats):
            cmd = [sys.executable, __file__, "--child", "--log", str(log), "--model", str(model),
                   "--threads", str(args.threads), "--workers", str(args.workers),
                   "--naive-sample", str(args.naive_sample)]
            if clusters:
                cmd += ["--clusters", str(clusters)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
    print(f"\nmedian of {len(runs)} run(s), torch threads {args.threads}, embedding workers {args.workers} (0: one per core):")
    for phase in runs[0]["phases"]:
        print(f"  {phase:<26} {med(lambda r: r['phases'][phase]):8.1f} s")
    total = med(lambda r: r["total"])
    embed = med(lambda r: r["phases"]["embed+assign+new groups"])
    rate = runs[0]["alerts"] / total
    naive = med(lambda r: r["naive_lines_per_s"])
    print(f"  {'total (without model load)':<26} {total:8.1f} s")
    print(f"alerts/s through correlate: {rate:,.0f} (target >= 5,000)")
    print(f"distinct lines: {runs[0]['distinct']:,}; embed+assign: {runs[0]['distinct'] / embed:,.0f} distinct lines/s")
    print(f"embedding every line (no de-duplication), measured on {args.naive_sample:,} lines: {naive:,.0f} lines/s; "
          f"correlate is {rate / naive:,.1f}x faster")
    print(f"CPU time of the correlate process and its workers (all phases, model load and the side-by-side slice included): "
          f"{med(lambda r: r['cpu_s']):,.0f} s; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"peak memory (RSS): {med(lambda r: r['peak_rss_mb']):,.0f} MB in the correlate process, "
          f"{med(lambda r: r['worker_peak_rss_mb']):,.0f} MB in the largest embedding worker "
          "(forked: pages shared with the parent count in both)")
    print(f"groups: {json.dumps(runs[0]['totals'])}")


if __name__ == "__main__":
    main()

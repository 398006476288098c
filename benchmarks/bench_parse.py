"""Benchmark: parsing Snort fast alert lines with ``formats.read_alerts`` against a plain loop.

Writes N seeded Snort fast lines (default 1,000,000; see :class:`LineMaker`: IPv4 TCP/UDP
with ports, ICMP without, 8% IPv6, some without classification, 1% with ``[**]`` in the
message) to a temporary file, then times, each in a fresh subprocess so that peak memory is its own:

* ``read_alerts``: the package parser (typed, validated records DataFrame);
* ``baseline``: a plain line-by-line ``re`` loop, the way one would write it by hand:
  ``for line in file: rows.append(PATTERN.match(line).groups())``, then one
  ``pandas.DataFrame`` of the string groups (no types, no validation, no error reasons).

Prints the median over ``--repeats`` runs of lines/s (wall-clock, and per CPU second of
the subprocess, which load from other processes disturbs less) and peak memory (peak
resident set size of the subprocess, from ``resource.getrusage``) for both, and the ratios.
Targets (issue 2): read_alerts at least 100,000 lines/s and under 1 GB peak.

Usage: ``python benchmarks/bench_parse.py [--lines N] [--repeats R] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

MESSAGES = [
    ("(http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE", "Unknown Traffic", 3, 120, 3, 1),
    ("ET POLICY Outdated Flash Version M1", "Potential Corporate Privacy Violation", 1, 1, 2014726, 26),
    ("ET SCAN Potential SSH Scan", "Attempted Information Leak", 2, 1, 2001219, 20),
    ("ET TROJAN Zeus POST Request to CnC", "A Network Trojan was detected", 1, 1, 2013976, 3),
    ("(spp_sdf) SDF Combination Alert", None, 2, 139, 1, 1),
    ("ET DNS Query for .su TLD (Soviet Union) Often Malware Related", "Potentially Bad Traffic", 2, 1, 2014169, 2),
    ("GPL ICMP_INFO PING *NIX", "Misc activity", 3, 1, 2100366, 8),
    ("(portscan) TCP Portsweep", None, 3, 122, 3, 1),
]
#: about 1 line in 100 has a message with brackets and "[**]" in it (the slow path of a regex)
TRICKY = ("ET WEB_SERVER Possible SQL Injection Attempt [**] UNION SELECT [x]", "Web Application Attack",
          1, 1, 2006446, 11)


class LineMaker:
    """Seeded realistic Snort fast lines.

    Addresses come from pools, as in a real log: 200 inside hosts, 5,000 outside hosts and
    300 IPv6 hosts; source ports are random (ephemeral), so address tokens with ports are
    mostly distinct.  Protocol mix: 67% TCP, 15% UDP, 10% ICMP, 5% ICMPv6, 3% TCP over
    IPv6 (unbracketed, compressed: the ambiguous form).
    """

    def __init__(self, seed: int):
        self.rng = rng = random.Random(seed)
        self.inside = [f"147.32.{rng.randrange(80, 90)}.{rng.randrange(1, 255)}" for _ in range(200)]
        self.outside = [".".join(str(rng.randrange(1, 255)) for _ in range(4)) for _ in range(5000)]
        self.v6 = [f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(1, 65536):x}" for _ in range(300)]

    def line(self) -> str:
        rng = self.rng
        msg, cls, prio, gid, sid, rev = TRICKY if rng.random() < 0.01 else rng.choice(MESSAGES)
        ts = "%02d/%02d-%02d:%02d:%02d.%06d" % (rng.randint(1, 12), rng.randint(1, 28), rng.randrange(24),
                                                rng.randrange(60), rng.randrange(60), rng.randrange(10**6))
        kind = rng.random()
        if kind < 0.05:
            proto, src, dst = "IPV6-ICMP", rng.choice(self.v6), "ff02::1"
        elif kind < 0.08:
            proto = "TCP"
            src = f"{rng.choice(self.v6)}:{rng.randrange(1024, 65536)}"
            dst = f"{rng.choice(self.v6)}:{rng.choice((80, 443))}"
        else:
            ends = [rng.choice(self.inside), rng.choice(self.outside)]
            rng.shuffle(ends)
            src, dst = ends
            if kind < 0.18:
                proto = "ICMP"
            else:
                proto = "TCP" if kind < 0.85 else "UDP"
                src, dst = f"{src}:{rng.randrange(1024, 65536)}", f"{dst}:{rng.choice((80, 443, 53, 25, 1040))}"
        cls_part = f" [Classification: {cls}]" if cls else ""
        return f"{ts}  [**] [{gid}:{sid}:{rev}] {msg} [**]{cls_part} [Priority: {prio}] {{{proto}}} {src} -> {dst}"


def write_lines(path: str, n: int, seed: int) -> None:
    """Write ``n`` seeded lines to ``path``."""
    maker = LineMaker(seed)
    with open(path, "w", encoding="ascii", newline="\n") as handle:
        for start in range(0, n, 10000):
            handle.write("".join(maker.line() + "\n" for _ in range(min(10000, n - start))))


BASELINE_PATTERN = (
    r"(\d\d/\d\d(?:/\d\d(?:\d\d)?)?-\d\d:\d\d:\d\d\.\d+)\s+\[\*\*\] \[(\d+):(\d+):(\d+)\] (.*?) \[\*\*\]"
    r"(?: \[Classification: ([^\]]*)\])?(?: \[Priority: (\d+)\])?(?: \{([^}]+)\} (\S+?)(?::(\d+))? -> (\S+?)(?::(\d+))?)?\s*$"
)


def worker(kind: str, path: str) -> dict:
    """Parse ``path`` one way; return seconds, rows and peak RSS (MiB) of this process."""
    import resource

    import pandas as pd  # noqa: F401  (imported before timing in both workers)

    if kind == "read_alerts":
        from lstm_rnn_correlation.formats import read_alerts

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        rows = len(read_alerts([path], "snort").records)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    else:
        import re

        pattern = re.compile(BASELINE_PATTERN)
        columns = ["timestamp", "gid", "sid", "rev", "message", "classification", "priority",
                   "protocol", "src_ip", "src_port", "dst_ip", "dst_port"]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, c0 = time.perf_counter(), time.process_time()
        out = []
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                m = pattern.match(line)
                if m is None:
                    raise ValueError(f"{path}:{lineno}: bad line")
                out.append(m.groups())
        frame = pd.DataFrame(out, columns=columns)
        rows = len(frame)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mib": peak / 1024, "start_mib": rss0 / 1024}


def run_worker(kind: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, path], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "alerts.log")
        t0 = time.perf_counter()
        write_lines(path, args.lines, args.seed)
        size = os.path.getsize(path)
        print(f"{args.lines:,} Snort fast lines, {size / 2**20:.0f} MiB, seed {args.seed} "
              f"(written in {time.perf_counter() - t0:.1f} s); {args.repeats} repeats, "
              f"{os.cpu_count()} CPUs")
        results = {"read_alerts": [], "baseline": []}
        for _ in range(args.repeats):
            for kind in results:  # alternate, so that machine load hits both alike
                got = run_worker(kind, path)
                if got["rows"] != args.lines:
                    raise SystemExit(f"{kind} returned {got['rows']} rows, expected {args.lines}")
                results[kind].append(got)
    med = {}
    print(f"{'':12s} {'lines/s':>9s} {'seconds':>8s} {'lines/CPU-s':>12s} {'peak RSS MiB':>13s} {'(at start)':>11s}")
    for kind, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        start = statistics.median(r["start_mib"] for r in runs)
        med[kind] = (args.lines / seconds, peak, args.lines / cpu)
        print(f"{kind:12s} {args.lines / seconds:9,.0f} {seconds:8.2f} {args.lines / cpu:12,.0f} {peak:13.0f} {start:11.0f}")
    print("(medians; lines/s is wall-clock, lines/CPU-s divides by the process's own CPU time,\n"
          f" which other load on the machine disturbs less; load average now {os.getloadavg()[0]:.1f})")
    speed = med["read_alerts"][0] / med["baseline"][0]
    cpu_speed = med["read_alerts"][2] / med["baseline"][2]
    memory = med["read_alerts"][1] / med["baseline"][1]
    print(f"ratio read_alerts/baseline: speed {speed:.2f}x (per CPU second {cpu_speed:.2f}x), "
          f"peak memory {memory:.2f}x")
    ok_speed = med["read_alerts"][0] >= 100_000
    ok_mem = med["read_alerts"][1] < 1024
    print(f"targets: >= 100,000 lines/s {'met' if ok_speed else 'NOT met'} (wall-clock); "
          f"< 1 GB peak {'met' if ok_mem else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

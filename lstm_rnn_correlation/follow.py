"""``correlate --follow``: read growing alert logs as ``tail -F`` does, and correlate in batches.

:class:`LineFollower` reads the complete lines appended to one log since the last look.
It survives rotation:

* **rename and re-create** (logrotate's default, Snort/Suricata reopening their log):
  the path's inode changes; the rest of the old file is read to its end first, then the
  new file from its start;
* **truncation** (``copytruncate``): the file is shorter than the read position; reading
  restarts at its start.

A line without its line end yet is held back until it is complete (or until its file
is rotated away).  Line numbers count from 1 in each file, as the parser's do.

:func:`follow_and_correlate` gathers new lines into batches (at most ``--batch-lines``
lines, at least every ``--batch-seconds``), parses each batch with the parser's rules
(a bad line stops with its real file and line number unless ``--skip-bad-lines``),
correlates everything read so far and rewrites ``groups.csv``, ``groups.json`` and
``report.html`` atomically, so a reader never sees a half-written report.  It stops
after ``--max-batches`` batches, after ``--idle-exit`` seconds without new lines, or on
Ctrl-C.  Everything read is kept in memory (restart it daily, with the day's log).
Line formats only: Snort/Suricata fast and EVE (one JSON object a line).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstm_rnn_correlation.errors import AlertParseError, UserError

_READ_BYTES = 1 << 20


class LineFollower:
    """The new complete lines of one growing log file, across rotation and truncation.

    Parameters
    ----------
    path : the log file (it may not exist yet).
    from_end : start at the current end of the file (like ``tail -n 0 -F``) instead of its start.

    Attributes
    ----------
    rotations : how many times the file was replaced or truncated.
    lineno : line number of the last line returned (in the current file).
    """

    def __init__(self, path, from_end: bool = False):
        self.path = Path(path)
        self.from_end = from_end
        self.rotations = 0
        self.lineno = 0
        self._fh = None
        self._buf = b""
        self._first_open = True

    def _open(self) -> bool:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        if self._first_open and self.from_end:
            fh.seek(0, os.SEEK_END)
        self._first_open = False
        self._fh, self._buf, self.lineno = fh, b"", 0
        return True

    def _drain(self) -> bytes:
        chunks = []
        while True:
            data = self._fh.read(_READ_BYTES)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def _split(self, data: bytes, final: bool) -> list[tuple[int, bytes]]:
        data = self._buf + data
        parts = data.split(b"\n")
        self._buf = b"" if final else parts.pop()
        if final and parts and parts[-1] == b"":
            parts.pop()
        out = []
        for line in parts:
            self.lineno += 1
            out.append((self.lineno, line[:-1] if line.endswith(b"\r") else line))
        return out

    def close(self) -> None:
        """Close the open file, if any."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def poll(self) -> list[tuple[int, bytes]]:
        """Complete lines added since the last call, as ``(line number, bytes without line end)``."""
        if self._fh is None and not self._open():
            return []
        out = self._split(self._drain(), final=False)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:  # moved away, not re-created yet: keep reading the old one
            return out
        current = os.fstat(self._fh.fileno())
        if (st.st_ino, st.st_dev) != (current.st_ino, current.st_dev):
            out += self._split(self._drain(), final=True)  # the rest of the rotated file
            self.close()
            self.rotations += 1
            if self._open():
                out += self._split(self._drain(), final=False)
        elif st.st_size < self._fh.tell():  # truncated in place
            self.rotations += 1
            self._fh.seek(0)
            self._buf, self.lineno = b"", 0
            out += self._split(self._drain(), final=False)
        return out


class _ReportTotals:
    """The parse reports of all batches added up (shown in the outputs)."""

    KEYS = ("lines", "alerts", "skipped_events", "bad_lines", "replaced_chars", "blank_lines")

    def __init__(self, files: list[str]):
        self.data = {k: 0 for k in self.KEYS}
        self.data.update(files=len(files), bad_examples=[], formats={}, empty_files=[], notes=[])

    def add(self, report: dict, examples: list) -> None:
        for k in self.KEYS:
            self.data[k] += int(report.get(k, 0))
        room = 5 - len(self.data["bad_examples"])
        self.data["bad_examples"].extend(examples[:max(room, 0)])


def _parse_batch(path: Path, lines: list[tuple[int, bytes]], fmt: str, skip_bad_lines: bool, year, tmpdir: str):
    """Parse one file's batch of lines; records and report carry the real file name and line numbers."""
    from lstm_rnn_correlation.formats import read_alerts, sniff_format

    from lstm_rnn_correlation.formats import empty_records

    if not any(b.strip() for _, b in lines):
        return empty_records(), {"lines": len(lines), "blank_lines": len(lines)}, [], fmt
    tmp = Path(tmpdir) / "batch.log"
    tmp.write_bytes(b"\n".join(b for _, b in lines) + b"\n")
    linenos = np.array([n for n, _ in lines], dtype=np.int64)
    if fmt == "auto":
        fmt = sniff_format(tmp)
    if fmt == "ait-ads":
        raise UserError(f"{path}: --follow reads line formats (snort, suricata-fast, eve), not AIT-ADS CSV")
    try:
        result = read_alerts(tmp, fmt, skip_bad_lines=skip_bad_lines, year=year, quiet=True)
    except AlertParseError as exc:
        real = int(linenos[exc.lineno - 1]) if 0 < exc.lineno <= len(linenos) else exc.lineno
        raise AlertParseError(str(path), real, exc.reason, exc.line) from None
    records = result.records
    if not records.empty:
        records["file"] = str(path)
        records["lineno"] = linenos[records["lineno"].to_numpy(dtype=np.int64) - 1]
    report = result.report.to_dict()
    examples = [[str(path), int(linenos[n - 1]) if 0 < n <= len(linenos) else n, r]
                for _, n, r in report.get("bad_examples", [])]
    return records, report, examples, fmt


def follow_and_correlate(args, correlator, identity) -> int:
    """The ``--follow`` loop (see the module docstring); returns the exit status.

    Parameters
    ----------
    args : ``correlate``'s parsed arguments (logs, out, fmt, skip_bad_lines, year, quiet,
        from_end, batch_lines, batch_seconds, poll, max_batches, idle_exit, report_groups).
    correlator : from :func:`lstm_rnn_correlation.operator.open_correlator`.
    identity : the model/clustering identity shown in the report.
    """
    from lstm_rnn_correlation.formats import empty_records
    from lstm_rnn_correlation.operator import correlate_records, write_outputs

    if args.batch_lines < 1 or args.batch_seconds < 0 or args.poll <= 0:
        raise UserError("--batch-lines must be >= 1, --batch-seconds >= 0 and --poll > 0")
    for p in args.logs:
        if Path(p).is_dir():
            raise UserError(f"{p}: is a folder, not a log file")
    followers = [LineFollower(p, from_end=args.from_end) for p in args.logs]
    formats = {i: args.fmt for i in range(len(followers))}
    totals = _ReportTotals([str(p) for p in args.logs])
    parts: list[pd.DataFrame] = []
    pending: list[tuple[int, int, bytes]] = []
    batches = 0

    def publish() -> dict:
        records = pd.concat(parts, ignore_index=True) if parts else empty_records()
        frame, summary = correlate_records(correlator, records, parse_report=dict(totals.data),
                                           identity=identity, report_groups=args.report_groups)
        summary["follow"] = {"batches": batches, "rotations": sum(f.rotations for f in followers)}
        write_outputs(args.out, frame, summary)
        return summary

    def process(batch) -> None:
        nonlocal batches
        with tempfile.TemporaryDirectory(prefix="lrc-follow-") as tmpdir:
            for i, follower in enumerate(followers):
                mine = [(n, b) for j, n, b in batch if j == i]
                if not mine:
                    continue
                records, report, examples, formats[i] = _parse_batch(
                    follower.path, mine, formats[i], args.skip_bad_lines, args.year, tmpdir)
                totals.add(report, examples)
                if not records.empty:
                    parts.append(records)
        batches += 1
        summary = publish()
        if not args.quiet:
            t = summary["totals"]
            print(f"batch {batches}: {len(batch):,} lines; {t['alerts']:,} alerts so far -> {t['groups']:,} groups "
                  f"({t['new_groups']} new), {t['filtered']:,} filtered", file=sys.stderr, flush=True)

    publish()  # an (empty) report exists from the start
    last_activity = time.monotonic()
    first_pending = None
    try:
        while True:
            got = False
            for i, follower in enumerate(followers):
                new = follower.poll()
                if new:
                    pending.extend((i, n, b) for n, b in new)
                    got = True
            now = time.monotonic()
            if got:
                last_activity = now
                if first_pending is None:
                    first_pending = now
            idle = args.idle_exit is not None and now - last_activity >= args.idle_exit
            while pending and (len(pending) >= args.batch_lines or now - first_pending >= args.batch_seconds or idle):
                batch, pending = pending[: args.batch_lines], pending[args.batch_lines:]
                process(batch)
                first_pending = time.monotonic() if pending else None
                if args.max_batches is not None and batches >= args.max_batches:
                    return 0
            if idle and not pending:
                return 0
            time.sleep(args.poll)
    except KeyboardInterrupt:
        print("stopped; the outputs hold every batch processed", file=sys.stderr)
        return 0
    finally:
        for follower in followers:
            follower.close()

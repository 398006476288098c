"""Alert formats: parse IDS alert logs into normalised records, and write alert lines back.

Four formats (:data:`FORMATS`):

``snort``
    Snort "fast" alert lines (``alert_fast``; Snort 2 and 3)::

        08/15-15:53:48.900440  [**] [120:3:1] (http_inspect) NO CONTENT-LENGTH [**] [Classification: Unknown Traffic] [Priority: 3] {TCP} 94.63.149.152:80 -> 147.32.84.165:1040

``suricata-fast``
    Suricata's ``fast.log``: the same grammar with a four-digit year (``08/15/2015-...``).
    The full grammar, with IPv6, ICMP without ports and inline ``[Drop]`` verdicts, is in
    :mod:`lstm_rnn_correlation._formats_fast`.  Lines round-trip exactly:
    ``build_fast_line(parse_fast_line(line)) == line``.

``eve``
    Suricata EVE JSON: one object a line, or one JSON array of objects (a pretty-printed
    stream of objects works too).  Events whose ``event_type`` is not ``"alert"`` are
    skipped and counted.

``ait-ads``
    The AIT Alert Data Set CSV (``time,name,ip,host,short,time_label,event_label``; plain or
    gzipped), e.g. ``../shared/data/ait-ads/russellmitchell_alerts.csv.gz``.

Records
-------
:func:`read_alerts` returns one row per alert with :data:`RECORD_COLUMNS` first, then
:data:`EXTRA_COLUMNS`; dtypes are in :data:`COLUMN_DTYPES`:

* ``timestamp``: naive ``datetime64[ns]``, the time as the detector wrote it.  A fast
  line without a year gets ``year`` (default :data:`DEFAULT_YEAR`, 2000, a leap year so
  that 02/29 parses), every such line the same year: a yearless log that runs past New
  Year needs Snort's ``-y`` (or splitting it).  Two-digit years are 1969-2068.  EVE
  timestamps keep their local wall-clock time (what Suricata's fast.log prints for the
  same alert) and the UTC offset goes to ``utc_offset`` (e.g. ``-0600``); AIT-ADS unix
  times become UTC.
* ``gid``, ``sid``, ``rev``, ``priority``, ``src_port``, ``dst_port``: nullable ``Int64``
  (ports are missing for ICMP and other portless alerts).  For EVE, ``sid`` is
  ``alert.signature_id``, ``priority`` is ``alert.severity`` and ``classification`` is
  ``alert.category``.
* ``detector``: ``snort``, ``suricata``, or for AIT-ADS the lower-cased detector name
  that starts ``name`` (``wazuh``, ``suricata``, ``aminer``).
* ``raw``: the line as read (without its line end).  For an EVE array, or a
  pretty-printed object, it is the object re-written compactly on one line.
* ``file``, ``lineno``: where the alert came from (the line an EVE object starts on;
  for AIT-ADS the CSV line, counting the header as line 1).
* extra columns: ``format`` (which of :data:`FORMATS`); the layout of a fast line, so
  that it is rebuilt exactly: ``action`` (``Drop``, ``wDrop``...), ``year_digits`` (0, 2,
  4), ``ts_sep`` (one or two spaces before ``[**]``), ``ip_brackets`` (IPv6 written as
  ``[addr]:port``), ``trailing`` (white space at the end of the line); ``utc_offset`` (EVE);
  AIT-ADS's own columns ``host``, ``ip``, ``short``, ``time_label``, ``event_label``.
  ``message`` is the signature text (for AIT-ADS the whole ``name``).

Alert text for the model
------------------------
:func:`build_alert_line` gives the one line the model reads: the fast line for Snort,
Suricata and EVE records (EVE as Suricata's fast.log would print it: four-digit year,
``[Drop]`` for ``blocked`` alerts, no ports for ICMP), and for AIT-ADS records
``YYYY-MM-DD HH:MM:SS host ip name`` (e.g.
``2022-01-21 00:02:27 mail 172.19.130.4 Wazuh: ClamAV database update``).

Bad input
---------
A line that does not parse stops :func:`read_alerts` with
:class:`~lstm_rnn_correlation.errors.AlertParseError` naming the file and line, unless
``skip_bad_lines``: then such lines are counted and the first few listed in the report.
Blank lines are skipped and counted.  A JSON syntax error inside an EVE array cannot be
skipped (the array cannot be resynchronised) and always stops.  Missing files,
directories, unreadable or corrupt (gzip) files, binary files and UTF-16 without a
byte-order mark are a :class:`~lstm_rnn_correlation.errors.UserError`.  Text that is not
UTF-8, or not ASCII, is read with each such character replaced by ``?`` and counted
(``ParseReport.replaced_chars``): the model reads ASCII only.  A UTF-16/32 file with a
byte-order mark is decoded.  Empty files are listed in the report, not an error.
"""

from __future__ import annotations

import csv
import gc
import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from lstm_rnn_correlation import _formats_fast as _fast
from lstm_rnn_correlation._formats_fast import DEFAULT_YEAR, MAX_YEAR, MIN_YEAR, build_fast_line
from lstm_rnn_correlation._formats_io import HEAD_BYTES, TextChunks, check_file, is_gzip, read_head, read_text
from lstm_rnn_correlation.errors import AlertParseError, UserError

__all__ = [
    "FORMATS", "RECORD_COLUMNS", "EXTRA_COLUMNS", "ALL_COLUMNS", "COLUMN_DTYPES", "DEFAULT_YEAR",
    "ParseReport", "ParseResult", "parse_fast_line", "build_fast_line", "build_alert_line",
    "build_alert_lines", "sniff_format", "read_alerts", "empty_records", "add_arguments", "run",
]

FORMATS = ("snort", "suricata-fast", "eve", "ait-ads")
RECORD_COLUMNS = ["timestamp", "gid", "sid", "rev", "message", "classification", "priority",
                  "protocol", "src_ip", "src_port", "dst_ip", "dst_port", "detector", "raw",
                  "file", "lineno"]
EXTRA_COLUMNS = ["format", "action", "year_digits", "ts_sep", "ip_brackets", "trailing",
                 "utc_offset", "host", "ip", "short", "time_label", "event_label"]
ALL_COLUMNS = RECORD_COLUMNS + EXTRA_COLUMNS
_INT_COLUMNS = ("gid", "sid", "rev", "priority", "src_port", "dst_port", "year_digits")
COLUMN_DTYPES = {name: str(pd.Series(["text"]).dtype) for name in ALL_COLUMNS}   # "str" (pandas 3)
COLUMN_DTYPES.update({name: "Int64" for name in _INT_COLUMNS})
COLUMN_DTYPES.update({"timestamp": "datetime64[ns]", "lineno": "int64", "ip_brackets": "boolean"})
#: how many offending lines the report lists
MAX_BAD_EXAMPLES = 5
AIT_ADS_COLUMNS = ("time", "name", "ip", "host", "short", "time_label", "event_label")
_DETECTOR = {"snort": "snort", "suricata-fast": "suricata", "eve": "suricata"}


# --------------------------------------------------------------------------- report


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass
class ParseReport:
    """What :func:`read_alerts` read, skipped and replaced.

    Attributes
    ----------
    files : files read.
    lines : physical lines read (all formats, header and blank lines included).
    alerts : alert records returned.
    skipped_events : EVE events that are not alerts (skipped).
    bad_lines : lines (or EVE objects, CSV rows) that did not parse and were skipped.
    bad_examples : the first few of them as ``(file, lineno, reason)``.
    replaced_chars : characters replaced by ``?`` (not UTF-8, or not ASCII).
    blank_lines : blank lines skipped.
    empty_files : files with nothing in them.
    formats : format used per file.
    notes : other remarks (decoded encodings, ...).
    """

    files: int = 0
    lines: int = 0
    alerts: int = 0
    skipped_events: int = 0
    bad_lines: int = 0
    bad_examples: list = field(default_factory=list)
    replaced_chars: int = 0
    blank_lines: int = 0
    empty_files: list = field(default_factory=list)
    formats: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def add_bad(self, path, lineno: int, reason: str) -> None:
        """Count one skipped bad line and keep it as an example if among the first few."""
        self.bad_lines += 1
        if len(self.bad_examples) < MAX_BAD_EXAMPLES:
            self.bad_examples.append((str(path), int(lineno), reason))

    def summary(self) -> str:
        """A few human-readable lines: counts, skips, replacements, empty files, notes."""
        kinds = Counter(self.formats.values())
        fmt = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
        files = f"{self.files} file{'s' if self.files != 1 else ''}" + (f" ({fmt})" if fmt else "")
        out = [f"parsed {files}: {_count(self.lines, 'line')}, {_count(self.alerts, 'alert')}"]
        if self.skipped_events:
            out.append(f"  {_count(self.skipped_events, 'non-alert EVE event')} skipped")
        if self.blank_lines:
            out.append(f"  {_count(self.blank_lines, 'blank line')} skipped")
        if self.bad_lines:
            out.append(f"  {_count(self.bad_lines, 'bad line')} skipped; the first:")
            out.extend(f"    {f}:{n}: {r}" for f, n, r in self.bad_examples)
        if self.replaced_chars:
            out.append(f"  {_count(self.replaced_chars, 'character')} replaced by '?' (not ASCII or not UTF-8)")
        if self.empty_files:
            out.append(f"  empty files: {', '.join(self.empty_files)}")
        out.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(out)

    def to_dict(self) -> dict:
        """The report as plain JSON-able values."""
        data = asdict(self)
        data["bad_examples"] = [list(b) for b in self.bad_examples]
        return data


@dataclass
class ParseResult:
    """Records (a DataFrame, :data:`ALL_COLUMNS`) and the :class:`ParseReport`."""

    records: pd.DataFrame
    report: ParseReport


# --------------------------------------------------------------------------- assembling columns


def _obj(values) -> np.ndarray:
    """A 1-d object array of the given values, NaN for None (strings are not split up)."""
    values = [np.nan if v is None else v for v in values]
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _filled(n: int, value) -> np.ndarray:
    """An object array holding ``value`` n times (one shared object; np.full would copy it)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


class _Part:
    """The parsed alerts of one file, as blocks of columns (one block per chunk of text).

    A block is ``(n, columns)``: numpy arrays of length n; Int64 and boolean columns as
    ``(values, present)`` with ``present`` None when every value is present.  ``constants``
    fill whole columns (detector, format, file).  Blocks are concatenated only once, into
    the final frame, and freed column by column on the way.
    """

    def __init__(self, blocks: list, constants: dict):
        self.blocks = blocks
        self.constants = constants
        self.n = sum(n for n, _ in blocks)


def _na_piece(name: str, n: int):
    dtype = COLUMN_DTYPES[name]
    if dtype == "datetime64[ns]":
        return np.full(n, np.datetime64("NaT"), dtype="M8[ns]")
    if dtype in ("Int64", "boolean"):
        return (np.zeros(n, dtype=bool if dtype == "boolean" else np.int64), np.zeros(n, dtype=bool))
    if dtype == "int64":
        return np.zeros(n, dtype=np.int64)
    return _filled(n, np.nan)


def _pieces(part: _Part, name: str) -> list:
    out = []
    for n, columns in part.blocks:
        if name in columns:
            out.append(columns.pop(name))   # the frame's copy replaces it
        elif name in part.constants:
            out.append(_filled(n, part.constants[name]))
        else:
            out.append(_na_piece(name, n))
    return out


#: the dtype pandas gives text by default ("str" since pandas 3; object before)
_STR = pd.Series(["text"]).dtype


def _str_array(values: np.ndarray):
    """A text column from an object array of str or NaN (no copy where possible)."""
    if getattr(_STR, "storage", None) == "python":
        return pd.arrays.StringArray(values, dtype=_STR)  # validates, no copy
    if _STR == object:
        return values
    return pd.array(values, dtype=_STR)


def _assemble(parts: list[_Part]) -> pd.DataFrame:
    data = {}
    total = sum(p.n for p in parts)
    for name in ALL_COLUMNS:
        dtype = COLUMN_DTYPES[name]
        pieces = [piece for p in parts for piece in _pieces(p, name)] or [_na_piece(name, 0)]
        if dtype in ("Int64", "boolean"):
            values = np.concatenate([p[0] for p in pieces])
            present = np.concatenate([p[1] if p[1] is not None else np.ones(len(p[0]), bool) for p in pieces])
            cls = pd.arrays.IntegerArray if dtype == "Int64" else pd.arrays.BooleanArray
            values = values.astype(np.int64 if dtype == "Int64" else bool, copy=False)
            data[name] = cls(values, ~present)
        elif dtype == "datetime64[ns]":
            data[name] = np.concatenate(pieces).astype("M8[ns]", copy=False)
        elif dtype == "int64":
            data[name] = np.concatenate(pieces).astype(np.int64, copy=False)
        else:
            data[name] = _str_array(np.concatenate(pieces))
        del pieces
    frame = pd.DataFrame(data, index=pd.RangeIndex(total), copy=False)
    return frame[ALL_COLUMNS]


def empty_records() -> pd.DataFrame:
    """An empty records frame with every column and dtype."""
    return _assemble([])


# --------------------------------------------------------------------------- fast lines


def _bad(report: ParseReport, path, skip: bool, lineno: int, reason: str, line: str | None):
    if not skip:
        raise AlertParseError(str(path), lineno, reason, line)
    report.add_bad(path, lineno, reason)


def _read_fast(path: Path, fmt: str, report: ParseReport, *, skip: bool, year, progress) -> _Part:
    chunks = TextChunks(path)
    blocks = []
    for text, first in chunks:
        piece = _fast.parse_fast_text(text, first, year=year)
        progress.update(len(text))
        del text
        report.lines += piece.lines
        report.blank_lines += piece.blank
        for lineno, reason, line in piece.bad:
            _bad(report, path, skip, lineno, reason, line)
        if len(piece.lineno):
            blocks.append((len(piece.lineno), dict(piece.columns, lineno=piece.lineno)))
    _finish_chunks(path, chunks, report)
    return _Part(blocks, {"detector": _DETECTOR[fmt], "format": fmt, "file": str(path)})


def _finish_chunks(path: Path, chunks: TextChunks, report: ParseReport) -> None:
    report.replaced_chars += chunks.replaced
    report.notes.extend(chunks.notes)
    if chunks.empty:
        report.empty_files.append(str(path))


def _fast_row_to_dict(piece: "_fast.FastChunk", i: int = 0) -> dict:
    row = {}
    for name in ALL_COLUMNS:
        if name not in piece.columns:
            row[name] = None
            continue
        value = piece.columns[name]
        if isinstance(value, tuple):
            vals, present = value
            if present is not None and not present[i]:
                row[name] = None
            else:
                row[name] = bool(vals[i]) if COLUMN_DTYPES[name] == "boolean" else int(vals[i])
        elif value.dtype.kind == "M":
            row[name] = pd.Timestamp(value[i])
        else:
            row[name] = value[i] if isinstance(value[i], str) else None
    return row


def parse_fast_line(line: str, *, year: int | None = None, detector: str = "snort") -> dict:
    """Parse one Snort/Suricata fast alert line into a record dict.

    Parameters
    ----------
    line : the line; one trailing ``\\n`` or ``\\r\\n`` is dropped.
    year : year for a timestamp without one (default :data:`DEFAULT_YEAR`).
    detector : ``"snort"`` or ``"suricata"`` (sets ``detector`` and ``format``).

    Returns
    -------
    dict with every column of :data:`ALL_COLUMNS`: ``timestamp`` a :class:`pandas.Timestamp`,
    integers as ``int``, missing values as ``None``; ``file`` and ``lineno`` are None.
    :func:`build_fast_line` of it gives the line back exactly.

    Raises
    ------
    ValueError : the line is not a fast alert line; the message says why.
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be str, got {type(line).__name__}")
    text = line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else line
    if "\n" in text:
        raise ValueError("more than one line")
    if not text.strip():
        raise ValueError("empty line")
    _check_year(year)
    piece = _fast.parse_fast_text(text, 1, year=year)
    if piece.bad:
        raise ValueError(piece.bad[0][1])
    row = _fast_row_to_dict(piece)
    row["detector"] = detector
    row["format"] = "suricata-fast" if detector == "suricata" else "snort"
    return row


# --------------------------------------------------------------------------- EVE JSON

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_EVE_TS = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                     r"(Z|[+-]\d\d:?\d\d)?")
_EPOCH = datetime(1970, 1, 1)


def _eve_int(obj: Mapping, key: str, where: str, required: bool, low=0, high=None):
    value = obj.get(key)
    if value is None:
        if required:
            raise ValueError(f"missing {where}{key}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}{key} is not an integer: {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{where}{key} {value} out of range")
    return value


def _eve_str(obj: Mapping, key: str, where: str, required: bool):
    value = obj.get(key)
    if value is None:
        if required:
            raise ValueError(f"missing {where}{key}")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ValueError(f"{where}{key} is not a string: {value!r}")
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"{where}{key} contains a line break")
    return text


def _eve_timestamp(text) -> tuple[int, str | None]:
    if not isinstance(text, str):
        raise ValueError(f"timestamp is not a string: {text!r}")
    m = _EVE_TS.fullmatch(text)
    if m is None:
        raise ValueError(f"timestamp {text!r} is not ISO 8601 (YYYY-MM-DDTHH:MM:SS.ffffff+hhmm)")
    y, mo, d, h, mi, s = (int(m.group(k)) for k in range(1, 7))
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise ValueError(f"timestamp {text!r}: year out of range {MIN_YEAR}-{MAX_YEAR}")
    try:
        wall = datetime(y, mo, d, h, mi, s)
    except ValueError:
        raise ValueError(f"invalid date or time in timestamp {text!r}") from None
    frac = (m.group(7) or "").ljust(9, "0")
    ns = (wall - _EPOCH) // _ONE_SECOND * 1_000_000_000 + int(frac or 0)
    offset = m.group(8)
    return ns, offset


_ONE_SECOND = datetime(1970, 1, 1, 0, 0, 1) - _EPOCH


def _eve_record(obj) -> dict | None:
    """One EVE object -> record fields, None for a non-alert event; ValueError if invalid."""
    import ipaddress

    if not isinstance(obj, dict):
        raise ValueError(f"not a JSON object but {type(obj).__name__}")
    if "event_type" not in obj:
        raise ValueError("no event_type: not a Suricata EVE event")
    if obj["event_type"] != "alert":
        return None
    alert = obj.get("alert")
    if not isinstance(alert, dict):
        raise ValueError("event_type is alert but there is no alert object")
    if "timestamp" not in obj:
        raise ValueError("missing timestamp")
    ns, offset = _eve_timestamp(obj["timestamp"])
    rec = {
        "timestamp": ns,
        "gid": _eve_int(alert, "gid", "alert.", True),
        "sid": _eve_int(alert, "signature_id", "alert.", True),
        "rev": _eve_int(alert, "rev", "alert.", True),
        "message": _eve_str(alert, "signature", "alert.", True),
        "classification": _eve_str(alert, "category", "alert.", False),
        "priority": _eve_int(alert, "severity", "alert.", False),
        "protocol": _eve_str(obj, "proto", "", False),
        "src_port": _eve_int(obj, "src_port", "", False, 0, 65535),
        "dst_port": _eve_int(obj, "dest_port", "", False, 0, 65535),
        "utc_offset": offset,
        "action": "Drop" if alert.get("action") == "blocked" else None,
    }
    ips = []
    for key in ("src_ip", "dest_ip"):
        value = obj.get(key)
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except (ValueError, TypeError):
                raise ValueError(f"invalid {key} {value!r}") from None
        ips.append(value)
    if (ips[0] is None) != (ips[1] is None):
        raise ValueError("src_ip and dest_ip must both be present or both absent")
    if ips[0] is None and (rec["src_port"] is not None or rec["dst_port"] is not None):
        raise ValueError("ports without addresses")
    rec["src_ip"], rec["dst_ip"] = ips
    return rec


def _iter_json_values(text: str, path: Path):
    """Yield (value, start, end, lineno) for a JSON array's elements or a stream of values."""
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\n\r]*")
    pos = ws.match(text, 0).end()
    lineno = 1
    counted = 0

    def line_at(p):
        nonlocal lineno, counted
        lineno += text.count("\n", counted, p)
        counted = p
        return lineno

    def fail(p, msg):
        raise AlertParseError(str(path), line_at(p), f"invalid JSON: {msg}")

    in_array = pos < len(text) and text[pos] == "["
    if in_array:
        pos = ws.match(text, pos + 1).end()
        if pos < len(text) and text[pos] == "]":
            pos = ws.match(text, pos + 1).end()
            if pos != len(text):
                fail(pos, "text after the closing ']'")
            return
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(exc.pos, exc.msg)
        yield value, pos, end, line_at(pos)
        pos = ws.match(text, end).end()
        if in_array:
            if pos < len(text) and text[pos] == ",":
                pos = ws.match(text, pos + 1).end()
                continue
            if pos < len(text) and text[pos] == "]":
                pos = ws.match(text, pos + 1).end()
                if pos != len(text):
                    fail(pos, "text after the closing ']'")
                return
            fail(pos, "expected ',' or ']' between array elements")
    if in_array:
        fail(pos, "the array is not closed with ']'")


def _read_eve(path: Path, report: ParseReport, *, skip: bool, progress) -> _Part:
    text, chunks = read_text(path)
    _finish_chunks(path, chunks, report)
    progress.update(len(text))
    nlines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    report.lines += nlines
    stripped = text.lstrip()
    rows: list[dict] = []
    raws: list[str] = []
    linenos: list[int] = []

    def take(obj, raw, lineno):
        try:
            rec = _eve_record(obj)
        except ValueError as exc:
            _bad(report, path, skip, lineno, str(exc), raw)
            return
        if rec is None:
            report.skipped_events += 1
            return
        for key in ("message", "classification", "protocol"):
            if rec[key] is not None and not rec[key].isascii():
                rec[key], n = _NON_ASCII.subn("?", rec[key])
                report.replaced_chars += n
        rows.append(rec)
        raws.append(raw)
        linenos.append(lineno)

    def compact(obj):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)

    lines = text.split("\n")
    # one object a line (Suricata's eve.json) unless none of the first lines is a whole
    # object: then a JSON array, or a pretty-printed stream of objects
    firsts = [ln for ln in lines[:1000] if ln.strip()][:5]
    one_per_line = stripped.startswith("{") and any(_is_json_object(ln) for ln in firsts)
    if one_per_line:
        for i, line in enumerate(lines, 1):
            if not line.strip():
                if i < len(lines) or line:  # not the empty rest after the last line end
                    report.blank_lines += 1
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                _bad(report, path, skip, i, f"invalid JSON: {exc.msg} (column {exc.colno})", line)
                continue
            take(obj, line, i)
    elif stripped:
        for obj, start, end, lineno in _iter_json_values(text, path):
            source = text[start:end]
            take(obj, source if "\n" not in source else compact(obj), lineno)
    n = len(rows)
    columns = {
        "timestamp": np.array([r["timestamp"] for r in rows], dtype=np.int64).view("M8[ns]"),
        "raw": _obj(raws),
        "lineno": np.array(linenos, dtype=np.int64),
        "year_digits": (np.full(n, 4, np.int64), None),
        "ip_brackets": (np.zeros(n, bool), np.array([r["src_ip"] is not None for r in rows], bool)),
    }
    for name in ("gid", "sid", "rev", "priority", "src_port", "dst_port"):
        vals = [r[name] for r in rows]
        columns[name] = (np.array([0 if v is None else v for v in vals], dtype=np.int64),
                         np.array([v is not None for v in vals], dtype=bool))
    for name in ("message", "classification", "protocol", "src_ip", "dst_ip", "utc_offset", "action"):
        columns[name] = _obj([r[name] for r in rows])
    columns["ts_sep"] = _filled(n, "  ")
    return _Part([(n, columns)], {"detector": "suricata", "format": "eve", "file": str(path)})


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


# --------------------------------------------------------------------------- AIT-ADS CSV


_UNIX_INT = re.compile(r"-?\d{1,12}")
_NS_MIN, _NS_MAX = pd.Timestamp.min.value, pd.Timestamp.max.value


def _ait_records(lines: list[str]):
    """Yield ``(first_lineno, fields or csv.Error, raw text)`` for each CSV record.

    Lines without a double quote are split on commas directly (AIT-ADS files have none);
    otherwise the csv module reads the record, which may then span several lines.
    """
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if '"' not in line:
            yield i + 1, line.split(","), line
            i += 1
            continue
        consumed = [0]

        def feed(start=i):
            for j in range(start, n):
                consumed[0] = j - start + 1
                yield lines[j] + "\n"

        try:
            fields = next(csv.reader(feed()))
        except csv.Error as exc:
            fields = exc
        except StopIteration:  # pragma: no cover - a non-empty line always gives a record
            fields = []
        count = max(consumed[0], 1)
        yield i + 1, fields, "\n".join(lines[i:i + count])
        i += count


def _ait_time(text: str) -> int:
    """Unix seconds (integer or decimal) -> nanoseconds; ValueError if not a number in range."""
    t = text.strip()
    if _UNIX_INT.fullmatch(t):
        ns = int(t) * 1_000_000_000
    else:
        seconds = float(t)
        if not math.isfinite(seconds) or abs(seconds) > 1e12:
            raise ValueError
        ns = int(round(seconds * 1e6)) * 1000
    if not _NS_MIN <= ns <= _NS_MAX:
        raise ValueError
    return ns


def _read_ait(path: Path, report: ParseReport, *, skip: bool, progress) -> _Part:
    text, chunks = read_text(path)
    _finish_chunks(path, chunks, report)
    progress.update(len(text))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    report.lines += len(lines)
    header = None
    index: dict = {}
    rows, raws, linenos = [], [], []
    for start, fields, raw in _ait_records(lines):
        if isinstance(fields, csv.Error):
            _bad(report, path, skip, start, f"CSV error: {fields}", raw)
            continue
        if not raw.strip():
            report.blank_lines += 1
            continue
        if header is None:
            header = [f.strip().strip('"') for f in fields]
            missing = [c for c in AIT_ADS_COLUMNS if c not in header]
            if missing:
                raise UserError(f"{path}:{start}: not an AIT-ADS CSV header (needs columns "
                                f"{','.join(AIT_ADS_COLUMNS)}; missing {', '.join(missing)})")
            index = [header.index(c) for c in AIT_ADS_COLUMNS]
            continue
        if len(fields) != len(header):
            _bad(report, path, skip, start, f"expected {len(header)} fields, found {len(fields)}", raw)
            continue
        try:
            ns = _ait_time(fields[index[0]])
        except (ValueError, OverflowError):
            _bad(report, path, skip, start, f"time {fields[index[0]]!r} is not unix seconds in range", raw)
            continue
        rows.append((ns, *(fields[k] for k in index[1:])))
        raws.append(raw)
        linenos.append(start)
    n = len(rows)
    cols = list(zip(*rows)) if rows else [()] * len(AIT_ADS_COLUMNS)

    names = _obj(cols[1])
    columns = {
        "timestamp": np.array(cols[0], dtype=np.int64).view("M8[ns]"),
        "message": names,
        "detector": _obj(map({nm: _ait_detector(nm) for nm in set(names)}.__getitem__, names)),
        "raw": _obj(raws),
        "lineno": np.array(linenos, dtype=np.int64),
    }
    for k, c in enumerate(AIT_ADS_COLUMNS[2:], start=2):
        columns[c] = _obj(cols[k])
    return _Part([(n, columns)], {"format": "ait-ads", "file": str(path)})


def _ait_detector(name: str) -> str:
    head, sep, _ = name.partition(":")
    head = head.strip()
    if sep and head and " " not in head:
        return head.lower()
    return "unknown"


# --------------------------------------------------------------------------- sniffing


def _head_text(path) -> tuple[list[str], bool]:
    """The first lines of a file (decoded leniently) and whether that is the whole file."""
    data = read_head(path)
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                     (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            text = data[len(bom):].decode(enc, errors="replace")
            break
    else:
        if b"\x00" in data:
            raise UserError(f"{path}: contains NUL bytes: a binary file, or UTF-16 text without "
                            "a byte-order mark (convert it to UTF-8)")
        text = data.decode("utf-8", errors="replace")
    lines = text.replace("\r\n", "\n").split("\n")
    complete = len(data) < HEAD_BYTES
    if not complete and len(lines) > 1:
        lines.pop()  # probably cut off
    return lines, complete


def sniff_format(path) -> str:
    """Tell which of :data:`FORMATS` a file is in, from its first lines.

    Rules: JSON (``{`` or ``[`` first) is ``eve``; a CSV header with the AIT-ADS columns is
    ``ait-ads``; fast lines are ``suricata-fast`` when the year has four digits (Suricata
    always writes it so), else ``snort``.  Gzip is looked through.

    Parameters
    ----------
    path : the file.

    Raises
    ------
    UserError : the file is missing, empty, binary, or in none of the formats.
    """
    head, complete = _head_text(path)
    lines = [ln for ln in head if ln.strip()]
    if not lines:
        if complete:
            raise UserError(f"{path}: file is empty; cannot tell its format")
        raise UserError(f"{path}: only blank lines in the first {HEAD_BYTES // 1024} KiB; "
                        f"cannot tell its format (pass --format)")
    first = lines[0].strip()
    if first.startswith("{") or first.startswith("["):
        return "eve"
    header = {c.strip().strip('"') for c in first.split(",")}
    if set(AIT_ADS_COLUMNS) <= header:
        return "ait-ads"
    for line in lines[:20]:
        m = _fast.LINE.fullmatch(line)
        if m:
            return "suricata-fast" if len(m.group("ts")) == 26 else "snort"
    shown = first if len(first) <= 80 else first[:80] + "..."
    raise UserError(f"{path}: cannot tell the alert format (first line {shown!r}); "
                    f"pass --format {'|'.join(FORMATS)}")


# --------------------------------------------------------------------------- reading


def _check_year(year) -> None:
    if year is None:
        return
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)) or not MIN_YEAR <= year <= MAX_YEAR:
        raise UserError(f"year must be an integer from {MIN_YEAR} to {MAX_YEAR}, got {year!r}")


class _NoProgress:
    def update(self, n):
        pass

    def close(self):
        pass


def read_alerts(paths, fmt: str = "auto", *, skip_bad_lines: bool = False, year: int | None = None,
                quiet: bool = True) -> ParseResult:
    """Read alert files into one records DataFrame (see the module docstring for columns).

    Parameters
    ----------
    paths : a file or a list of files (plain or gzipped).
    fmt : one of :data:`FORMATS`, or ``"auto"`` to sniff each file (:func:`sniff_format`).
    skip_bad_lines : skip lines that do not parse (counted, first few in the report)
        instead of stopping at the first one.
    year : year for fast timestamps without one (default :data:`DEFAULT_YEAR`).
    quiet : no progress bar.

    Returns
    -------
    ParseResult with ``records`` (rows in file order, then line order) and ``report``.

    Raises
    ------
    AlertParseError : a line does not parse (without ``skip_bad_lines``).
    UserError : a file cannot be read as text, or its format cannot be told.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = list(paths)
    if not paths:
        raise UserError("no alert files given")
    if fmt not in ("auto",) + FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose one of auto, {', '.join(FORMATS)}")
    _check_year(year)
    checked = [check_file(p) for p in paths]
    report = ParseReport()
    parts: list[_Part] = []
    progress = _NoProgress()
    if not quiet:
        from tqdm.auto import tqdm

        # characters of text; the size on disk says nothing about gzipped files
        total = None if any(is_gzip(p) for p in checked) else sum(p.stat().st_size for p in checked)
        progress = tqdm(total=total, unit="B", unit_scale=True, desc="parse alerts", file=sys.stderr)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small tuples: the cyclic collector only slows parsing down
    try:
        for path in checked:
            file_fmt = fmt
            if fmt == "auto":
                head, complete = _head_text(path)
                if complete and not any(ln.strip() for ln in head):
                    report.files += 1
                    report.empty_files.append(str(path))
                    report.formats[str(path)] = "empty"
                    continue
                file_fmt = sniff_format(path)
            report.files += 1
            report.formats[str(path)] = file_fmt
            if file_fmt in ("snort", "suricata-fast"):
                part = _read_fast(path, file_fmt, report, skip=skip_bad_lines, year=year, progress=progress)
            elif file_fmt == "eve":
                part = _read_eve(path, report, skip=skip_bad_lines, progress=progress)
            else:
                part = _read_ait(path, report, skip=skip_bad_lines, progress=progress)
            report.alerts += part.n
            parts.append(part)
        records = _assemble(parts)
    finally:
        progress.close()
        if gc_was_enabled:
            gc.enable()
    return ParseResult(records, report)


# --------------------------------------------------------------------------- alert text


def _is_ait(record) -> bool:
    fmt = _fast._get(record, "format")
    if fmt is not None:
        return fmt == "ait-ads"
    return _fast._get(record, "time_label") is not None or _fast._get(record, "host") is not None


def build_alert_line(record: Mapping) -> str:
    """The one text line the model reads for a record.

    Snort, Suricata and EVE records give their fast line (:func:`build_fast_line`).
    AIT-ADS records give ``YYYY-MM-DD HH:MM:SS host ip name`` (``-`` for a missing
    host or ip).

    Parameters
    ----------
    record : a mapping such as a row of :func:`read_alerts`' records.
    """
    if not _is_ait(record):
        return build_fast_line(record)
    ts = _fast._get(record, "timestamp")
    if ts is None:
        raise ValueError("timestamp is missing")
    message = _fast._get(record, "message")
    if message is None:
        raise ValueError("message is missing")
    host = _fast._get(record, "host", "-")
    ip = _fast._get(record, "ip", "-")
    line = f"{pd.Timestamp(ts):%Y-%m-%d %H:%M:%S} {host} {ip} {message}"
    if "\n" in line or "\r" in line:
        raise ValueError(f"a field contains a line break: {line[:60]!r}")
    return line


def build_alert_lines(records: pd.DataFrame) -> list[str]:
    """:func:`build_alert_line` for every row of a records frame, in order.

    Parameters
    ----------
    records : a frame with (some of) :data:`ALL_COLUMNS`.
    """
    return [build_alert_line(row) for row in records.to_dict("records")]


# --------------------------------------------------------------------------- command line


def add_arguments(parser) -> None:
    """Options of ``lstm-rnn-correlation parse``.

    Parameters
    ----------
    parser : the subcommand's argparse parser.
    """
    parser.description = (
        "Parse alert logs (Snort/Suricata fast, Suricata EVE JSON, AIT-ADS CSV; gzip is "
        "fine) into one CSV of normalised records. Without --out the CSV goes to standard "
        "output. A summary (counts, skipped and bad lines, replaced characters) always goes "
        "to standard error.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="alert files")
    parser.add_argument("--format", dest="fmt", default="auto", choices=("auto",) + FORMATS,
                        help="input format (default: auto, sniffed per file)")
    parser.add_argument("--out", metavar="CSV", help="write the records CSV here (atomically)")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip and count lines that do not parse instead of stopping")
    parser.add_argument("--year", type=int, metavar="N",
                        help=f"year for timestamps without one (default {DEFAULT_YEAR})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    """Run ``lstm-rnn-correlation parse``; returns the exit status.

    Parameters
    ----------
    args : parsed arguments (see :func:`add_arguments`).
    """
    from lstm_rnn_correlation.fileio import write_csv_atomic

    result = read_alerts(args.files, args.fmt, skip_bad_lines=args.skip_bad_lines,
                         year=args.year, quiet=args.quiet)
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise UserError(f"--out {out}: is a directory")
        try:
            write_csv_atomic(result.records, out)
        except OSError as exc:
            raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    else:
        try:
            result.records.to_csv(sys.stdout, index=False)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. piped into head
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    print(result.report.summary(), file=sys.stderr)
    return 0

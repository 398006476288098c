"""Snort/Suricata "fast" alert lines: vectorised parsing and exact rebuilding (private to :mod:`formats`).

The grammar (one line, parts in this order; ``?`` marks an optional part)::

    TS SEP [ACTION] ?  [**] [GID:SID:REV] MESSAGE [**]
        [Classification: TEXT] ?  [Priority: N] ?  {PROTO} ?  SRC -> DST ?  TRAILING

* ``TS`` is ``MM/DD-HH:MM:SS.ffffff`` (Snort), ``MM/DD/YY-...`` (Snort ``-y``) or
  ``MM/DD/YYYY-...`` (Suricata); ``SEP`` is two spaces (Snort 2, Suricata) or one (Snort 3).
* ``ACTION`` is an inline-mode verdict such as ``[Drop]`` or ``[wDrop]``.
* ``MESSAGE`` is kept verbatim (quotes, brackets, ``->``, ``[**]``, repeated spaces): it ends
  at the first `` [**]`` after which the rest of the line parses.
* ``SRC``/``DST`` are ``ADDR:PORT`` or ``ADDR`` (no port: ICMP, fragments, other protocols);
  ``ADDR`` is IPv4 or IPv6, and IPv6 may be written ``[ADDR]:PORT``.  An unbracketed IPv6
  address followed by ``:N`` is ambiguous (``2001:db8::1:80``); the reading is chosen so
  that both sides agree on having ports, and, when both readings stay possible, by protocol
  (TCP, UDP and SCTP carry ports, others do not).  Suricata writes IPv6 uncompressed
  (eight groups), which is never ambiguous.
* integers have no leading zeros (both tools print them with ``%d``/``%u``).

Any line the grammar accepts is rebuilt byte for byte by :func:`build_fast_line` from the
parsed fields: each optional part is written exactly when its field is present.

How a block of lines is parsed quickly (:func:`parse_fast_text`): Python's regular
expressions are slow on alternations and fast on runs of one character class, so each line
is first matched with :data:`SIMPLE` (timestamp, middle and address tokens as loose runs).
The middle part (from the separator to ``{PROTO}``) takes few distinct values in a log, so
each distinct middle is split and checked once with :data:`MID`; timestamps are checked and
converted as a byte matrix with numpy; IPv4 text is checked once per distinct address.  A
line :data:`SIMPLE` refuses, or whose parts fail a check, is matched with :data:`LINE`, the
exact grammar; for a line both accept the two give the same fields (the test suite checks
this on generated lines).  Errors name the line and say why (:func:`diagnose`).
"""

from __future__ import annotations

import functools
import re
import socket
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: year given to lines whose timestamp has none (a leap year, so 02/29 parses)
DEFAULT_YEAR = 2000
#: protocols whose alerts carry ports (decides ambiguous unbracketed IPv6 addresses)
PORT_PROTOCOLS = frozenset({"TCP", "UDP", "SCTP"})
#: years a datetime64[ns] can hold completely
MIN_YEAR, MAX_YEAR = 1678, 2261

_INT = r"(?:0|[1-9]\d{0,17})"          # fits int64, no leading zeros
_PORT = r"(?:0|[1-9]\d{0,4})"          # up to 99999; above 65535 is refused with a reason
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4 = _OCTET + r"(?:\." + _OCTET + r"){3}"   # a valid IPv4 address (no leading zeros)
_TS = r"\d\d/\d\d(?:/\d\d(?:\d\d)?)?-\d\d:\d\d:\d\d\.\d{6}"
_TS_LEN = {21: 0, 24: 2, 26: 4}               # timestamp length -> year digits

# The middle of a line, from the separator after the timestamp to the protocol.  It holds
# few distinct values in a log (one per signature, protocol and verdict), so a line is
# matched with the middle as one group, and each distinct middle is split once with MID.
# The message is lazy: it ends at the first " [**]" after which the rest of the line parses.
_MID = r"""
 \ (?P<sep>\ ?)(?:\[(?P<action>[A-Za-z]+)\]\ )?
 \[\*\*\]\ \[(?P<gid>{i}):(?P<sid>{i}):(?P<rev>{i})\]\ (?P<msg>[^\n]*?)\ \[\*\*\]
 (?:\ \[Classification:\ (?P<cls>[^\]\n]*)\])?(?:\ \[Priority:\ (?P<prio>{i})\])?(?:\ \{{(?P<proto>[^}}\n]+)\}})?
""".format(i=_INT)
_PLAIN_MID = re.sub(r"\(\?P<\w+>", "(?:", _MID)
_LINE = r"""
 (?P<ts>{ts})
 (?P<mid>{mid})
 (?:\ (?:(?P<s4>{v4})(?::(?P<sp>{p}))?|(?P<s6>[^\s]+))
   \ ->\ (?:(?P<d4>{v4})(?::(?P<dp>{p}))?|(?P<d6>[^\s]+)))?
 (?P<trail>[\ \t]*)
""".format(ts=_TS, mid=_PLAIN_MID, v4=_V4, p=_PORT)

#: one fast line (use ``fullmatch``); groups ts, mid, s4, sp, s6, d4, dp, d6, trail
LINE = re.compile(_LINE, re.X | re.A)
#: a quick pattern for the common line (protocol and addresses present, no braces in the
#: message, no trailing white space): simple character classes only.  A line it accepts
#: is split as LINE would split it once the timestamp shape, the middle (with MID) and the
#: IPv4 text are checked; anything else goes through LINE.
SIMPLE = re.compile(r"""
 (?P<ts>[0-9]{{2}}/[0-9]{{2}}[-/0-9:.]{{15,22}})
 (?P<mid>\ [^{{}}\n]*\{{[^{{}}\n]+\}})
 \ (?:(?P<s4>[0-9.]{{7,15}})(?::(?P<sp>{p}))?|(?P<s6>[^\s]+))
 \ ->\ (?:(?P<d4>[0-9.]{{7,15}})(?::(?P<dp>{p}))?|(?P<d6>[^\s]+))
 (?P<trail>)
""".format(p=_PORT), re.X | re.A)
_SIMPLE_LINES = re.compile(r"^(?:" + SIMPLE.pattern + r"|(?P<other>.*))$", re.M | re.X | re.A)
#: the middle part of a line (use ``fullmatch``)
MID = re.compile(_MID, re.X | re.A)
_GROUPS = ("ts", "mid", "s4", "sp", "s6", "d4", "dp", "d6", "trail")
for _p in (LINE, SIMPLE):
    assert tuple(sorted(_p.groupindex, key=_p.groupindex.get)) == _GROUPS and _p.groups == len(_GROUPS)
_META = re.compile(r"(?: \[Classification: (?P<cls>[^\]\n]*)\])?(?: \[Priority: (?P<prio>\d+)\])?"
                   r"(?: \{(?P<proto>[^}\n]+)\})?")   # for diagnosis
_BRACKETED = re.compile(r"\[(?P<ip>[^\]\s]+)\](?::(?P<port>" + _INT + r"))?")


# --------------------------------------------------------------------------- addresses


@functools.lru_cache(maxsize=1 << 16)
def _valid_ip(text: str) -> str | None:
    """'4' or '6' for a valid address (an IPv6 address may carry a %zone), else None."""
    if ":" not in text:
        try:
            socket.inet_pton(socket.AF_INET, text)
            return "4"
        except OSError:
            return None
    address, _, zone = text.partition("%")
    if "%" in text and (not zone or "%" in zone):
        return None
    try:
        socket.inet_pton(socket.AF_INET6, address)
        return "6"
    except OSError:
        return None


def _addr_options(token: str) -> list[tuple[str, int | None, bool]]:
    """Every reading of an address token as (ip, port or None, bracketed)."""
    match = _BRACKETED.fullmatch(token)
    if match:
        ip = match.group("ip")
        if _valid_ip(ip) != "6":
            return []
        port = match.group("port")
        return [(ip, None if port is None else int(port), True)]
    options = []
    head, sep, tail = token.rpartition(":")
    # the whole token can only be an address when its last group fits a hextet and it has
    # at most eight groups (this skips a failing look-up for most "addr:port" tokens)
    if (not sep or len(tail) <= 4) and token.count(":") <= 8 and _valid_ip(token):
        options.append((token, None, False))
    if sep and re.fullmatch(_INT, tail) and _valid_ip(head):
        # an IPv4 address with a port, or an IPv6 address followed by :port
        if head.count(":") != 1:  # "a:b" is neither IPv4 nor IPv6
            options.append((head, int(tail), False))
    return options


def split_address_pair(src: str, dst: str, protocol: str | None):
    """Split the two address tokens of a fast line.

    Parameters
    ----------
    src, dst : the tokens, e.g. ``1.2.3.4:80``, ``fe80::1``, ``[2001:db8::1]:443``.
    protocol : the line's protocol (decides ambiguous IPv6 readings), or None.

    Returns
    -------
    (src_ip, src_port, dst_ip, dst_port, bracketed)

    Raises
    ------
    ValueError : with a reason, when a token is no address or a port is out of range.
    """
    opts = []
    for side, token in (("source", src), ("destination", dst)):
        found = _addr_options(token)
        if not found:
            raise ValueError(f"invalid {side} address {token!r}")
        opts.append(found)
    with_port = (protocol or "").upper() in PORT_PROTOCOLS
    best = None
    for s in opts[0]:
        for d in opts[1]:
            score = ((s[1] is None) == (d[1] is None),             # both sides agree on ports
                     (s[1] is not None) == with_port,               # protocol says ports or not
                     s[2] == d[2])                                  # same bracket style
            if best is None or score > best[0]:
                best = (score, s, d)
    _, s, d = best
    if s[2] != d[2]:
        raise ValueError("one address is in brackets and the other is not")
    for side, (_, port, _) in (("source", s), ("destination", d)):
        if port is not None and port > 65535:
            raise ValueError(f"{side} port {port} out of range 0-65535")
    return s[0], s[1], d[0], d[1], s[2]


# --------------------------------------------------------------------------- bulk parsing


@dataclass
class FastChunk:
    """Columns parsed from a run of lines, one entry per alert.

    ``columns`` maps a record column to a numpy array (object arrays for text, NaN for a
    missing value; ``datetime64[ns]``) or, for nullable integer and boolean columns, to a
    ``(values, present)`` pair of arrays (``present`` None when all are present).
    """

    lineno: np.ndarray
    columns: dict
    lines: int = 0
    blank: int = 0
    bad: list = field(default_factory=list)     # (lineno, reason, line), in line order


def _codes(values) -> tuple[np.ndarray, list]:
    """(codes, distinct values in first-seen order) of a sequence of hashable values."""
    distinct = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(distinct)}
    return np.fromiter(map(index.__getitem__, values), np.intp, len(values)), distinct


def _small_ints(values, width: int):
    """Digit strings of at most ``width`` characters ('' absent) -> (int64 array, present)."""
    n = len(values)
    codes = np.array(values, dtype=f"U{width}").view(np.uint32).reshape(n, width).astype(np.int64)
    present = codes[:, 0] != 0
    out = np.zeros(n, dtype=np.int64)
    for k in range(width):
        digit = codes[:, k]
        out = np.where(digit != 0, out * 10 + digit - 48, out)
    return out, present


def _timestamps(ts, default_year: int):
    """Fast-format timestamps -> (datetime64[ns] array, year digits, {row: reason} or None).

    The characters are read as bytes and combined with array arithmetic, one block per
    timestamp length (21: no year, 24: two digits, 26: four).  Lines without a year get
    ``default_year`` (all of them: no guessing of a New Year roll-over, which unsorted or
    concatenated logs would get wrong).
    """
    n = len(ts)
    joined = "".join(ts)
    if len(joined) in (21 * n, 26 * n):   # lengths are 21, 24 or 26: all the same
        lengths = np.full(n, len(joined) // max(n, 1), dtype=np.int64)
        sizes = [len(joined) // max(n, 1)]
    else:
        lengths = np.fromiter(map(len, ts), np.int64, n)
        sizes = np.unique(lengths).tolist()
    month, day, hour, minute, second, frac = (np.empty(n, dtype=np.int64) for _ in range(6))
    year = np.full(n, default_year, dtype=np.int64)
    for size in sizes:
        rows = slice(None) if len(sizes) == 1 else np.flatnonzero(lengths == size)
        text = joined if len(sizes) == 1 else "".join([ts[i] for i in rows])
        # one row per character position, contiguous: column arithmetic stays in cache
        d = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, int(size)).T.astype(np.int32)
        d -= 48
        k = {21: 0, 24: 3, 26: 5}[int(size)]

        def number(pos, width):
            out = d[pos + k].copy()
            for j in range(1, width):
                out *= 10
                out += d[pos + k + j]
            return out.astype(np.int64)

        month[rows], day[rows] = number(0 - k, 2), number(3 - k, 2)
        hour[rows], minute[rows], second[rows], frac[rows] = number(6, 2), number(9, 2), number(12, 2), number(15, 6)
        if size == 24:
            yy = number(6 - k, 2)
            year[rows] = np.where(yy < 69, 2000, 1900) + yy
        elif size == 26:
            year[rows] = number(6 - k, 4)
    year_digits = np.select([lengths == 24, lengths == 26], [2, 4], 0)
    bad = (month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59) | (second > 59)
    bad |= (year < MIN_YEAR) | (year > MAX_YEAR)
    months_since = (np.where(bad, 2000, year) - 1970) * 12 + np.where(bad, 1, month) - 1
    date = months_since.astype("M8[M]").astype("M8[D]") + np.where(bad, 0, day - 1).astype("m8[D]")
    bad |= date.astype("M8[M]") != months_since.astype("M8[M]")     # e.g. 02/30
    ns = (date.astype("M8[ns]").astype(np.int64)
          + ((hour * 60 + minute) * 60 + second) * 1_000_000_000 + frac * 1000)
    ns[bad] = np.iinfo(np.int64).min  # NaT
    reasons = None
    if bad.any():
        reasons = {}
        for i in np.flatnonzero(bad):
            if not (MIN_YEAR <= year[i] <= MAX_YEAR):
                reasons[int(i)] = f"year {year[i]} out of range {MIN_YEAR}-{MAX_YEAR}"
            else:
                reasons[int(i)] = f"invalid date or time {ts[i]!r}"
    return ns.view("M8[ns]"), year_digits, reasons


def _split_mids(mids: list) -> dict:
    """Columns of the distinct middles: gid, sid, rev, priority (with present), strings."""
    out = {k: [] for k in ("gid", "sid", "rev", "priority", "priority_ok", "message",
                           "classification", "protocol", "action", "ts_sep")}
    for mid in mids:
        m = None if mid is None else MID.fullmatch(mid)
        if m is None:   # a row that is parsed again with LINE: placeholders
            m = MID.fullmatch("  [**] [0:0:0]  [**]")
        for k in ("gid", "sid", "rev"):
            out[k].append(int(m.group(k)))
        prio = m.group("prio")
        out["priority"].append(0 if prio is None else int(prio))
        out["priority_ok"].append(prio is not None)
        out["message"].append(m.group("msg"))
        for key, group in (("classification", "cls"), ("protocol", "proto"), ("action", "action")):
            value = m.group(group)
            out[key].append(np.nan if value is None else value)
        out["ts_sep"].append(" " + m.group("sep"))
    arrays = {}
    for k, v in out.items():
        if k in ("gid", "sid", "rev", "priority"):
            arrays[k] = np.array(v, dtype=np.int64)
        elif k == "priority_ok":
            arrays[k] = np.array(v, dtype=bool)
        else:
            a = np.empty(len(v), dtype=object)
            a[:] = v
            arrays[k] = a
    return arrays


def _ts_shape_ok(ts) -> np.ndarray:
    """Which timestamps have exactly the shape of the fast grammar (checked as bytes)."""
    n = len(ts)
    ok = np.zeros(n, dtype=bool)
    lengths = np.fromiter(map(len, ts), np.int64, n)
    for size, template in _TS_TEMPLATES.items():
        rows = np.flatnonzero(lengths == size)
        if not len(rows):
            continue
        text = "".join(ts) if len(rows) == n else "".join([ts[i] for i in rows])
        d = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, size)
        digit = (d >= 48) & (d <= 57)
        good = np.where(template["digit"], digit, d == template["chars"]).all(axis=1)
        ok[rows] = good
    return ok


def _ts_template(shape: str) -> dict:
    chars = np.frombuffer(shape.encode("ascii"), dtype=np.uint8)
    return {"digit": chars == ord("9"), "chars": chars}


_TS_TEMPLATES = {21: _ts_template("99/99-99:99:99.999999"),
                 24: _ts_template("99/99/99-99:99:99.999999"),
                 26: _ts_template("99/99/9999-99:99:99.999999")}


def _convert(rows: list, linenos: np.ndarray, raw: np.ndarray, year: int | None, simple: bool):
    """Columns from the group tuples of matched lines.

    Returns ``(columns, problems, retry)``: ``problems`` maps a row to the reason it is a
    bad line; ``retry`` lists rows that the simple pattern accepted but that need the exact
    pattern (odd timestamp, middle or IPv4 text); it is empty unless ``simple``.
    """
    m = len(rows)
    ts, mid, s4, sp, s6, d4, dp, d6, trail = list(zip(*rows))[:9]
    problems: dict[int, str] = {}
    retry = np.zeros(m, dtype=bool)

    codes, uniq = _codes(mid)
    if simple:
        uniq_ok = np.array([MID.fullmatch(u) is not None for u in uniq], dtype=bool)
        retry |= ~uniq_ok[codes]
        retry |= ~_ts_shape_ok(ts)
        # IPv4 text: a valid address (no leading zeros), checked once per distinct value
        v4 = dict.fromkeys(s4)
        v4.update(dict.fromkeys(d4))
        bad_v4 = {ip for ip in v4 if ip and _valid_ip(ip) != "4"}
        if bad_v4:
            retry |= np.fromiter((a in bad_v4 or b in bad_v4 for a, b in zip(s4, d4)), bool, m)
        if retry.any():
            uniq = [u if ok else None for u, ok in zip(uniq, uniq_ok)]
            ts = tuple("01/01-00:00:00.000000" if r else t for t, r in zip(ts, retry))
    parts = _split_mids(uniq)
    columns = {name: parts[name][codes] for name in ("message", "classification", "protocol", "action", "ts_sep")}
    for name in ("gid", "sid", "rev"):
        columns[name] = (parts[name][codes], None)
    columns["priority"] = (parts["priority"][codes], parts["priority_ok"][codes])

    ts_ns, year_digits, ts_reasons = _timestamps(ts, DEFAULT_YEAR if year is None else int(year))
    if ts_reasons:
        problems.update(ts_reasons)

    # addresses: IPv4 from the pattern, anything else through split_address_pair
    src_ip = np.empty(m, dtype=object)
    src_ip[:] = s4
    dst_ip = np.empty(m, dtype=object)
    dst_ip[:] = d4
    src_port, src_ok = _small_ints(sp, 5)
    dst_port, dst_ok = _small_ints(dp, 5)
    if s6.count("") == m and d6.count("") == m:
        has_addr = src_ip != ""
        odd = []
    else:
        s6a = np.empty(m, dtype=object)
        s6a[:] = s6
        d6a = np.empty(m, dtype=object)
        d6a[:] = d6
        has_addr = (src_ip != "") | (s6a != "")
        odd = np.flatnonzero((s6a != "") | (d6a != ""))
    if not has_addr.all():
        src_ip[~has_addr] = np.nan
        dst_ip[~has_addr] = np.nan
    bracketed = np.zeros(m, dtype=bool)
    if len(odd):
        protocol = columns["protocol"]
        cache: dict = {}
        for i in odd:
            if retry[i]:
                continue
            s_tok = s6[i] or (s4[i] + (":" + sp[i] if sp[i] else ""))
            d_tok = d6[i] or (d4[i] + (":" + dp[i] if dp[i] else ""))
            key = (s_tok, d_tok, protocol[i] if isinstance(protocol[i], str) else None)
            if key not in cache:
                try:
                    cache[key] = split_address_pair(*key)
                except ValueError as exc:
                    cache[key] = str(exc)
            got = cache[key]
            if isinstance(got, str):
                problems.setdefault(int(i), got)
                continue
            src_ip[i], sport, dst_ip[i], dport, bracketed[i] = got
            src_port[i], src_ok[i] = (sport or 0), sport is not None
            dst_port[i], dst_ok[i] = (dport or 0), dport is not None
    for port, present, side in ((src_port, src_ok, "source"), (dst_port, dst_ok, "destination")):
        for i in np.flatnonzero(present & (port > 65535)):
            problems.setdefault(int(i), f"{side} port {port[i]} out of range 0-65535")
    trailing = np.empty(m, dtype=object)
    if trail.count("") == m:
        trailing.fill("")
    else:
        trailing[:] = trail
    columns.update({
        "timestamp": ts_ns,
        "src_ip": src_ip, "src_port": (src_port, src_ok),
        "dst_ip": dst_ip, "dst_port": (dst_port, dst_ok),
        "raw": raw,
        "year_digits": (year_digits.astype(np.int64), None),
        "ip_brackets": (bracketed, has_addr),
        "trailing": trailing,
        "lineno": linenos,
    })
    for i in np.flatnonzero(retry):
        problems.pop(int(i), None)
    return columns, problems, np.flatnonzero(retry)


def _take(columns: dict, index) -> dict:
    return {k: (tuple(None if a is None else a[index] for a in v) if isinstance(v, tuple) else v[index])
            for k, v in columns.items()}


def _concat_columns(a: dict, b: dict) -> dict:
    out = {}
    for k, va in a.items():
        vb = b[k]
        if isinstance(va, tuple):
            pa = np.ones(len(va[0]), bool) if va[1] is None else va[1]
            pb = np.ones(len(vb[0]), bool) if vb[1] is None else vb[1]
            out[k] = (np.concatenate([va[0], vb[0]]), np.concatenate([pa, pb]))
        else:
            out[k] = np.concatenate([va, vb])
    return out


def parse_fast_text(text: str, first_lineno: int = 1, *, year: int | None = None) -> FastChunk:
    """Parse a block of fast lines (as returned by :class:`_formats_io.TextChunks`).

    Each line is first matched with :data:`SIMPLE` (quick); lines it refuses, and lines
    whose timestamp, middle or IPv4 text then fail their exact check, are matched with
    :data:`LINE`, the exact grammar, whose result they would have had anyway.

    Parameters
    ----------
    text : whole lines; a final ``\\n`` is allowed.
    first_lineno : number of the first line.
    year : year for lines without one (default :data:`DEFAULT_YEAR`).
    """
    if not text:
        return FastChunk(np.zeros(0, dtype=np.int64), {}, 0, 0, [])
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    n = len(lines)
    # one tuple per line, in order: SIMPLE's groups, or the line in the last group
    rows = _SIMPLE_LINES.findall(text, 0, len(text) - 1 if text.endswith("\n") else len(text))
    if len(rows) != n:  # cannot happen (one match a line); stay correct if it ever does
        rows = [m.groups("") + ("",) if m else ("",) * 10 for m in map(SIMPLE.fullmatch, lines)]
    missed = [i for i, r in enumerate(rows) if not r[0]]
    if missed:
        keep = np.ones(n, dtype=bool)
        keep[missed] = False
        index = np.flatnonzero(keep)
        rows = [r[:-1] for r in rows if r[0]]
    else:
        index = np.arange(n)
    raw = np.empty(n, dtype=object)
    raw[:] = lines
    if missed:
        raw = raw[index]
    columns, problems, retry = (_convert(rows, index + first_lineno, raw, year, simple=True)
                                if rows else ({}, {}, np.zeros(0, np.intp)))
    del rows
    bad = [(int(index[i]) + first_lineno, reason, raw[i]) for i, reason in problems.items()]
    blank = 0
    # the exact pattern for the rest
    slow = sorted(missed + index[retry].tolist())
    slow_rows, slow_index = [], []
    for i in slow:
        line = lines[i]
        m = LINE.fullmatch(line)
        if m is not None:
            slow_rows.append(m.groups(""))
            slow_index.append(i)
        elif line.strip():
            bad.append((first_lineno + i, diagnose(line), line))
        else:
            blank += 1
    drop = np.zeros(len(index), dtype=bool)
    drop[list(problems)] = True
    drop[retry] = True
    if drop.any():
        columns = _take(columns, ~drop)
    if slow_rows:
        slow_index = np.array(slow_index, dtype=np.intp)
        slow_raw = np.empty(len(slow_index), dtype=object)
        slow_raw[:] = [lines[i] for i in slow_index]
        cols2, problems2, retry2 = _convert(slow_rows, slow_index + first_lineno, slow_raw, year, simple=False)
        assert not len(retry2)
        bad += [(int(slow_index[i]) + first_lineno, reason, slow_raw[i]) for i, reason in problems2.items()]
        if problems2:
            keep2 = np.ones(len(slow_index), dtype=bool)
            keep2[list(problems2)] = False
            cols2 = _take(cols2, keep2)
        columns = _concat_columns(columns, cols2) if columns else cols2
        order = np.argsort(columns["lineno"], kind="stable")
        columns = _take(columns, order)
    bad.sort(key=lambda b: b[0])
    linenos = columns.pop("lineno") if columns else np.zeros(0, dtype=np.int64)
    return FastChunk(linenos, columns, n, blank, bad)


# --------------------------------------------------------------------------- diagnosis

_DIAG_STEPS = (
    (re.compile(_TS), "does not start with a fast-format timestamp MM/DD[/YY[YY]]-HH:MM:SS.ffffff"),
    (re.compile(r"  ?(?:\[[A-Za-z]+\] )?\[\*\*\] "), "expected '  [**] ' after the timestamp"),
    (re.compile(r"\[" + _INT + ":" + _INT + ":" + _INT + r"\] "),
     "expected '[gid:sid:rev] ' (three integers without leading zeros) after '[**]'"),
)


def diagnose(line: str) -> str:
    """Why a line is not a fast alert line (a short reason for the error message).

    Parameters
    ----------
    line : the offending line.
    """
    stripped = line.lstrip()
    if stripped.startswith(("{", "[")) and not re.match(_TS, stripped):
        return "not a fast alert line (looks like JSON: an EVE file? use --format eve)"
    if line.count(",") >= 4 and not re.match(_TS, line):
        return "not a fast alert line (looks like CSV: an AIT-ADS file? use --format ait-ads)"
    pos = 0
    for pattern, reason in _DIAG_STEPS:
        m = pattern.match(line, pos)
        if m is None:
            return f"{reason}, found {line[pos:pos + 30]!r}"
        pos = m.end()
    rest = line[pos:]
    if " [**]" not in rest:
        return "no ' [**]' after the message"
    tail = rest[rest.rfind(" [**]") + 5:]
    m = _META.match(tail)
    after = tail[m.end():]
    if after.strip() and " -> " not in after:
        return f"unexpected text after the message: {after.strip()[:40]!r}"
    if after.strip():
        parts = after.strip().split(" -> ")
        if len(parts) == 2 and " " not in parts[0] and " " not in parts[1]:
            try:
                split_address_pair(parts[0], parts[1], m.group("proto"))
            except ValueError as exc:
                return str(exc)
        return f"expected 'SRC -> DST' addresses at the end, found {after.strip()[:60]!r}"
    return "does not match the fast alert format"


# --------------------------------------------------------------------------- building


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _get(record, key, default=None):
    try:
        value = record[key]
    except (KeyError, IndexError):
        return default
    return default if _missing(value) else value


def _as_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _text(value, name: str) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"{name} contains a line break: {text[:60]!r}")
    return text


def format_fast_timestamp(ts, year_digits: int) -> str:
    """``MM/DD[/YY|/YYYY]-HH:MM:SS.ffffff`` for a timestamp (sub-microseconds are dropped).

    Parameters
    ----------
    ts : anything :class:`pandas.Timestamp` accepts.
    year_digits : 0, 2 or 4.
    """
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_localize(None)
    if year_digits == 0:
        date = f"{t.month:02d}/{t.day:02d}"
    elif year_digits == 2:
        date = f"{t.month:02d}/{t.day:02d}/{t.year % 100:02d}"
    elif year_digits == 4:
        date = f"{t.month:02d}/{t.day:02d}/{t.year:04d}"
    else:
        raise ValueError(f"year_digits must be 0, 2 or 4, got {year_digits!r}")
    return f"{date}-{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"


def build_fast_line(record) -> str:
    """Write a record as one fast alert line (the inverse of parsing).

    Parameters
    ----------
    record : a mapping (dict, pandas row) with at least ``timestamp``, ``gid``, ``sid``,
        ``rev`` and ``message``.  Optional parts are written when present: ``action``,
        ``classification``, ``priority``, ``protocol``, ``src_ip``/``dst_ip`` (both or
        neither) with ``src_port``/``dst_port``.  Layout fields: ``year_digits`` (0, 2 or 4;
        when missing: 4 for Suricata records, else 0), ``ts_sep`` (default two spaces),
        ``ip_brackets`` (write IPv6 as ``[addr]:port``), ``trailing`` (default none).

    Raises
    ------
    ValueError : a required field is missing, or a value cannot be written on one line.
    """
    ts = _get(record, "timestamp")
    if ts is None:
        raise ValueError("timestamp is missing")
    detector = _get(record, "detector")
    year_digits = _get(record, "year_digits")
    if year_digits is None:
        year_digits = 4 if detector == "suricata" else 0
    parts = [format_fast_timestamp(ts, _as_int(year_digits, "year_digits"))]
    sep = _get(record, "ts_sep", "  ")
    if sep not in (" ", "  "):
        raise ValueError(f"ts_sep must be one or two spaces, got {sep!r}")
    parts.append(sep)
    action = _get(record, "action")
    if action is not None:
        parts.append(f"[{_text(action, 'action')}] ")
    ids = []
    for name in ("gid", "sid", "rev"):
        value = _get(record, name)
        if value is None:
            raise ValueError(f"{name} is missing")
        ids.append(str(_as_int(value, name)))
    message = _get(record, "message")
    if message is None:
        raise ValueError("message is missing")
    parts.append(f"[**] [{':'.join(ids)}] {_text(message, 'message')} [**]")
    cls = _get(record, "classification")
    if cls is not None:
        parts.append(f" [Classification: {_text(cls, 'classification')}]")
    prio = _get(record, "priority")
    if prio is not None:
        parts.append(f" [Priority: {_as_int(prio, 'priority')}]")
    proto = _get(record, "protocol")
    if proto is not None:
        parts.append(f" {{{_text(proto, 'protocol')}}}")
    src, dst = _get(record, "src_ip"), _get(record, "dst_ip")
    if (src is None) != (dst is None):
        raise ValueError("src_ip and dst_ip must be both present or both missing")
    if src is not None:
        brackets = bool(_get(record, "ip_brackets", False))
        ends = []
        for ip, port_name in ((src, "src_port"), (dst, "dst_port")):
            ip = _text(ip, "address")
            if brackets and ":" in ip:
                ip = f"[{ip}]"
            port = _get(record, port_name)
            ends.append(ip if port is None else f"{ip}:{_as_int(port, port_name)}")
        parts.append(f" {ends[0]} -> {ends[1]}")
    trailing = _get(record, "trailing")
    if trailing is not None:
        parts.append(_text(trailing, "trailing"))
    return "".join(parts)

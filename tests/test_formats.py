"""Alert formats: parsing, exact round trips, the real data sets, bad input and the parse CLI."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_rnn_correlation import _formats_io, cli
from lstm_rnn_correlation.errors import AlertParseError, UserError
from lstm_rnn_correlation.formats import (
    ALL_COLUMNS, COLUMN_DTYPES, DEFAULT_YEAR, FORMATS, MAX_BAD_EXAMPLES, RECORD_COLUMNS,
    build_alert_line, build_alert_lines, build_fast_line, empty_records, parse_fast_line,
    read_alerts, sniff_format,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "formats"
SNORT = DATA / "snort_fast.log"
SURICATA = DATA / "suricata_fast.log"
EVE_LINES = DATA / "eve_lines.json"
AIT_SAMPLE = DATA / "ait_ads_sample.csv"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EVE_DIR = SHARED / "suricata-eve"
AIT_FILE = SHARED / "ait-ads" / "russellmitchell_alerts.csv.gz"

needs_eve = pytest.mark.skipif(not EVE_DIR.is_dir(), reason=f"real EVE data not found at {EVE_DIR}")
needs_ait = pytest.mark.skipif(not AIT_FILE.is_file(), reason=f"AIT-ADS data not found at {AIT_FILE}")


def fixture_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="ascii").split("\n") if ln.strip()]


def records_of(path, *args, **kwargs) -> pd.DataFrame:
    return read_alerts([path], *args, **kwargs).records


# --------------------------------------------------------------------------- a seeded line generator

MESSAGES = ["(http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE",
            "ET TROJAN Zeus POST Request to CnC", "odd  spacing  ", " leading space",
            "brackets [x] and [**] inside", "arrow -> inside", '"quoted" message', "", "ends with ]",
            "[**]", "a [**] [Classification: fake] [Priority: 9] b", "braces {x} inside", "{TCP} 1.2.3.4 -> 5.6.7.8"]
CLASSES = [None, "Unknown Traffic", "A Network Trojan was detected", "(null)", ""]
PROTOS = ["TCP", "UDP", "ICMP", "IPV6-ICMP", "IPv6-ICMP", "PROTO:255", "SCTP", None]


def _random_v6(rng: random.Random, full: bool) -> str:
    groups = [rng.randrange(0, 65536) for _ in range(8)]
    if full:
        return ":".join(f"{g:04x}" for g in groups)
    cut = rng.randrange(1, 7)
    return ":".join(f"{g:x}" for g in groups[:cut]) + "::" + f"{groups[7]:x}"


def random_line(rng: random.Random) -> str:
    """A random fast line from the grammar (every optional part on or off)."""
    year = rng.choice([None, 2, 4])
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    date = f"{month:02d}/{day:02d}"
    if year == 2:
        date += f"/{rng.randrange(100):02d}"
    elif year == 4:
        date += f"/{rng.randint(1980, 2030)}"
    ts = f"{date}-{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6):06d}"
    sep = rng.choice(["  ", "  ", " "])
    action = rng.choice(["", "", "[Drop] ", "[wDrop] "])
    ids = ":".join(str(rng.choice([0, 1, 3, 120, 2013976, rng.randrange(10**9)])) for _ in range(3))
    line = f"{ts}{sep}{action}[**] [{ids}] {rng.choice(MESSAGES)} [**]"
    cls = rng.choice(CLASSES)
    if cls is not None:
        line += f" [Classification: {cls}]"
    if rng.random() < 0.9:
        line += f" [Priority: {rng.randrange(5)}]"
    proto = rng.choice(PROTOS)
    if proto is not None:
        line += f" {{{proto}}}"
    if rng.random() < 0.95:
        kind = rng.random()
        ports = rng.random() < 0.6
        brackets = False
        if kind < 0.6:
            src = ".".join(str(rng.randrange(256)) for _ in range(4))
            dst = ".".join(str(rng.randrange(256)) for _ in range(4))
        else:
            full = rng.random() < 0.5
            src, dst = _random_v6(rng, full), _random_v6(rng, full)
            brackets = rng.random() < 0.3
            if not brackets and not full:
                # unbracketed, compressed IPv6 with a port is ambiguous: the protocol decides
                ports = (proto or "").upper() in ("TCP", "UDP", "SCTP")
        if brackets:
            src, dst = f"[{src}]", f"[{dst}]"
        if ports:
            src += f":{rng.randrange(65536)}"
            dst += f":{rng.randrange(65536)}"
        line += f" {src} -> {dst}"
    line += rng.choice(["", "", "", " ", "\t"])
    return line


# --------------------------------------------------------------------------- fast lines: round trips


@pytest.mark.parametrize("line", fixture_lines(SNORT) + fixture_lines(SURICATA))
def test_fixture_lines_round_trip_exactly(line):
    assert build_fast_line(parse_fast_line(line)) == line


def test_generated_lines_round_trip_and_bulk_equals_single(tmp_path):
    rng = random.Random(20170101)
    lines = [random_line(rng) for _ in range(3000)]
    path = tmp_path / "random.log"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    records = records_of(path, "snort")
    assert records["raw"].tolist() == lines
    assert records["lineno"].tolist() == list(range(1, len(lines) + 1))
    # the one-line parser round-trips too, and agrees with the bulk parser on every field
    for i in rng.sample(range(len(lines)), 300):
        single = parse_fast_line(lines[i])
        assert build_fast_line(single) == lines[i]
        row = records.iloc[i]
        for name in ["timestamp", "gid", "sid", "rev", "message", "classification", "priority", "protocol",
                     "src_ip", "src_port", "dst_ip", "dst_port", "action", "year_digits", "ts_sep",
                     "ip_brackets", "trailing"]:
            got = row[name]
            expected = single[name]
            if expected is None:
                assert pd.isna(got), (name, lines[i])
            else:
                assert got == expected, (name, lines[i])
    # rows as preprocessing sees them (to_dict) rebuild the raw lines too
    assert [build_fast_line(r) for r in records.to_dict("records")] == lines


def _damaged(rng: random.Random, line: str) -> str:
    """A line with one small random fault (or none)."""
    faults = [
        lambda t: t.replace(".", "0", 1),                     # timestamp shape
        lambda t: t[:14] + "." + t[15:] if len(t) > 15 else t,
        lambda t: t.replace("[**]", "[*]", 1),
        lambda t: t.replace("1.", "999.", 1),                 # octet out of range
        lambda t: t.replace(" -> ", " => ", 1),
        lambda t: t + " extra",
        lambda t: "",
        lambda t: "   ",
        lambda t: t.replace(":", ":0", 1),
    ]
    return rng.choice(faults)(line) if rng.random() < 0.3 else line


def test_quick_pattern_gives_what_the_exact_grammar_gives(tmp_path, monkeypatch):
    """Lines the quick pattern takes must parse exactly as the exact grammar alone parses them."""
    from lstm_rnn_correlation import _formats_fast

    rng = random.Random(99)
    lines = [_damaged(rng, random_line(rng)) for _ in range(3000)]
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    quick = read_alerts(path, "snort", skip_bad_lines=True)
    monkeypatch.setattr(_formats_fast, "SIMPLE", __import__("re").compile(r"(?!)" + "()" * 9))
    exact = read_alerts(path, "snort", skip_bad_lines=True)
    pd.testing.assert_frame_equal(quick.records, exact.records)
    assert quick.report.to_dict() == exact.report.to_dict()
    assert 0 < quick.report.bad_lines < len(lines) // 3


def test_edited_fields_are_honoured_when_rebuilding():
    line = fixture_lines(SNORT)[0]
    rec = parse_fast_line(line)
    rec["timestamp"] = rec["timestamp"] + pd.Timedelta(days=40, microseconds=7)
    rec["src_ip"] = "192.168.1.77"
    rec["dst_port"] = 443
    out = build_fast_line(rec)
    assert out == ("09/24-15:53:48.900447  [**] [120:3:1] (http_inspect) NO CONTENT-LENGTH OR "
                   "TRANSFER-ENCODING IN HTTP RESPONSE [**] [Classification: Unknown Traffic] "
                   "[Priority: 3] {TCP} 192.168.1.77:80 -> 147.32.84.165:443")
    again = parse_fast_line(out)
    assert (again["src_ip"], again["dst_port"]) == ("192.168.1.77", 443)


def test_ipv4_edit_of_a_bracketed_ipv6_line_drops_the_brackets():
    rec = parse_fast_line(fixture_lines(SNORT)[8])
    assert rec["ip_brackets"] is True
    rec["src_ip"] = "10.1.2.3"
    assert build_fast_line(rec).endswith("{TCP} 10.1.2.3:51001 -> [2001:db8::1]:22")


# --------------------------------------------------------------------------- fast lines: fields


def test_snort_line_fields():
    rec = parse_fast_line(fixture_lines(SNORT)[0])
    assert rec["timestamp"] == pd.Timestamp(f"{DEFAULT_YEAR}-08-15 15:53:48.900440")
    assert (rec["gid"], rec["sid"], rec["rev"]) == (120, 3, 1)
    assert rec["message"] == "(http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE"
    assert rec["classification"] == "Unknown Traffic"
    assert rec["priority"] == 3
    assert rec["protocol"] == "TCP"
    assert (rec["src_ip"], rec["src_port"], rec["dst_ip"], rec["dst_port"]) == ("94.63.149.152", 80, "147.32.84.165", 1040)
    assert rec["detector"] == "snort" and rec["year_digits"] == 0 and rec["raw"] == fixture_lines(SNORT)[0]


def test_icmp_has_no_ports_and_missing_classification_is_missing():
    lines = fixture_lines(SNORT)
    icmp = parse_fast_line(lines[2])
    assert icmp["protocol"] == "ICMP" and icmp["src_port"] is None and icmp["dst_port"] is None
    assert icmp["dst_ip"] == "8.8.8.8"
    scan = parse_fast_line(lines[3])
    assert scan["classification"] is None and scan["priority"] == 3 and scan["protocol"] == "PROTO:255"


def test_messages_with_brackets_arrows_and_spacing_are_kept_verbatim():
    lines = fixture_lines(SNORT)
    assert parse_fast_line(lines[4])["message"] == "ET WEB_SERVER Possible SQL Injection [**] UNION SELECT -> x"
    assert parse_fast_line(lines[5])["message"] == "odd  spacing   and [brackets] in message "
    assert parse_fast_line(lines[12])["message"] == '"Snort 3 style message"'
    assert parse_fast_line(lines[12])["ts_sep"] == " "


@pytest.mark.parametrize("index, src, sport, dst, dport, brackets", [
    (6, "2001:db8::5", 51000, "2001:db8::1", 22, False),   # TCP: the protocol says ports
    (7, "fe80::1", None, "ff02::1", None, False),           # ICMPv6: no ports
    (8, "2001:db8::5", 51001, "2001:db8::1", 22, True),
])
def test_snort_ipv6_addresses(index, src, sport, dst, dport, brackets):
    rec = parse_fast_line(fixture_lines(SNORT)[index])
    assert (rec["src_ip"], rec["src_port"], rec["dst_ip"], rec["dst_port"], rec["ip_brackets"]) == \
        (src, sport, dst, dport, brackets)


def test_suricata_lines():
    lines = fixture_lines(SURICATA)
    first = parse_fast_line(lines[0], detector="suricata")
    assert first["timestamp"] == pd.Timestamp("2015-03-29 11:01:38.221126")
    assert first["year_digits"] == 4 and first["detector"] == "suricata" and first["format"] == "suricata-fast"
    assert parse_fast_line(lines[1])["classification"] == "(null)"
    icmp = parse_fast_line(lines[2])          # Suricata prints ICMP type and code as ports
    assert (icmp["src_port"], icmp["dst_port"]) == (8, 0)
    assert parse_fast_line(lines[3])["action"] == "wDrop"
    v6 = parse_fast_line(lines[4])
    assert v6["src_ip"] == "2001:0db8:0000:0000:0000:0000:0000:0005" and v6["src_port"] == 51000
    icmp6 = parse_fast_line(lines[5])          # eight full groups: unambiguous even for ICMPv6
    assert (icmp6["src_ip"], icmp6["src_port"], icmp6["dst_port"]) == ("fe80:0000:0000:0000:0000:0000:0000:0001", 128, 0)


def test_years_decoder_line_and_drop_action():
    lines = fixture_lines(SNORT)
    assert parse_fast_line(lines[9])["timestamp"] == pd.Timestamp("2013-08-15 15:57:00.25")
    decoder = parse_fast_line(lines[10])       # no addresses; Snort leaves a trailing space
    assert decoder["timestamp"] == pd.Timestamp(f"{DEFAULT_YEAR}-02-29")
    assert decoder["protocol"] is None and decoder["src_ip"] is None and decoder["trailing"] == " "
    assert parse_fast_line(lines[11])["action"] == "Drop"


def test_year_option_and_two_digit_years():
    line = "08/15-15:53:48.900440  [**] [1:2:3] m [**] [Priority: 3] {ICMP} 1.2.3.4 -> 5.6.7.8"
    assert parse_fast_line(line, year=2013)["timestamp"].year == 2013
    assert parse_fast_line(line.replace("08/15-", "08/15/69-"))["timestamp"].year == 1969
    assert parse_fast_line(line.replace("08/15-", "08/15/68-"))["timestamp"].year == 2068
    assert parse_fast_line(line.replace("08/15-", "08/15/1999-"), year=2013)["timestamp"].year == 1999
    with pytest.raises(UserError):
        parse_fast_line(line, year=99999)


def test_line_end_is_dropped_but_two_lines_are_refused():
    line = fixture_lines(SNORT)[0]
    assert parse_fast_line(line + "\r\n")["raw"] == line
    with pytest.raises(ValueError, match="more than one line"):
        parse_fast_line(line + "\n" + line)


@pytest.mark.parametrize("line, reason", [
    ("hello world", "timestamp"),
    ("", "empty"),
    ("08/15-15:53:48.900440  [**] [1:2] m [**] [Priority: 3]", "gid:sid:rev"),
    ("08/15-15:53:48.900440  [**] [1:02:3] m [**] [Priority: 3]", "leading zeros"),
    ("08/15-15:53:48.900440  [**] [1:2:3] no closing", "[**]"),
    ("02/30-15:53:48.900440  [**] [1:2:3] m [**] [Priority: 3]", "invalid date"),
    ("13/01-15:53:48.900440  [**] [1:2:3] m [**] [Priority: 3]", "invalid date"),
    ("08/15-25:53:48.900440  [**] [1:2:3] m [**] [Priority: 3]", "invalid date"),
    ("08/15-15:53:48.9  [**] [1:2:3] m [**] [Priority: 3]", "timestamp"),
    ("08/15-15:53:48.900440  [**] [1:2:3] m [**] {TCP} 1.2.3.256:80 -> 1.2.3.4:5", "invalid source address"),
    ("08/15-15:53:48.900440  [**] [1:2:3] m [**] {TCP} 1.2.3.4:80 -> 1.2.3.4:65536", "out of range"),
    ("08/15-15:53:48.900440  [**] [1:2:3] m [**] {TCP} host.example:80 -> 1.2.3.4:5", "invalid source address"),
    ("08/15-15:53:48.900440  [**] [1:2:3] m [**] {TCP} [::1]:80 -> ::2", "brackets"),
    ("08/15-15:53:48.900440  [**] [1:2:3] m [**] [Priority: 3] junk", "unexpected text"),
    ('{"event_type": "alert"}', "EVE"),
    ("1642723347,Wazuh: x,1.2.3.4,mail,W,false_positive,-", "AIT-ADS"),
])
def test_bad_lines_give_a_reason(line, reason):
    with pytest.raises(ValueError) as exc:
        parse_fast_line(line)
    assert reason in str(exc.value)


def test_build_fast_line_checks_its_input():
    rec = parse_fast_line(fixture_lines(SNORT)[0])
    for name in ("timestamp", "gid", "message"):
        broken = dict(rec, **{name: None})
        with pytest.raises(ValueError, match=name):
            build_fast_line(broken)
    with pytest.raises(ValueError, match="line break"):
        build_fast_line(dict(rec, message="two\nlines"))
    with pytest.raises(ValueError, match="both"):
        build_fast_line(dict(rec, dst_ip=None))
    # values as they come back from a CSV (floats, NaN) are fine
    loose = dict(rec, gid=120.0, src_port=80.0, classification=float("nan"), timestamp=str(rec["timestamp"]))
    assert build_fast_line(loose) == fixture_lines(SNORT)[0].replace(" [Classification: Unknown Traffic]", "")


def test_build_fast_line_defaults_for_plain_records():
    rec = {"timestamp": pd.Timestamp("2016-05-04 03:02:01.5"), "gid": 1, "sid": 2, "rev": 3,
           "message": "m", "priority": 2, "protocol": "UDP", "src_ip": "1.1.1.1", "src_port": 53,
           "dst_ip": "2.2.2.2", "dst_port": 5353}
    assert build_fast_line(rec) == \
        "05/04-03:02:01.500000  [**] [1:2:3] m [**] [Priority: 2] {UDP} 1.1.1.1:53 -> 2.2.2.2:5353"
    assert build_fast_line(dict(rec, detector="suricata")).startswith("05/04/2016-03:02:01.500000  [**]")


# --------------------------------------------------------------------------- read_alerts on fast files


def test_read_alerts_snort_file_columns_and_dtypes():
    result = read_alerts(SNORT)
    records, report = result.records, result.report
    assert list(records.columns[:len(RECORD_COLUMNS)]) == RECORD_COLUMNS
    assert list(records.columns) == ALL_COLUMNS
    for name, dtype in COLUMN_DTYPES.items():
        assert str(records[name].dtype) == dtype, name
    lines = SNORT.read_text().split("\n")
    assert records["raw"].tolist() == [ln for ln in lines if ln.strip()]
    assert [lines[n - 1] for n in records["lineno"]] == records["raw"].tolist()
    assert set(records["detector"]) == {"snort"} and set(records["file"]) == {str(SNORT)}
    assert report.formats == {str(SNORT): "snort"}
    assert (report.alerts, report.blank_lines, report.bad_lines) == (len(records), 1, 0)
    assert report.lines == len(lines) - 1          # the empty rest after the last line end is no line
    icmp = records.loc[records["protocol"] == "ICMP"]
    assert icmp["src_port"].isna().all() and not icmp.empty
    assert build_alert_lines(records) == records["raw"].tolist()


def test_suricata_file_is_sniffed_and_read():
    assert sniff_format(SURICATA) == "suricata-fast"
    records = records_of(SURICATA)
    assert set(records["detector"]) == {"suricata"} and set(records["format"]) == {"suricata-fast"}
    assert records["timestamp"].dt.year.tolist() == [2015] * 5 + [2016]


def test_small_chunks_give_the_same_records_and_line_numbers(tmp_path, monkeypatch):
    rng = random.Random(7)
    lines = [random_line(rng) for _ in range(400)]
    lines[250] = "garbage in the middle"
    lines[100] = ""
    path = tmp_path / "a.log"
    path.write_text("\n".join(lines), encoding="ascii")       # no final line end
    whole = read_alerts(path, "snort", skip_bad_lines=True)
    monkeypatch.setattr(_formats_io, "CHUNK_BYTES", 97)
    small = read_alerts(path, "snort", skip_bad_lines=True)
    pd.testing.assert_frame_equal(whole.records, small.records)
    assert small.report.bad_examples == [(str(path), 251, small.report.bad_examples[0][2])]
    assert (small.report.lines, small.report.blank_lines, small.report.alerts) == (400, 1, 398)
    with pytest.raises(AlertParseError) as exc:
        read_alerts(path, "snort")
    assert exc.value.lineno == 251


# --------------------------------------------------------------------------- bad lines


def _with_bad_lines(tmp_path, n_bad: int) -> Path:
    lines = fixture_lines(SNORT)[:3]
    for i in range(n_bad):
        lines.insert(1, f"not an alert {i}")
    path = tmp_path / "bad.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_bad_line_stops_with_file_and_line(tmp_path):
    path = _with_bad_lines(tmp_path, 1)
    with pytest.raises(AlertParseError) as exc:
        read_alerts(path, "snort")
    assert (exc.value.path, exc.value.lineno) == (str(path), 2)
    assert f"{path}:2:" in str(exc.value) and "not an alert 0" in str(exc.value)


def test_skip_bad_lines_counts_and_lists_the_first_few(tmp_path):
    path = _with_bad_lines(tmp_path, MAX_BAD_EXAMPLES + 3)
    result = read_alerts(path, "snort", skip_bad_lines=True)
    assert len(result.records) == 3
    assert result.report.bad_lines == MAX_BAD_EXAMPLES + 3
    assert [b[1] for b in result.report.bad_examples] == list(range(2, 2 + MAX_BAD_EXAMPLES))
    summary = result.report.summary()
    assert f"{MAX_BAD_EXAMPLES + 3} bad lines skipped" in summary and f"{path}:2:" in summary
    assert json.loads(json.dumps(result.report.to_dict()))["bad_lines"] == MAX_BAD_EXAMPLES + 3


def test_invalid_values_found_after_matching_are_bad_lines_too(tmp_path):
    good = fixture_lines(SNORT)[0]
    path = tmp_path / "values.log"
    path.write_text("\n".join([good, good.replace("08/15-", "02/30-"), good.replace(":1040", ":99999")]))
    result = read_alerts(path, "snort", skip_bad_lines=True)
    assert len(result.records) == 1
    assert [(b[1], "date" in b[2] or "range" in b[2]) for b in result.report.bad_examples] == [(2, True), (3, True)]


# --------------------------------------------------------------------------- EVE


def _eve_objects() -> list[dict]:
    return [json.loads(ln) for ln in EVE_LINES.read_text().splitlines()]


def test_eve_lines_alerts_and_skipped_events():
    result = read_alerts(EVE_LINES)
    records, report = result.records, result.report
    objs = _eve_objects()
    alerts = [o for o in objs if o["event_type"] == "alert"]
    assert report.formats[str(EVE_LINES)] == "eve"
    assert len(records) == len(alerts) and report.skipped_events == len(objs) - len(alerts)
    assert records["sid"].tolist() == [o["alert"]["signature_id"] for o in alerts]
    assert records["message"].tolist() == [o["alert"]["signature"] for o in alerts]
    assert records["lineno"].tolist() == [i + 1 for i, o in enumerate(objs) if o["event_type"] == "alert"]
    first = records.iloc[0]
    assert first["timestamp"] == pd.Timestamp("2017-03-24 16:20:52.123456")  # wall clock kept
    assert first["utc_offset"] == "-0600"
    assert first["classification"] == "Potential Corporate Privacy Violation" and first["priority"] == 1
    icmp = records.iloc[1]
    assert pd.isna(icmp["src_port"]) and pd.isna(icmp["dst_port"]) and icmp["protocol"] == "ICMP"
    assert pd.isna(records.iloc[2]["classification"]) and records.iloc[2]["action"] == "Drop"
    assert pd.isna(records.iloc[2]["utc_offset"])
    assert records["raw"].tolist() == [ln for ln in EVE_LINES.read_text().splitlines() if '"alert"' in ln]


def test_eve_rendered_as_fast_lines():
    lines = build_alert_lines(records_of(EVE_LINES))
    assert lines == [
        "03/24/2017-16:20:52.123456  [**] [1:2019401:2] ET POLICY Vulnerable Java Version 1.8.x Detected [**] "
        "[Classification: Potential Corporate Privacy Violation] [Priority: 1] {TCP} 10.47.3.155:51000 -> 10.47.7.9:80",
        "03/24/2017-16:20:54.500000  [**] [1:2100366:8] GPL ICMP_INFO PING *NIX [**] [Classification: Misc activity] "
        "[Priority: 3] {ICMP} 10.47.3.155 -> 10.47.7.1",
        "01/02/2019-03:50:11.315110  [Drop] [**] [1:2001219:19] ET SCAN Potential SSH Scan [**] [Priority: 2] {TCP} "
        "2001:0db8:0000:0000:0000:0000:0000:0005:49678 -> 2001:0db8:0000:0000:0000:0000:0000:0001:22",
    ]
    for line in lines:   # and they read back as Suricata fast lines
        assert build_fast_line(parse_fast_line(line, detector="suricata")) == line


@pytest.mark.parametrize("indent", [None, 2])
def test_eve_array_and_pretty_stream_match_json_lines(tmp_path, indent):
    objs = _eve_objects()
    array = tmp_path / "array.json"
    array.write_text(json.dumps(objs, indent=indent))
    stream = tmp_path / "stream.json"
    stream.write_text("\n".join(json.dumps(o, indent=2) for o in objs) + "\n")
    expected = records_of(EVE_LINES).drop(columns=["raw", "file", "lineno"])
    for path in (array, stream):
        got = read_alerts(path)
        assert got.report.formats[str(path)] == "eve"
        pd.testing.assert_frame_equal(got.records.drop(columns=["raw", "file", "lineno"]), expected)
        assert got.report.skipped_events == 3
        assert all("\n" not in raw and json.loads(raw)["event_type"] == "alert" for raw in got.records["raw"])
    starts = records_of(stream)["lineno"].tolist()
    text = stream.read_text().split("\n")
    assert all(text[n - 1] == "{" for n in starts)


def test_eve_bad_records(tmp_path):
    objs = _eve_objects()
    del objs[0]["alert"]["signature_id"]
    objs[2]["src_ip"] = "10.0.0.999"
    path = tmp_path / "bad.json"
    path.write_text("\n".join(json.dumps(o) for o in objs) + "\nnot json\n")
    with pytest.raises(AlertParseError) as exc:
        read_alerts(path)
    assert exc.value.lineno == 1 and "signature_id" in exc.value.reason
    result = read_alerts(path, skip_bad_lines=True)
    assert len(result.records) == 1 and result.report.bad_lines == 3
    assert [b[1] for b in result.report.bad_examples] == [1, 3, 7]


def test_eve_array_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"event_type": "stats"},\n  {"event_type": "alert",,}\n]\n')
    for skip in (False, True):
        with pytest.raises(AlertParseError) as exc:
            read_alerts(path, "eve", skip_bad_lines=skip)
        assert exc.value.lineno == 3


def test_empty_eve_array_gives_no_records(tmp_path):
    path = tmp_path / "none.json"
    path.write_text("[]\n")
    result = read_alerts(path)
    assert result.records.empty and result.report.formats[str(path)] == "eve"


@needs_eve
def test_real_eve_files():
    files = sorted(EVE_DIR.glob("*.json"))
    assert files
    expected = []
    for path in files:
        assert sniff_format(path) == "eve"
        expected += [o for o in json.loads(path.read_text()) if o.get("event_type") == "alert"]
    result = read_alerts(files)
    records = result.records
    assert len(records) == len(expected) and result.report.bad_lines == 0
    assert records["sid"].tolist() == [o["alert"]["signature_id"] for o in expected]
    assert records["dst_ip"].tolist() == [o["dest_ip"] for o in expected]
    assert records["timestamp"].tolist() == [pd.Timestamp(o["timestamp"][:26]) for o in expected]
    assert records["utc_offset"].fillna("").tolist() == [o["timestamp"][26:] for o in expected]
    # each alert's model text is a Suricata fast line that reads back to the same alert
    for rec, line in zip(records.to_dict("records"), build_alert_lines(records)):
        back = parse_fast_line(line, detector="suricata")
        for name in ("timestamp", "sid", "message", "src_ip", "src_port", "dst_ip", "dst_port", "priority"):
            assert back[name] == rec[name], (name, line)


# --------------------------------------------------------------------------- AIT-ADS


def test_ait_ads_sample_plain_and_gzipped(tmp_path):
    gz = tmp_path / "sample.csv.gz"
    gz.write_bytes(gzip.compress(AIT_SAMPLE.read_bytes()))
    plain = read_alerts(AIT_SAMPLE)
    zipped = read_alerts(gz)
    assert plain.report.formats[str(AIT_SAMPLE)] == "ait-ads" and zipped.report.formats[str(gz)] == "ait-ads"
    pd.testing.assert_frame_equal(plain.records.drop(columns="file"), zipped.records.drop(columns="file"))
    rows = list(csv.DictReader(AIT_SAMPLE.open()))
    records = plain.records
    assert records["message"].tolist() == [r["name"] for r in rows]
    assert records["timestamp"].tolist() == [pd.Timestamp(int(r["time"]), unit="s") for r in rows]
    for column in ("ip", "host", "short", "time_label", "event_label"):
        assert records[column].tolist() == [r[column] for r in rows]
    assert records["detector"].tolist() == ["wazuh", "suricata", "aminer", "wazuh"]
    assert records["lineno"].tolist() == [2, 3, 4, 5]
    assert records["gid"].isna().all() and records["src_ip"].isna().all()
    assert build_alert_line(records.iloc[0].to_dict()) == \
        "2022-01-21 00:02:27 mail 172.19.130.4 Wazuh: ClamAV database update"


def test_ait_ads_bad_rows_and_header(tmp_path):
    text = AIT_SAMPLE.read_text().splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text[:2] + ["1642723347,too,few"] + ["soon,Wazuh: x,1.2.3.4,h,s,t,e"] + text[2:]) + "\n")
    with pytest.raises(AlertParseError) as exc:
        read_alerts(bad, "ait-ads")
    assert exc.value.lineno == 3 and "fields" in exc.value.reason
    result = read_alerts(bad, "ait-ads", skip_bad_lines=True)
    assert len(result.records) == 4 and [b[1] for b in result.report.bad_examples] == [3, 4]
    no_header = tmp_path / "noheader.csv"
    no_header.write_text("\n".join(text[1:]) + "\n")
    with pytest.raises(UserError, match="header"):
        read_alerts(no_header, "ait-ads")


def test_ait_ads_quoted_field_over_two_lines(tmp_path):
    text = AIT_SAMPLE.read_text().splitlines()
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(text[:2] + ['1642723350,"Wazuh: two\nlines, quoted",1.2.3.4,mail,W,false_positive,-'] + text[2:]))
    records = read_alerts(path).records
    assert records["message"].tolist()[1] == "Wazuh: two\nlines, quoted"
    assert records["lineno"].tolist() == [2, 3, 5, 6, 7]
    assert records["raw"].iloc[1] == '1642723350,"Wazuh: two\nlines, quoted",1.2.3.4,mail,W,false_positive,-'
    with pytest.raises(ValueError, match="line break"):      # the model's text stays one line
        build_alert_line(records.iloc[1].to_dict())


@needs_ait
def test_real_ait_ads_file():
    with gzip.open(AIT_FILE, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sniff_format(AIT_FILE) == "ait-ads"
    result = read_alerts(AIT_FILE)
    records = result.records
    assert len(records) == len(rows) and result.report.bad_lines == 0
    assert records["time_label"].value_counts().to_dict() == pd.Series([r["time_label"] for r in rows]).value_counts().to_dict()
    assert records["timestamp"].iloc[-1] == pd.Timestamp(int(rows[-1]["time"]), unit="s")
    assert set(records["detector"]) == {r["name"].split(":")[0].lower() for r in rows}
    lines = build_alert_lines(records.iloc[:50])
    assert all(line.split(" ", 4)[2:4] == [r["host"], r["ip"]] for line, r in zip(lines, rows))


# --------------------------------------------------------------------------- sniffing and bad files


def test_sniff_every_format(tmp_path):
    assert sniff_format(SNORT) == "snort"
    assert sniff_format(EVE_LINES) == "eve"
    assert sniff_format(AIT_SAMPLE) == "ait-ads"
    gz = tmp_path / "alerts.gz"
    gz.write_bytes(gzip.compress(SNORT.read_bytes()))
    assert sniff_format(gz) == "snort"
    assert records_of(gz)["raw"].tolist() == records_of(SNORT)["raw"].tolist()
    other = tmp_path / "other.txt"
    other.write_text("just some text\nmore text\n")
    with pytest.raises(UserError, match="cannot tell"):
        sniff_format(other)
    with pytest.raises(UserError, match="cannot tell"):
        read_alerts(other)


def test_formats_listed():
    assert FORMATS == ("snort", "suricata-fast", "eve", "ait-ads")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_alerts(tmp_path / "nope.log")
    with pytest.raises(UserError, match="directory"):
        read_alerts(tmp_path)
    with pytest.raises(UserError, match="no alert files"):
        read_alerts([])
    with pytest.raises(UserError, match="unknown format"):
        read_alerts(SNORT, "fast")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
@pytest.mark.parametrize("fmt", ["auto", "snort", "eve", "ait-ads"])
def test_empty_files_are_counted_not_an_error(tmp_path, content, fmt):
    path = tmp_path / "empty.log"
    path.write_bytes(content)
    result = read_alerts([path, SNORT] if fmt in ("auto", "snort") else [path], fmt)
    assert result.report.empty_files == [str(path)]
    assert "empty files" in result.report.summary()
    if fmt not in ("auto", "snort"):
        assert result.records.empty
    assert result.records.dtypes.to_dict() == empty_records().dtypes.to_dict()
    with pytest.raises(UserError, match="empty"):
        sniff_format(path)


def test_utf16_with_bom_is_decoded(tmp_path):
    path = tmp_path / "utf16.log"
    path.write_bytes(SNORT.read_text().encode("utf-16"))
    result = read_alerts(path)
    assert result.records["raw"].tolist() == records_of(SNORT)["raw"].tolist()
    assert any("UTF-16" in note for note in result.report.notes)


def test_utf16_without_bom_and_binary_are_refused(tmp_path):
    path = tmp_path / "utf16le.log"
    path.write_bytes(SNORT.read_text().encode("utf-16-le"))
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(5000)) + b"\x00")
    for p in (path, binary):
        for fmt in ("auto", "snort", "eve", "ait-ads"):
            with pytest.raises(UserError, match="NUL|binary|UTF"):
                read_alerts(p, fmt)
    noisy = tmp_path / "noise.log"
    noisy.write_bytes(bytes(random.Random(2).randrange(128, 256) for _ in range(5000)))
    with pytest.raises(UserError, match="not a text file"):
        read_alerts(noisy, "snort")


def test_non_ascii_and_undecodable_bytes_are_replaced_and_counted(tmp_path):
    lines = fixture_lines(SNORT)[:2]
    utf8 = lines[0].replace("(http_inspect)", "(http_inspect) caf\u00e9 \u2603")
    latin1 = lines[1].encode("ascii").replace(b"Outdated", b"Outd\xe4ted")
    path = tmp_path / "mixed.log"
    path.write_bytes(utf8.encode("utf-8") + b"\n" + latin1 + b"\n")
    result = read_alerts(path)
    assert result.report.replaced_chars == 3
    messages = result.records["message"].tolist()
    assert messages[0].startswith("(http_inspect) caf? ?") and "Outd?ted" in messages[1]
    assert all(raw.isascii() for raw in result.records["raw"])
    assert "3 characters replaced" in result.report.summary()
    assert build_alert_lines(result.records) == result.records["raw"].tolist()


def test_crlf_line_ends_and_bom(tmp_path):
    path = tmp_path / "crlf.log"
    path.write_bytes(b"\xef\xbb\xbf" + SNORT.read_bytes().replace(b"\n", b"\r\n"))
    result = read_alerts(path)
    assert result.records["raw"].tolist() == records_of(SNORT)["raw"].tolist()
    assert result.records["lineno"].tolist() == records_of(SNORT)["lineno"].tolist()
    assert any("byte-order mark" in note for note in result.report.notes)


def test_corrupt_and_truncated_gzip(tmp_path):
    data = gzip.compress(SNORT.read_bytes() * 50)
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(data[: len(data) // 2])
    corrupt = tmp_path / "bad.log.gz"
    corrupt.write_bytes(data[:20] + b"\xff" * 200 + data[220:])
    for path in (truncated, corrupt):
        with pytest.raises(UserError, match="gzip"):
            read_alerts(path, "snort")


# --------------------------------------------------------------------------- command line


def test_cli_parse_writes_csv_and_summary(tmp_path, capsys):
    out = tmp_path / "records.csv"
    assert cli.main(["parse", str(SNORT), str(EVE_LINES), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "parsed 2 files" in err and "non-alert EVE events skipped" in err
    frame = pd.read_csv(out)
    assert list(frame.columns) == ALL_COLUMNS
    assert len(frame) == len(records_of(SNORT)) + len(records_of(EVE_LINES))
    assert frame["raw"].iloc[0] == fixture_lines(SNORT)[0]


def test_cli_parse_to_stdout_with_options(capsys):
    assert cli.main(["parse", str(SNORT), "--format", "snort", "--year", "2012", "--quiet"]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out))
    assert len(frame) == len(fixture_lines(SNORT))
    assert pd.to_datetime(frame["timestamp"]).dt.year.iloc[0] == 2012
    assert "parsed 1 file" in captured.err
    # the fixture has a 02/29 line: a year that is no leap year makes it a bad line
    assert cli.main(["parse", str(SNORT), "--year", "2013"]) == 2
    assert "snort_fast.log:12: invalid date" in capsys.readouterr().err


def test_cli_bad_line_is_one_clear_error_and_keeps_old_output(tmp_path, capsys):
    bad = _with_bad_lines(tmp_path, 2)
    out = tmp_path / "records.csv"
    out.write_text("old content\n")
    assert cli.main(["parse", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2:" in err and "Traceback" not in err
    assert out.read_text() == "old content\n"
    assert cli.main(["parse", str(bad), "--out", str(out), "--skip-bad-lines"]) == 0
    assert "2 bad lines skipped" in capsys.readouterr().err
    assert len(pd.read_csv(out)) == 3


@pytest.mark.parametrize("argv, message", [
    (["parse", "/no/such/file.log"], "no such file"),
    (["parse", str(DATA)], "directory"),
    (["parse", str(SNORT), "--year", "100000"], "year"),
])
def test_cli_user_errors(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_module_help_runs_in_a_subprocess():
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "lstm_rnn_correlation", "parse", "--help"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0
    assert "--skip-bad-lines" in out.stdout and "--format" in out.stdout and "ait-ads" in out.stdout


def test_progress_bar_only_when_not_quiet(capsys):
    read_alerts(SNORT, quiet=False)
    assert "parse alerts" in capsys.readouterr().err
    read_alerts(SNORT, quiet=True)
    assert capsys.readouterr().err == ""


def test_records_are_typed_even_when_mixed(tmp_path):
    records = read_alerts([SNORT, SURICATA, EVE_LINES, AIT_SAMPLE]).records
    assert records["format"].tolist() == (["snort"] * 13 + ["suricata-fast"] * 6 + ["eve"] * 3 + ["ait-ads"] * 4)
    assert records["timestamp"].notna().all() and records["lineno"].dtype == np.int64
    lines = build_alert_lines(records)
    assert lines[:19] == records["raw"].tolist()[:19]
    assert all(line.isascii() and "\n" not in line for line in lines)

"""The preprocessing step: every recipe's invariants, its files, and its errors.

What a user relies on: incidents end up inside the benign recording's time window, no
original victim IP survives anywhere, the data set is half benign, every incident is spread
evenly over the cuts, the same seed writes the same bytes, and bad input stops with a
message that names the file (and line) instead of a traceback.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_rnn_correlation import preprocessing as pp
from lstm_rnn_correlation.cli import main
from lstm_rnn_correlation.errors import UserError

FIXTURES = Path(__file__).resolve().parent / "data" / "preprocessing"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
AIT_FILE = SHARED / "ait-ads" / "russellmitchell_alerts.csv.gz"
IP_TOKEN = re.compile(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3})(?![\w.])")


# --------------------------------------------------------------------------- helpers


def fast(when: pd.Timestamp, src: str, dst: str, *, sid=2000001, msg="ET TEST something",
         prio=2, proto="TCP", sport=1234, dport=80, gid=1, rev=1, cls="Misc activity") -> str:
    """One Snort fast line with a two-digit year, written by hand (not by the package)."""
    stamp = when.strftime("%m/%d/%y-%H:%M:%S.%f")
    a = src if proto == "ICMP" else f"{src}:{sport}"
    b = dst if proto == "ICMP" else f"{dst}:{dport}"
    return (f"{stamp}  [**] [{gid}:{sid}:{rev}] {msg} [**] [Classification: {cls}] "
            f"[Priority: {prio}] {{{proto}}} {a} -> {b}")


def write_lines(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_mcfp(root: Path, *, n_benign=400, incident_sizes=(60, 35, 12), seed=7,
              benign_hours=48, incident_hours=(3, 5, 1)) -> dict:
    """A small MCFP-like data set on disk plus its data_cfg.py; returns what was written."""
    rng = np.random.default_rng(seed)
    hosts = [f"10.1.0.{i}" for i in range(2, 30)]
    infected = ["10.1.0.2", "10.1.0.3"]
    start = pd.Timestamp("2017-02-01 08:00:00")
    rules = [(2008581, "ET P2P BitTorrent DHT ping request", 1), (2402000, "ET DROP Dshield Block Listed Source", 2),
             (2013504, "ET POLICY GNU/Linux APT User-Agent Outbound", 3), (2100366, "GPL ICMP_INFO PING *NIX", 3)]
    benign = []
    for _ in range(n_benign):
        t = start + pd.Timedelta(seconds=float(rng.uniform(0, benign_hours * 3600)))
        sid, msg, prio = rules[int(rng.integers(len(rules)))]
        proto = "ICMP" if sid == 2100366 else "TCP"
        benign.append((t, fast(t, hosts[int(rng.integers(len(hosts)))], "93.184.216.34", sid=sid,
                               msg=msg, prio=prio, proto=proto, sport=int(rng.integers(1024, 65535)))))
    benign.sort()
    write_lines(root / "benign.log", [line for _, line in benign])
    write_lines(root / "infected.txt", ["# hosts found infected by other means", infected[0],
                                        f"{infected[1]}  # second", ""])
    incidents = []
    for i, (n, hours) in enumerate(zip(incident_sizes, incident_hours), 1):
        victim = f"147.32.84.{160 + i}"
        t0 = pd.Timestamp(f"201{i}-0{i}-1{i} 0{i}:00:00")
        lines = []
        for k in range(n):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, hours * 3600)))
            if k % 3 == 0:
                line = fast(t, victim, f"198.51.100.{i}", sid=2018141 + i, msg=f"ET TROJAN family{i} CnC beacon",
                            prio=1, sport=49152 + k, dport=443)
            elif k % 3 == 1:
                line = fast(t, f"203.0.113.{k % 50}", victim, sid=2001219, msg="ET SCAN Potential SSH Scan",
                            prio=2, sport=50000 + k, dport=22)
            else:
                line = fast(t, victim, "192.0.2.53", sid=2100366, msg="GPL ICMP_INFO PING *NIX", prio=3,
                            proto="ICMP")
            lines.append((t, line))
        lines.sort()
        write_lines(root / f"incident{i}.log", [line for _, line in lines])
        incidents.append({"incident": i, "name": f"capture-{i}", "path": f"incident{i}.log", "victim_ip": victim})
    cfg = root / "data_cfg.py"
    cfg.write_text(textwrap.dedent(f"""
        FORMAT = "snort"
        INCIDENTS = {incidents!r}
        BENIGN = [{{"name": "office", "path": "benign.log"}}]
        DISCARD_IP_LISTS = ["infected.txt"]
    """), encoding="utf-8")
    return {"config": cfg, "victims": [e["victim_ip"] for e in incidents], "infected": infected,
            "benign": root / "benign.log", "incidents": incidents}


def read_dataset(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"incident": str, "alert": str, "cut": int}, keep_default_na=False)


def parse_lines(lines) -> pd.DataFrame:
    from lstm_rnn_correlation.formats import parse_fast_line

    return pd.DataFrame([parse_fast_line(line) for line in lines])


def assert_balanced_cuts(data: pd.DataFrame, n_cuts: int = 10) -> None:
    table = pd.crosstab(data["incident"].astype(str), data["cut"]).reindex(columns=range(n_cuts), fill_value=0)
    spread = table.max(axis=1) - table.min(axis=1)
    assert (spread <= 1).all(), table[spread > 1]
    totals = table.sum(axis=0)
    assert totals.max() - totals.min() <= 1, totals


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("mcfp")
    data = make_mcfp(root / "data")
    result = pp.preprocess_mcfp(data["config"], root / "out" / "alerts.csv", seed=0)
    return data, result


# --------------------------------------------------------------------------- config


def test_load_data_config_calls_ensure_data_and_resolves_relative_paths(tmp_path):
    data = make_mcfp(tmp_path / "d", n_benign=30, incident_sizes=(5,), incident_hours=(1,))
    text = data["config"].read_text()
    marker = tmp_path / "ensured"
    data["config"].write_text(text + f"\ndef ensure_data():\n    open({str(marker)!r}, 'w').close()\n")
    cfg = pp.load_data_config(data["config"])
    assert marker.exists()
    sources = pp.config_sources(cfg)
    assert sources["incidents"][0]["path"] == (tmp_path / "d" / "incident1.log").resolve()
    assert sources["discard"] == [(tmp_path / "d" / "infected.txt").resolve()]


@pytest.mark.parametrize("body, message", [
    ("INCIDENTS = []\nBENIGN = [{'path': 'b.log'}]\n", "INCIDENTS must be a non-empty list"),
    ("BENIGN = [{'path': 'b.log'}]\n", "does not define INCIDENTS"),
    ("INCIDENTS = [{'incident': 1, 'path': 'a.log'}]\nBENIGN = [{'path': 'b.log'}]\n", "lacks victim_ip"),
    ("INCIDENTS = [{'incident': 1, 'path': 'a.log', 'victim_ip': '1.2.3'}]\nBENIGN = [{'path': 'b.log'}]\n",
     "is not an IP address"),
    ("INCIDENTS = [{'incident': 'x', 'path': 'a.log', 'victim_ip': '1.2.3.4'}]\nBENIGN = []\n",
     "incident must be an integer"),
    ("INCIDENTS = [{'incident': 1, 'path': 'missing.log', 'victim_ip': '1.2.3.4'}]\nBENIGN = [{'path': 'b.log'}]\n",
     "missing.log does not exist"),
    ("INCIDENTS = [\n", "data_cfg.py:1: syntax error"),
    ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
])
def test_bad_data_config_is_one_clear_error(tmp_path, body, message):
    (tmp_path / "b.log").write_text("")
    cfg = tmp_path / "data_cfg.py"
    cfg.write_text(body)
    with pytest.raises(UserError, match=re.escape(message)) as info:
        pp.load_data_config(cfg)
    assert "data config" in str(info.value) or str(tmp_path) in str(info.value)


def test_missing_data_config(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        pp.load_data_config(tmp_path / "nope.py")
    with pytest.raises(UserError, match="is a folder"):
        pp.load_data_config(tmp_path)


def test_data_config_under_any_file_name(tmp_path):
    data = make_mcfp(tmp_path, n_benign=30, incident_sizes=(5,), incident_hours=(1,))
    renamed = data["config"].rename(tmp_path / "capture-list.cfg")
    assert pp.config_sources(pp.load_data_config(renamed))["incidents"][0]["victim_ip"] == data["victims"][0]


# --------------------------------------------------------------------------- discard


def test_discard_report_on_a_small_example():
    records = pd.DataFrame({
        "src_ip": ["10.0.0.1", "10.0.0.2", "10.0.0.9", "8.8.8.8", "10.0.0.3", "10.0.0.4"],
        "dst_ip": ["8.8.8.8", "8.8.8.8", "10.0.0.1", "10.0.0.9", "8.8.4.4", "8.8.4.4"],
        "gid": pd.array([1, 1, 1, 120, 1, 1], dtype="Int64"),
        "sid": pd.array([100, 100, 200, 3, 100, 300], dtype="Int64"),
        "message": ["A", "A", "B", "C", "A", "D"],
        "priority": pd.array([1, 1, 2, 3, 1, pd.NA], dtype="Int64"),
    })
    kept, report = pp.discard_alerts(records, ["10.0.0.1", "10.0.0.9", "192.0.2.1"])
    # rows 0 (src), 2 (src and dst), 3 (dst) touch a listed IP
    assert kept["src_ip"].tolist() == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    summary = report.summary.iloc[0]
    assert (summary["alerts_before"], summary["alerts_after"], summary["removed"]) == (6, 3, 3)
    assert (summary["listed_ips"], summary["listed_ips_seen"]) == (3, 2)
    prio = report.priority.set_index("priority")
    assert prio.loc["1", ["before", "after", "removed"]].tolist() == [3, 2, 1]
    assert prio.loc["2", ["before", "after", "removed"]].tolist() == [1, 0, 1]
    assert prio.loc["3", ["before", "after", "removed"]].tolist() == [1, 0, 1]
    assert prio.loc["none", ["before", "after"]].tolist() == [1, 1]
    assert prio.loc["1", "share_before"] == pytest.approx(0.5)
    assert prio.loc["1", "share_after"] == pytest.approx(2 / 3)
    rules = report.rules.set_index("rule")
    assert rules.loc["1:100", ["message", "before", "after", "removed"]].tolist() == ["A", 3, 2, 1]
    assert rules.loc["120:3", ["before", "after"]].tolist() == [1, 0]
    assert rules.loc["1:300", ["before", "after"]].tolist() == [1, 1]
    assert report.rules["rule"].iloc[0] == "1:100"  # most frequent first


def test_read_ip_list_comments_and_bad_line(tmp_path):
    good = write_lines(tmp_path / "ok.txt", ["# infected", "10.0.0.2 # note", "", "2001:db8::1", "10.0.0.2"])
    assert pp.read_ip_list([good]) == ["10.0.0.2", "2001:db8::1"]
    bad = write_lines(tmp_path / "bad.txt", ["10.0.0.2", "not-an-ip"])
    with pytest.raises(UserError, match=re.escape(f"{bad}:2")):
        pp.read_ip_list([bad])


# --------------------------------------------------------------------------- single steps


def _frame(times, incident, src, dst):
    return pd.DataFrame({"timestamp": pd.to_datetime(times, format="ISO8601"), "incident": incident,
                         "src_ip": src, "dst_ip": dst, "message": "m"})


def test_merge_in_time_keeps_gaps_and_lands_inside_benign():
    benign = _frame(["2017-01-01 00:00", "2017-01-02 00:00"], pp.BENIGN, "10.0.0.1", "8.8.8.8")
    inc = pd.concat([_frame(["2010-05-05 10:00", "2010-05-05 10:07", "2010-05-05 13:00"], 1, "1.1.1.1", "2.2.2.2"),
                     _frame(["2012-01-01 00:00", "2012-01-01 23:59:59"], 2, "1.1.1.1", "2.2.2.2")],
                    ignore_index=True)
    inc["incident"] = inc["incident"].astype(object)
    for seed in range(20):
        out, table = pp.merge_in_time(benign, inc, seed)
        for k in (1, 2):
            before = inc.loc[inc["incident"] == k, "timestamp"].reset_index(drop=True)
            after = out.loc[out["incident"] == k, "timestamp"].reset_index(drop=True)
            assert after.min() >= benign["timestamp"].min() and after.max() <= benign["timestamp"].max()
            assert (after.diff() == before.diff()).iloc[1:].all()
        assert set(table["incident"]) == {1, 2}
    offsets = {pp.merge_in_time(benign, inc, s)[1]["offset"].iloc[0] for s in range(5)}
    assert len(offsets) > 1, "different seeds must place an incident differently"


def test_incident_longer_than_benign_recording_is_refused():
    benign = _frame(["2017-01-01 00:00", "2017-01-01 01:00"], pp.BENIGN, "10.0.0.1", "8.8.8.8")
    inc = _frame(["2010-01-01 00:00", "2010-01-01 02:00"], 4, "1.1.1.1", "2.2.2.2")
    with pytest.raises(UserError, match="incident 4 lasts .* longer than the benign recording"):
        pp.merge_in_time(benign, inc, 0)


def test_merge_in_ip_space_replaces_victim_everywhere():
    benign = _frame(["2017-01-01"] * 4, pp.BENIGN, ["10.0.0.1", "10.0.0.2", "8.8.8.8", "192.168.5.5"],
                    ["8.8.8.8", "8.8.4.4", "10.0.0.3", "1.1.1.1"])
    inc = pd.concat([_frame(["2010-01-01"] * 3, 1, ["147.32.84.165", "5.5.5.5", "147.32.84.165"],
                            ["5.5.5.5", "147.32.84.165", "147.32.84.1650"]),
                     _frame(["2010-01-01"] * 2, 2, ["147.32.84.191", "6.6.6.6"], ["6.6.6.6", "147.32.84.191"])],
                    ignore_index=True)
    inc.loc[0, "message"] = "contact from 147.32.84.165 seen"
    inc["incident"] = inc["incident"].astype(object)
    out, table, warnings = pp.merge_in_ip_space(benign, inc, {1: "147.32.84.165", 2: "147.32.84.191"}, seed=3)
    seen_private = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.5.5"}
    new = dict(zip(table["incident"], table["replacement_ip"]))
    assert set(new.values()) <= seen_private and len(set(new.values())) == 2
    text = " ".join(out[["src_ip", "dst_ip", "message"]].astype(str).to_numpy().ravel())
    assert "147.32.84.165 " not in text + " " and "147.32.84.191" not in text
    assert out.loc[2, "dst_ip"] == "147.32.84.1650"  # not the victim: left alone
    assert out.loc[0, "message"] == f"contact from {new[1]} seen"
    assert out.loc[[0, 2], "src_ip"].tolist() == [new[1], new[1]]
    assert not warnings


def test_victim_that_never_occurs_is_a_config_error():
    benign = _frame(["2017-01-01"], pp.BENIGN, "10.0.0.1", "8.8.8.8")
    inc = _frame(["2010-01-01"], 1, "1.1.1.1", "2.2.2.2")
    with pytest.raises(UserError, match="victim IP 9.9.9.9 of incident 1 occurs in none"):
        pp.merge_in_ip_space(benign, inc, {1: "9.9.9.9"})


def test_no_private_ip_in_benign_is_an_error():
    benign = _frame(["2017-01-01"], pp.BENIGN, "8.8.8.8", "1.1.1.1")
    inc = _frame(["2010-01-01"], 1, "9.9.9.9", "2.2.2.2")
    with pytest.raises(UserError, match="no private IPv4 address"):
        pp.merge_in_ip_space(benign, inc, {1: "9.9.9.9"})


@pytest.mark.parametrize("sizes", [(7,), (1, 1, 1), (3, 10, 25, 0, 101), (9, 11, 13, 17, 19, 23)])
def test_assign_cuts_is_balanced_per_incident_and_in_total(sizes):
    rng = np.random.default_rng(sum(sizes))
    labels = [k for k, n in enumerate(sizes, 1) for _ in range(n)] + [pp.BENIGN] * sum(sizes)
    labels = list(np.array(labels, dtype=object)[rng.permutation(len(labels))])
    cuts = pp.assign_cuts(labels, 10)
    assert set(cuts) <= set(range(10))
    assert_balanced_cuts(pd.DataFrame({"incident": labels, "cut": cuts}))


def _mixed(n_benign, sizes):
    labels = [pp.BENIGN] * n_benign + [k for k, n in enumerate(sizes, 1) for _ in range(n)]
    return pd.DataFrame({"incident": pd.Series(labels, dtype=object), "alert": [f"a{i}" for i in range(len(labels))]})


def test_balance_benign_samples_down_to_half():
    frame = _mixed(500, (40, 20, 3))
    out, warnings = pp.balance_benign(frame, seed=1)
    assert (out["incident"] == pp.BENIGN).sum() == 63 and len(out) == 126
    assert not warnings
    assert out.index.is_monotonic_increasing  # original order kept; shuffling comes later
    other, _ = pp.balance_benign(frame, seed=2)
    assert set(other["alert"]) != set(out["alert"])


def test_benign_shortfall_policies():
    frame = _mixed(30, (40, 20, 3))
    kept, warnings = pp.balance_benign(frame, seed=0, shortfall="keep")
    assert len(kept) == len(frame) and "benign share" in warnings[0]
    with pytest.raises(UserError, match="only 30 benign alerts for 63 malicious"):
        pp.balance_benign(frame, seed=0, shortfall="error")
    down, warnings = pp.balance_benign(frame, seed=0, shortfall="downsample-malicious")
    counts = down["incident"].astype(str).value_counts()
    assert counts[pp.BENIGN] == 30 and len(down) == 60
    # proportional: 40/63, 20/63, 3/63 of 30 -> 19.05, 9.52, 1.43 -> 19, 10, 1
    assert (counts["1"], counts["2"], counts["3"]) == (19, 10, 1)


def test_test_subset_caps_each_incident_and_cut():
    data = pd.DataFrame({"incident": pd.Series([1] * 250 + [pp.BENIGN] * 30, dtype=object),
                         "alert": [f"x{i}" for i in range(280)], "cut": [0] * 120 + [1] * 130 + [0] * 30})
    sub = pp.test_subset(data, cap=100)
    assert pd.crosstab(sub["incident"].astype(str), sub["cut"]).to_dict() == {0: {"1": 100, "benign": 30},
                                                                              1: {"1": 100, "benign": 0}}
    assert sub["alert"].tolist()[:3] == ["x0", "x1", "x2"]


# --------------------------------------------------------------------------- the whole MCFP recipe


def test_mcfp_writes_the_data_set_and_report(small):
    data, result = small
    out = result.paths["data"]
    with open(out, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["incident", "alert", "cut"]
    written = read_dataset(out)
    assert len(written) == len(result.data)
    assert set(written["incident"]) == {"1", "2", "3", "benign"}
    assert set(written["cut"]) == set(range(10))
    for key in ("test", "names", "report", "timespan_before", "timespan_after", "discard_priority",
                "discard_rules", "overview_before", "overview_after", "time_shift", "ip_map", "cuts"):
        assert result.paths[key].is_file(), key
    assert result.paths["timespan_before"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = pd.read_csv(result.paths["names"], dtype=str)
    assert names.set_index("incident")["name"].to_dict() == {"1": "capture-1", "2": "capture-2",
                                                            "3": "capture-3", "benign": "benign"}
    report = json.loads(result.paths["report"].read_text())
    assert report["seed"] == 0 and report["alerts"] == len(written)
    assert report["discard"]["removed"] > 0


def test_mcfp_half_benign_and_every_malicious_alert_kept(small):
    data, result = small
    written = read_dataset(result.paths["data"])
    counts = written["incident"].value_counts()
    assert counts["benign"] == len(written) - counts["benign"]
    assert (counts["1"], counts["2"], counts["3"]) == (60, 35, 12)


def test_mcfp_incidents_inside_benign_window(small):
    data, result = small
    from lstm_rnn_correlation.formats import read_alerts

    benign = read_alerts([data["benign"]], "snort").records
    kept = benign.loc[~(benign["src_ip"].isin(data["infected"]) | benign["dst_ip"].isin(data["infected"]))]
    lo, hi = kept["timestamp"].min(), kept["timestamp"].max()
    written = read_dataset(result.paths["data"])
    parsed = parse_lines(written["alert"])
    malicious = (written["incident"] != "benign").to_numpy()
    times = pd.to_datetime(parsed.loc[malicious, "timestamp"])
    assert times.min() >= lo and times.max() <= hi
    # and the spread inside each incident is unchanged by the shift
    for k, n in zip(("1", "2", "3"), (60, 35, 12)):
        orig = read_alerts([data["config"].parent / f"incident{k}.log"], "snort").records["timestamp"]
        new = times[(written.loc[malicious, "incident"] == k).to_numpy()]
        assert new.max() - new.min() == orig.max() - orig.min()


def test_mcfp_no_original_victim_ip_left(small):
    data, result = small
    for key in ("data", "test"):
        text = result.paths[key].read_text()
        for victim in data["victims"]:
            assert victim not in IP_TOKEN.findall(text), (key, victim)
    written = read_dataset(result.paths["data"])
    parsed = parse_lines(written["alert"])
    benign_private = set(parsed.loc[(written["incident"] == "benign").to_numpy(), ["src_ip", "dst_ip"]]
                         .to_numpy().ravel())
    ip_map = result.tables["ip_map"]
    for row in ip_map.itertuples():
        assert ipaddress.ip_address(row.replacement_ip).is_private
        assert row.replacement_ip not in data["infected"]
        rows = parsed.loc[(written["incident"] == str(row.incident)).to_numpy()]
        assert ((rows["src_ip"] == row.replacement_ip) | (rows["dst_ip"] == row.replacement_ip)).all()
    assert benign_private & set(ip_map["replacement_ip"]), "replacements come from the benign hosts"


def test_mcfp_discarded_ips_are_gone_from_benign(small):
    data, result = small
    written = read_dataset(result.paths["data"])
    benign_text = "\n".join(written.loc[written["incident"] == "benign", "alert"])
    for ip in data["infected"]:
        assert ip not in IP_TOKEN.findall(benign_text)


def test_mcfp_cuts_balanced_and_test_file_capped(small):
    data, result = small
    written = read_dataset(result.paths["data"])
    assert_balanced_cuts(written)
    test = read_dataset(result.paths["test"])
    assert pd.crosstab(test["incident"], test["cut"]).to_numpy().max() <= 100
    assert set(map(tuple, test.to_numpy())) <= set(map(tuple, written.to_numpy()))


def test_mcfp_small_test_cap(tmp_path, small):
    data, _ = small
    result = pp.preprocess_mcfp(data["config"], tmp_path / "a.csv", seed=0, test_cap=2)
    test = read_dataset(result.paths["test"])
    assert pd.crosstab(test["incident"], test["cut"]).to_numpy().max() == 2
    per_cut = pd.crosstab(result.data["incident"].astype(str), result.data["cut"])
    assert len(test) == int(np.minimum(per_cut.to_numpy(), 2).sum())


def test_mcfp_same_seed_same_bytes_other_seed_other_bytes(tmp_path, small):
    data, first = small
    again = pp.preprocess_mcfp(data["config"], tmp_path / "again" / "alerts.csv", seed=0)
    for key in ("data", "test", "names", "discard_rules", "time_shift", "ip_map", "cuts", "report",
                "timespan_after"):
        assert first.paths[key].read_bytes() == again.paths[key].read_bytes(), key
    other = pp.preprocess_mcfp(data["config"], tmp_path / "other" / "alerts.csv", seed=1)
    assert other.paths["data"].read_bytes() != first.paths["data"].read_bytes()
    assert not other.tables["time_shift"]["offset"].equals(first.tables["time_shift"]["offset"])


def test_mcfp_benign_shortfall(tmp_path):
    data = make_mcfp(tmp_path / "d", n_benign=40, incident_sizes=(50, 20), incident_hours=(2, 2))
    kept = pp.preprocess_mcfp(data["config"], tmp_path / "keep.csv", seed=0)
    assert any("benign share" in w for w in kept.report["warnings"])
    n_benign = (kept.data["incident"] == pp.BENIGN).sum()
    assert len(kept.data) - n_benign == 70 and 0 < n_benign < 40 + 1
    down = pp.preprocess_mcfp(data["config"], tmp_path / "down.csv", seed=0,
                              benign_shortfall="downsample-malicious")
    counts = down.data["incident"].astype(str).value_counts()
    assert counts["benign"] * 2 == len(down.data)
    with pytest.raises(UserError, match="benign alerts for 70 malicious"):
        pp.preprocess_mcfp(data["config"], tmp_path / "err.csv", seed=0, benign_shortfall="error")
    assert not (tmp_path / "err.csv").exists()


def test_mcfp_incident_longer_than_benign_stops_before_writing(tmp_path):
    data = make_mcfp(tmp_path / "d", n_benign=50, benign_hours=1, incident_sizes=(30,), incident_hours=(5,))
    out = tmp_path / "alerts.csv"
    out.write_text("incident,alert,cut\n")
    with pytest.raises(UserError, match="longer than the benign recording"):
        pp.preprocess_mcfp(data["config"], out, seed=0)
    assert out.read_text() == "incident,alert,cut\n", "an earlier output survives a failed run"


# --------------------------------------------------------------------------- the bundled default data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def default_run(bundled_csv):
    """The repository's data_cfg.py and the data set the session built from it (conftest).

    The config is loaded with the data folder the session fixture generated; were that
    folder elsewhere, ensure_data() would generate the same bytes there (same seed).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LRC_DATA_DIR", str(bundled_csv.parent.parent / "data"))
        config = pp.load_data_config(REPO / "data_cfg.py")
    return config, bundled_csv


def test_default_data_invariants(default_run):
    from lstm_rnn_correlation.formats import read_alerts

    config, csv_path = default_run
    sources = pp.config_sources(config)
    year = sources["year"]
    written = read_dataset(csv_path)
    malicious = (written["incident"] != "benign").to_numpy()
    # every incident, every alert, half the data set benign
    counts = written["incident"].value_counts()
    assert set(counts.index) == {str(e["incident"]) for e in sources["incidents"]} | {"benign"}
    for entry in sources["incidents"]:
        n = len(read_alerts([entry["path"]], "snort", year=year).records)
        assert counts[str(entry["incident"])] == n
    assert counts["benign"] * 2 == len(written)
    # inside the benign recording's window (after discarding the infected hosts' alerts)
    benign = read_alerts([e["path"] for e in sources["benign"]], "snort", year=year).records
    listed = set(pp.read_ip_list(sources["discard"]))
    benign = benign.loc[~(benign["src_ip"].isin(listed) | benign["dst_ip"].isin(listed))]
    parsed = pd.DataFrame([parse_fast_line_year(line, year) for line in written["alert"]])
    times = pd.to_datetime(parsed["timestamp"])
    assert times[malicious].min() >= benign["timestamp"].min()
    assert times[malicious].max() <= benign["timestamp"].max()
    # no victim IP anywhere, no discarded host among the benign alerts
    text = csv_path.read_text() + csv_path.with_name(f"{csv_path.stem}_test.csv").read_text()
    tokens = set(IP_TOKEN.findall(text))
    assert not tokens & {e["victim_ip"] for e in sources["incidents"]}
    benign_tokens = set(parsed.loc[~malicious, ["src_ip", "dst_ip"]].to_numpy().ravel())
    assert not benign_tokens & listed
    assert_balanced_cuts(written)
    # merged lines look like the benign ones: same timestamp layout (no year)
    assert written["alert"].str.match(r"^\d\d/\d\d-\d\d:").all()


def parse_fast_line_year(line, year):
    from lstm_rnn_correlation.formats import parse_fast_line

    return parse_fast_line(line, year=year)


# --------------------------------------------------------------------------- CIC-IDS-2017

CIC_EXPECTED = {  # alert time -> label, worked out by hand from cic_incidents.csv
    "13:00:00.000000": "benign",   # outside every window
    "13:52:00.000000": "3",        # Infiltration only
    "14:00:00.000000": "1",        # PortScan and Infiltration: the first row wins
    "14:01:00.000000": "1",        # NAT IP as source, victim matches
    "14:02:00.000000": "benign",   # only the NAT IP would match: ignored
    "14:05:00.000000": "1",        # ICMP, no ports
    "14:10:00.000000": "benign",
    "14:35:00.000000": "1",        # stop is inclusive
    "14:35:00.000001": "benign",   # one microsecond later
    "16:00:00.000000": "2",        # victim as source, attacker as destination
    "16:01:00.000000": "2",        # victim matches, NAT IP does not matter
    "16:20:00.000000": "benign",
    "17:05:00.000000": "1",        # second PortScan row, same incident id
    "17:06:00.000000": "1",        # attacker of that row
    "17:30:00.000000": "benign", "17:31:00.000000": "benign", "17:32:00.000000": "benign",
}


def _cic(tmp_path, **kwargs):
    return pp.preprocess_cic_ids_2017([FIXTURES / "cic_alerts.log"], FIXTURES / "cic_incidents.csv",
                                      tmp_path / "cic.csv", **kwargs)


def test_cic_labels_by_interval_and_ip_ignoring_nat(tmp_path):
    result = _cic(tmp_path, nat_ips=pp.read_ip_list([FIXTURES / "cic_nat_ips.txt"]),
                  cap_per_incident=None, benign_total=100)
    written = read_dataset(result.paths["data"])
    got = {line[9:24]: inc for line, inc in zip(written["alert"], written["incident"])}
    assert got == CIC_EXPECTED
    names = pd.read_csv(result.paths["names"], dtype=str).set_index("incident")["name"].to_dict()
    assert names == {"1": "PortScan", "2": "DDoS LOIT", "3": "Infiltration", "benign": "benign"}
    labels = result.tables["labels"]
    assert labels["alerts_matched"].tolist() == [4, 2, 2, 2]
    assert labels["alerts_labelled"].tolist() == [4, 2, 1, 2]


def test_cic_nat_ip_decides_when_not_ignored(tmp_path):
    result = _cic(tmp_path, cap_per_incident=None, benign_total=100)
    got = {line[9:24]: inc for line, inc in zip(result.data["alert"], result.data["incident"].astype(str))}
    assert got["14:02:00.000000"] == "1"


def test_cic_cap_and_benign_total(tmp_path):
    nat = pp.read_ip_list([FIXTURES / "cic_nat_ips.txt"])
    result = _cic(tmp_path, nat_ips=nat, cap_per_incident=2, benign_total=3, seed=5)
    counts = result.data["incident"].astype(str).value_counts().to_dict()
    assert counts == {"1": 2, "2": 2, "3": 1, "benign": 3}
    default = _cic(tmp_path / "d", nat_ips=nat, cap_per_incident=2)
    counts = default.data["incident"].astype(str).value_counts().to_dict()
    assert counts["benign"] == 5  # default benign total: as many as malicious


def test_cic_same_seed_same_bytes(tmp_path):
    a = _cic(tmp_path / "a", cap_per_incident=3, benign_total=4, seed=9)
    b = _cic(tmp_path / "b", cap_per_incident=3, benign_total=4, seed=9)
    c = _cic(tmp_path / "c", cap_per_incident=3, benign_total=4, seed=10)
    assert a.paths["data"].read_bytes() == b.paths["data"].read_bytes()
    assert a.paths["data"].read_bytes() != c.paths["data"].read_bytes()


@pytest.mark.parametrize("row, message", [
    ("PortScan,205.174.165.73,192.168.10.500,2017-07-07 13:55,2017-07-07 14:35", "victim: not an IP address"),
    ("PortScan,205.174.165.73,192.168.10.50,yesterday,2017-07-07 14:35", "start: cannot read a time"),
    ("PortScan,205.174.165.73,192.168.10.50,2017-07-07 14:35,2017-07-07 13:55", "stop 2017-07-07 13:55:00 is before"),
    ("PortScan,205.174.165.73,192.168.10.50,2017-07-07 13:55", "4 fields, the header has 5"),
])
def test_bad_incident_description_names_file_and_line(tmp_path, row, message):
    path = write_lines(tmp_path / "inc.csv", ["label,attacker,victim,start,stop",
                                              "DoS,1.2.3.4,5.6.7.8,2017-07-07 10:00,2017-07-07 11:00", row])
    with pytest.raises(UserError, match=re.escape(f"{path}:3: ") + ".*" + re.escape(message)):
        pp.read_incident_descriptions(path)


def test_incident_descriptions_need_their_columns(tmp_path):
    path = write_lines(tmp_path / "inc.csv", ["label,attacker,start,stop"])
    with pytest.raises(UserError, match="no 'victim' column"):
        pp.read_incident_descriptions(path)


# --------------------------------------------------------------------------- AIT-ADS


@pytest.mark.shared_data
@pytest.mark.skipif(not AIT_FILE.is_file(), reason=f"AIT-ADS file absent: {AIT_FILE}")
def test_ait_ads_import_of_the_real_scenario(tmp_path):
    result = pp.preprocess_ait_ads([AIT_FILE], tmp_path / "ait.csv", seed=0)
    written = read_dataset(result.paths["data"])
    assert 1500 <= len(written) <= 2000
    names = pd.read_csv(result.paths["names"], dtype=str).set_index("incident")["name"].to_dict()
    # phases numbered in the order they start (facts of the scenario, see shared/data/README.md)
    assert [names[str(i)] for i in range(1, 11)] == [
        "network_scans", "service_scans", "dirb", "wpscan", "webshell", "cracking", "reverse_shell",
        "privilege_escalation", "service_stop", "dnsteal"]
    counts = written["incident"].value_counts()
    small = {"network_scans": 8, "webshell": 5, "cracking": 14, "reverse_shell": 3,
             "privilege_escalation": 24, "service_stop": 2}
    by_name = {names[k]: int(v) for k, v in counts.items()}
    for name, n in small.items():
        assert by_name[name] == n, name  # small phases keep every alert
    for name in ("service_scans", "dirb", "wpscan", "dnsteal"):
        assert by_name[name] == pp.CAP_PER_INCIDENT
    assert by_name["benign"] == pp.AIT_BENIGN_TOTAL
    assert_balanced_cuts(written)
    assert written["alert"].str.len().min() > 10
    # benign alerts come from the attacks' time window, so the date gives nothing away
    kept = result.records
    attack = kept.loc[kept["incident"] != "benign", "timestamp"]
    benign = kept.loc[kept["incident"] == "benign", "timestamp"]
    assert attack.min() <= benign.min() and benign.max() <= attack.max()
    assert result.report["false_positives_in_window"] < result.report["false_positives_before"]


@pytest.mark.shared_data
@pytest.mark.skipif(not AIT_FILE.is_file(), reason=f"AIT-ADS file absent: {AIT_FILE}")
def test_ait_ads_benign_window_all_samples_the_whole_recording(tmp_path):
    result = pp.preprocess_ait_ads([AIT_FILE], tmp_path / "ait.csv", seed=0, benign_window="all")
    kept = result.records
    attack = kept.loc[kept["incident"] != "benign", "timestamp"]
    benign = kept.loc[kept["incident"] == "benign", "timestamp"]
    assert benign.min() < attack.min()  # false positives from the days before the attack
    with pytest.raises(UserError, match="benign window"):
        pp.preprocess_ait_ads([AIT_FILE], tmp_path / "x.csv", benign_window="today")


# --------------------------------------------------------------------------- CLI


def test_cli_preprocess_mcfp(tmp_path, small, capsys):
    data, _ = small
    out = tmp_path / "x" / "alerts.csv"
    assert main(["preprocess", "--config", str(data["config"]), "--out", str(out), "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed
    assert out.is_file() and (tmp_path / "x" / "alerts_test.csv").is_file()
    assert (tmp_path / "x" / "alerts_report" / "timespan_after.png").is_file()
    direct = pp.preprocess_mcfp(data["config"], tmp_path / "y" / "alerts.csv", seed=3)
    assert out.read_bytes() == direct.paths["data"].read_bytes()


def test_cli_report_dir_and_test_out_and_quiet(tmp_path, small, capsys):
    data, _ = small
    args = ["preprocess", "--config", str(data["config"]), "--out", str(tmp_path / "a.csv"),
            "--test-out", str(tmp_path / "t" / "small.csv"), "--report-dir", str(tmp_path / "rep"), "--quiet"]
    assert main(args) == 0
    assert capsys.readouterr().out == ""
    assert (tmp_path / "t" / "small.csv").is_file() and (tmp_path / "rep" / "report.json").is_file()


def test_cli_cic_recipe(tmp_path, capsys):
    out = tmp_path / "cic.csv"
    code = main(["preprocess", "--recipe", "cic-ids-2017", "--input", str(FIXTURES / "cic_alerts.log"),
                 "--incidents-csv", str(FIXTURES / "cic_incidents.csv"),
                 "--nat-ips", str(FIXTURES / "cic_nat_ips.txt"), "--benign-total", "100",
                 "--cap-per-incident", "0", "--out", str(out), "--quiet"])
    assert code == 0
    written = read_dataset(out)
    assert {line[9:24]: inc for line, inc in zip(written["alert"], written["incident"])} == CIC_EXPECTED


def test_cli_default_config_is_data_cfg_in_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["preprocess", "--out", "alerts.csv"]) == 2
    assert "data_cfg.py does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--recipe", "cic-ids-2017", "--input", "a.log"], "needs --incidents-csv"),
    (["--recipe", "ait-ads"], "needs AIT-ADS alert CSV files"),
    (["--input", "a.log"], "takes its files from --config"),
    (["--nat-ips", "10.0.0.300", "--recipe", "cic-ids-2017", "--input", "a.log", "--incidents-csv", "x.csv"],
     "neither an IP address nor an existing file"),
    (["--seed", "-1"], "seed must be a non-negative integer"),
])
def test_cli_bad_arguments(tmp_path, monkeypatch, capsys, extra, message, small):
    data, _ = small
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.csv").write_text("label,attacker,victim,start,stop\nA,1.1.1.1,2.2.2.2,2017-01-01,2017-01-02\n")
    code = main(["preprocess", "--config", str(data["config"]), "--out", "o.csv", *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_bad_alert_line_names_file_and_line(tmp_path, capsys):
    data = make_mcfp(tmp_path / "d", n_benign=30, incident_sizes=(6,), incident_hours=(1,))
    log = data["config"].parent / "incident1.log"
    lines = log.read_text().splitlines()
    lines[3] = "this is not a snort alert"
    log.write_text("\n".join(lines) + "\n")
    code = main(["preprocess", "--config", str(data["config"]), "--out", str(tmp_path / "o.csv"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{log}:4" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_merged_incidents_take_the_benign_timestamp_layout(tmp_path):
    data = make_mcfp(tmp_path / "d", n_benign=60, incident_sizes=(9,), incident_hours=(1,))
    benign = data["benign"]
    # the benign recording without years (Snort's default), the capture with them (snort -y)
    benign.write_text("".join(line[:5] + line[8:] + "\n" for line in benign.read_text().splitlines()))
    cfg = data["config"]
    cfg.write_text(cfg.read_text() + "YEAR = 2017\n")
    result = pp.preprocess_mcfp(cfg, tmp_path / "a.csv", seed=0)
    assert result.data["alert"].str.match(r"^\d\d/\d\d-\d\d:").all()

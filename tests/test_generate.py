"""The bundled default data: synthetic Snort logs shaped like the original MCFP + benign data."""

from __future__ import annotations

import collections
import importlib.util
import ipaddress
import json
import re
from pathlib import Path

import pytest

from lstm_rnn_correlation import cli, generate
from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.signatures import CLASSTYPES, SIGNATURES

REPO = Path(__file__).resolve().parents[1]

FAST = re.compile(
    r"^(?P<mon>\d\d)/(?P<day>\d\d)-(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)\.(?P<us>\d{6})  "
    r"\[\*\*\] \[(?P<gid>\d+):(?P<sid>\d+):(?P<rev>\d+)\] (?P<msg>\S.*?) \[\*\*\] "
    r"\[Classification: (?P<cls>[^\]]+)\] \[Priority: (?P<prio>[1-4])\] "
    r"\{(?P<proto>TCP|UDP|ICMP)\} (?P<src>\S+) -> (?P<dst>\S+)$")


class Alert:
    """A generated line, split with a strict pattern of our own (independent of formats.py)."""

    def __init__(self, line: str):
        match = FAST.match(line)
        assert match, f"not a Snort fast line: {line!r}"
        self.line = line
        g = match.groupdict()
        self.stamp = (int(g["mon"]), int(g["day"]), int(g["h"]), int(g["m"]), int(g["s"]), int(g["us"]))
        self.rule = (int(g["gid"]), int(g["sid"]))
        self.rev = int(g["rev"])
        self.msg, self.cls, self.prio, self.proto = g["msg"], g["cls"], int(g["prio"]), g["proto"]
        self.src, self.sport = self._endpoint(g["src"])
        self.dst, self.dport = self._endpoint(g["dst"])

    def _endpoint(self, text):
        if self.proto == "ICMP":
            return str(ipaddress.IPv4Address(text)), None
        ip, port = text.rsplit(":", 1)
        return str(ipaddress.IPv4Address(ip)), int(port)

    @property
    def ips(self):
        return {self.src, self.dst}


def read_alerts(path: Path) -> list[Alert]:
    text = path.read_text(encoding="ascii")
    assert text.endswith("\n")
    return [Alert(line) for line in text.splitlines()]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    manifest = generate.generate_dataset(out, seed=0)
    incidents = {e["incident"]: read_alerts(out / e["file"]) for e in manifest["incidents"]}
    benign = read_alerts(out / manifest["benign"][0]["file"])
    discard = {d["name"]: [ln.strip() for ln in (out / d["file"]).read_text().splitlines()
                           if ln.strip() and not ln.startswith("#")] for d in manifest["discard"]}
    return out, manifest, incidents, benign, discard


def duration(alerts: list[Alert]) -> float:
    import datetime as dt

    def t(a):
        mon, day, h, m, s, us = a.stamp
        return dt.datetime(generate.CALENDAR_YEAR, mon, day, h, m, s, us)

    return (t(alerts[-1]) - t(alerts[0])).total_seconds()


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(dataset, tmp_path):
    out, manifest, *_ = dataset
    again = generate.generate_dataset(tmp_path / "again", seed=0)
    assert snapshot(tmp_path / "again") == snapshot(out)
    assert again == manifest
    generate.generate_dataset(tmp_path / "other", seed=1)
    other = snapshot(tmp_path / "other")
    assert set(other) == set(snapshot(out))
    assert other["benign/benign.log"] != snapshot(out)["benign/benign.log"]


def test_written_files_are_exactly_the_manifest_ones(dataset):
    out, manifest, *_ = dataset
    listed = ({e["file"] for e in manifest["incidents"]} | {b["file"] for b in manifest["benign"]}
              | {d["file"] for d in manifest["discard"]} | {"manifest.json"})
    assert set(snapshot(out)) == listed
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert not [p for p in out.rglob("*.tmp")]


# --------------------------------------------------------------------------- incidents


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_incident_sizes_spread_like_the_original(seed):
    _, manifest = generate.build_dataset(seed)
    sizes = [e["alerts"] for e in manifest["incidents"]]
    assert len(sizes) == generate.DEFAULT_INCIDENTS == 7
    assert all(90 <= n <= 460 for n in sizes), sizes
    assert min(sizes) <= 130 and max(sizes) >= 400, sizes
    assert len(set(sizes)) == len(sizes)
    assert [e["incident"] for e in manifest["incidents"]] == list(range(1, 8))


def test_every_incident_alert_involves_its_one_victim(dataset):
    out, manifest, incidents, benign, _ = dataset
    victims = [e["victim_ip"] for e in manifest["incidents"]]
    assert len(set(victims)) == len(victims)
    for entry in manifest["incidents"]:
        alerts = incidents[entry["incident"]]
        assert len(alerts) == entry["alerts"]
        victim = entry["victim_ip"]
        assert ipaddress.ip_address(victim).is_global  # a public address, as in the MCFP captures
        assert all(victim in a.ips for a in alerts), entry["name"]
        # no other incident's victim shows up, and the victim never shows up in the benign log
        others = set(victims) - {victim}
        assert not any(a.ips & others for a in alerts)
    benign_ips = set().union(*(a.ips for a in benign))
    assert not benign_ips & set(victims)


def test_incidents_have_their_own_time_spans(dataset):
    _, manifest, incidents, benign, _ = dataset
    spans = [duration(incidents[i]) for i in sorted(incidents)]
    days = {(a.stamp[0], a.stamp[1]) for alerts in incidents.values() for a in alerts[:1]}
    assert len(set(spans)) == len(spans)
    assert max(spans) / min(spans) > 20, spans  # some captures last minutes, others days
    assert min(spans) < 2 * 3600 and max(spans) > 24 * 3600, spans
    assert len(days) >= 5  # captures recorded on different days
    assert max(spans) < duration(benign)  # every incident fits in the benign window
    for entry in manifest["incidents"]:
        assert entry["span_seconds"] == pytest.approx(duration(incidents[entry["incident"]]), abs=1e-6)


def test_each_incident_mixes_signature_families_with_temporal_structure(dataset):
    _, _, incidents, _, _ = dataset
    by_rule = {(s.gid, s.sid): s for s in SIGNATURES.values()}
    all_families = set()
    for alerts in incidents.values():
        families = collections.Counter(by_rule[a.rule].family for a in alerts)
        all_families |= set(families)
        assert len(families) >= 3, families
        assert families["anomaly"] > 0
        assert families["cnc"] + families["exploit"] + families["scan"] > 0
        remotes = set().union(*(a.ips for a in alerts))
        assert len(remotes) >= 5  # talks to several remote peers
    assert {"cnc", "scan", "spam", "dns", "exploit", "anomaly"} <= all_families


def test_beacons_are_periodic_and_scans_come_in_bursts(dataset):
    _, manifest, incidents, _, _ = dataset
    import statistics

    def seconds(a):
        mon, day, h, m, s, us = a.stamp
        return ((mon * 31 + day) * 24 + h) * 3600 + m * 60 + s + us / 1e6

    irc = next(e["incident"] for e in manifest["incidents"] if e["behaviour"] == "irc-botnet")
    pings = [seconds(a) for a in incidents[irc] if a.msg in ("ET CHAT IRC PING command", "ET CHAT IRC PRIVMSG command")]
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert statistics.pstdev(gaps) < 0.25 * statistics.mean(gaps)  # regular check-ins
    worm = next(e["incident"] for e in manifest["incidents"] if e["behaviour"] == "worm-scanner")
    scans = [seconds(a) for a in incidents[worm] if a.msg.startswith("ET SCAN Behavioral")]
    gaps = sorted(b - a for a, b in zip(scans, scans[1:]))
    assert gaps[len(gaps) // 2] < 5  # most scan alerts within seconds of the previous one


# --------------------------------------------------------------------------- benign and discard lists


def test_benign_is_larger_private_and_shares_signatures_with_incidents(dataset):
    _, manifest, incidents, benign, discard = dataset
    total = sum(e["alerts"] for e in manifest["incidents"])
    assert len(benign) >= 4 * total
    assert all(any(ipaddress.ip_address(ip).is_private for ip in a.ips) for a in benign)
    internal = {ip for a in benign for ip in a.ips if ipaddress.ip_address(ip).is_private}
    assert len(internal) >= 10
    assert any(ip.startswith("192.168.") for ip in internal) and any(ip.startswith("10.") for ip in internal)
    listed = set().union(*discard.values())
    kept = [a for a in benign if not a.ips & listed]
    shared = {a.rule for a in kept} & {a.rule for alerts in incidents.values() for a in alerts}
    by_rule = {(s.gid, s.sid): s for s in SIGNATURES.values()}
    families = {by_rule[r].family for r in shared}
    assert {"anomaly", "dns", "policy", "scan"} <= families, families
    assert {gid for gid, _ in shared} >= {1, 119, 120, 129}
    assert len(shared) >= 20


def test_discard_lists_hide_true_alerts_in_the_benign_recording(dataset):
    _, manifest, incidents, benign, discard = dataset
    assert set(discard) == {"commercial", "manual"}
    for name, ips in discard.items():
        assert ips, name
        for ip in ips:
            assert any(ip in a.ips for a in benign), f"{name}: {ip} not in the benign log"
            assert not any(ip in a.ips for alerts in incidents.values() for a in alerts)
    listed = set().union(*discard.values())
    touched = [a for a in benign if a.ips & listed]
    kept = [a for a in benign if not a.ips & listed]
    assert manifest["benign"][0]["hidden_true_alerts"] <= len(touched) < 0.15 * len(benign)

    def trojan_share(alerts):
        return sum(a.cls == "A Network Trojan was detected" for a in alerts) / len(alerts)

    # discarding changes the priority distribution: the hidden alerts are the trojan ones
    assert trojan_share(touched) > 5 * trojan_share(kept)
    assert {d["name"]: d["ips"] for d in manifest["discard"]} == discard


# --------------------------------------------------------------------------- line format


def test_every_line_is_a_well_formed_snort_fast_alert(dataset):
    out, manifest, incidents, benign, _ = dataset
    known = {(s.gid, s.sid): s for s in SIGNATURES.values()}
    for alerts in [*incidents.values(), benign]:
        stamps = [a.stamp for a in alerts]
        assert stamps == sorted(stamps)  # Snort writes in packet order
        for a in alerts:
            sig = known[a.rule]
            assert (a.rev, a.msg, a.proto) == (sig.rev, sig.msg, sig.protocol)
            assert (a.cls, a.prio) == CLASSTYPES[sig.classtype]
            assert (a.stamp[0], a.stamp[1]) != (2, 29)
            if a.proto == "ICMP":
                assert a.sport is None and a.dport is None
            else:
                assert 1 <= a.sport <= 65535 and 1 <= a.dport <= 65535
            assert a.line.isascii() and "\t" not in a.line
    for entry in manifest["incidents"] + manifest["benign"]:
        lines = (out / entry["file"]).read_text().splitlines()
        assert lines[0].startswith(entry["first"] + "  [**]") and lines[-1].startswith(entry["last"] + "  [**]")


def test_signature_catalogue_is_consistent():
    assert len(SIGNATURES) >= 80
    for key, sig in SIGNATURES.items():
        assert sig.key == key
        assert sig.gid in (1, 119, 120, 129)
        if sig.gid == 1:
            assert re.match(r"^(ET|GPL) [A-Z0-9_]+ ", sig.msg), sig.msg
            assert 2000000 <= sig.sid < 2800000
        elif sig.gid in (119, 120):
            assert sig.msg.startswith("(http_inspect) ")
        assert sig.msg == sig.msg.strip() and "[" not in sig.msg
        assert sig.rule_id == f"{sig.gid}:{sig.sid}:{sig.rev}"
    # spot checks against the published rules
    assert SIGNATURES["hi_srv_no_contlen"].rule_id == "120:3:1"
    assert (SIGNATURES["hi_srv_no_contlen"].classification, SIGNATURES["hi_srv_no_contlen"].priority) == \
        ("Unknown Traffic", 3)
    assert (SIGNATURES["s5_small_segment"].classification, SIGNATURES["s5_small_segment"].priority) == \
        ("Potentially Bad Traffic", 2)


def test_formats_parser_reads_every_generated_line(dataset):
    formats = pytest.importorskip("lstm_rnn_correlation.formats")
    if not hasattr(formats, "parse_fast_line") or not hasattr(formats, "read_alerts"):
        pytest.skip("lstm_rnn_correlation.formats has no parse_fast_line/read_alerts yet")
    out, manifest, incidents, benign, _ = dataset
    files = [(e["file"], incidents[e["incident"]]) for e in manifest["incidents"]]
    files.append((manifest["benign"][0]["file"], benign))
    for rel, alerts in files:
        # every line, the way preprocessing reads them
        result = formats.read_alerts(out / rel, "snort", year=generate.CALENDAR_YEAR)
        records = result.records
        assert len(records) == len(alerts)
        assert list(records["src_ip"]) == [a.src for a in alerts]
        assert list(records["dst_ip"]) == [a.dst for a in alerts]
        assert list(records["priority"]) == [a.prio for a in alerts]
        assert list(records["sid"]) == [a.rule[1] for a in alerts]
        assert formats.build_alert_lines(records) == [a.line for a in alerts]  # exact round trip
        # and one line per signature through the single-line parser and builder
        for a in {a.rule: a for a in alerts}.values():
            record = formats.parse_fast_line(a.line, year=generate.CALENDAR_YEAR)
            assert (record["gid"], record["sid"], record["message"]) == (*a.rule, a.msg)
            assert formats.build_fast_line(record) == a.line


# --------------------------------------------------------------------------- other sizes


@pytest.mark.parametrize("n", [1, 12])
def test_other_incident_counts(n):
    files, manifest = generate.build_dataset(seed=3, n_incidents=n)
    assert [e["incident"] for e in manifest["incidents"]] == list(range(1, n + 1))
    names = [e["name"] for e in manifest["incidents"]]
    victims = [e["victim_ip"] for e in manifest["incidents"]]
    assert len(set(names)) == n and len(set(victims)) == n
    assert victims == [generate.victim_ip(i) for i in range(1, n + 1)]
    for e in manifest["incidents"]:
        alerts = [Alert(line) for line in files[e["file"]].splitlines()]
        assert len(alerts) == e["alerts"] and all(e["victim_ip"] in a.ips for a in alerts)


def test_names_and_victims_do_not_depend_on_the_seed():
    plans = [[(e["incident"], e["name"], e["file"], e["victim_ip"]) for e in generate.build_dataset(s)[1]["incidents"]]
             for s in (0, 99)]
    assert plans[0] == plans[1]


# --------------------------------------------------------------------------- command line


def test_cli_generate_writes_the_data_and_a_summary(tmp_path, capsys):
    out = tmp_path / "data"
    assert cli.main(["generate", "--out", str(out), "--seed", "4", "--incidents", "3"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and len(manifest["incidents"]) == 3
    assert snapshot(out) == snapshot(_generated(tmp_path / "api", seed=4, n=3))
    for e in manifest["incidents"]:
        assert e["victim_ip"] in printed and e["file"] in printed
    assert "benign" in printed and "manifest.json" in printed


def _generated(folder, seed, n):
    generate.generate_dataset(folder, seed=seed, n_incidents=n)
    return folder


def test_cli_quiet_prints_nothing(tmp_path, capsys):
    assert cli.main(["generate", "--out", str(tmp_path / "d"), "--incidents", "2", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert (tmp_path / "d" / "manifest.json").is_file()


def test_cli_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--seed", "--incidents", "--quiet"):
        assert option in text


@pytest.mark.parametrize("args, message", [
    (["--incidents", "0"], "between 1 and 50"),
    (["--incidents", "51"], "between 1 and 50"),
    (["--seed", "-1"], "non-negative"),
])
def test_cli_bad_values_give_one_clear_error(tmp_path, capsys, args, message):
    out = tmp_path / "d"
    assert cli.main(["generate", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()  # nothing half-written


def test_cli_non_integer_and_missing_out_are_usage_errors(tmp_path, capsys):
    for argv in (["generate", "--out", str(tmp_path), "--incidents", "many"], ["generate"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_out_that_is_a_file_is_refused_and_kept(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("keep me\n")
    assert cli.main(["generate", "--out", str(target)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep me\n"


def test_api_rejects_bad_arguments(tmp_path):
    with pytest.raises(UserError):
        generate.generate_dataset(tmp_path, n_incidents=0)
    with pytest.raises(UserError):
        generate.generate_dataset(tmp_path, seed=1.5)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- data_cfg.py


def load_data_cfg(monkeypatch, data_dir: Path):
    monkeypatch.setenv("LRC_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location("data_cfg_under_test", REPO / "data_cfg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_cfg_lists_exactly_what_the_generator_writes(dataset, monkeypatch, tmp_path):
    _, manifest, *_ = dataset
    cfg = load_data_cfg(monkeypatch, tmp_path)
    assert cfg.DATA_DIR == tmp_path
    assert cfg.GENERATOR_SEED == manifest["seed"] == 0
    assert cfg.FORMAT == "snort"
    listed = [(e["incident"], e["name"], Path(e["path"]).relative_to(tmp_path).as_posix(), e["victim_ip"])
              for e in cfg.INCIDENTS]
    written = [(e["incident"], e["name"], e["file"], e["victim_ip"]) for e in manifest["incidents"]]
    assert listed == written
    assert [(b["name"], Path(b["path"]).relative_to(tmp_path).as_posix()) for b in cfg.BENIGN] == \
        [(b["name"], b["file"]) for b in manifest["benign"]]
    assert [Path(p).relative_to(tmp_path).as_posix() for p in cfg.DISCARD_IP_LISTS] == \
        [d["file"] for d in manifest["discard"]]


def test_data_cfg_defaults_to_data_generated_in_the_repository(monkeypatch):
    monkeypatch.delenv("LRC_DATA_DIR", raising=False)
    spec = importlib.util.spec_from_file_location("data_cfg_default", REPO / "data_cfg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DATA_DIR == REPO / "data" / "generated"
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert "data/generated/" in ignored


def test_ensure_data_generates_on_first_use_only(dataset, monkeypatch, tmp_path):
    out, *_ = dataset
    cfg = load_data_cfg(monkeypatch, tmp_path / "gen")
    assert cfg.ensure_data() == tmp_path / "gen"
    assert snapshot(tmp_path / "gen") == snapshot(out)  # the default seed's data
    manifest_file = tmp_path / "gen" / "manifest.json"
    stamp = manifest_file.stat().st_mtime_ns
    cfg.ensure_data()
    assert manifest_file.stat().st_mtime_ns == stamp  # present: not rewritten
    Path(cfg.INCIDENTS[2]["path"]).unlink()
    cfg.ensure_data()
    assert snapshot(tmp_path / "gen") == snapshot(out)  # missing file: written again


def test_ensure_data_replaces_data_of_another_seed(dataset, monkeypatch, tmp_path):
    out, *_ = dataset
    generate.generate_dataset(tmp_path / "gen", seed=5)
    cfg = load_data_cfg(monkeypatch, tmp_path / "gen")
    cfg.ensure_data()
    assert snapshot(tmp_path / "gen") == snapshot(out)


def test_ensure_data_never_overwrites_files_it_did_not_write(monkeypatch, tmp_path):
    own = tmp_path / "mine" / "benign" / "benign.log"
    own.parent.mkdir(parents=True)
    own.write_text("my own recording\n")
    cfg = load_data_cfg(monkeypatch, tmp_path / "mine")
    with pytest.raises(UserError, match="did not write"):
        cfg.ensure_data()
    assert own.read_text() == "my own recording\n"
    assert not (tmp_path / "mine" / "incidents").exists()


def test_ensure_data_reports_missing_files_outside_the_data_folder(monkeypatch, tmp_path):
    cfg = load_data_cfg(monkeypatch, tmp_path / "gen")
    cfg.INCIDENTS[0] = dict(cfg.INCIDENTS[0], path=tmp_path / "elsewhere" / "capture.log")
    with pytest.raises(UserError, match="capture.log"):
        cfg.ensure_data()
    assert not (tmp_path / "gen").exists()

"""Write the bundled default data set: synthetic Snort alert logs shaped like the original's.

The original study ran Snort over public malware captures of the CTU Malware Capture Facility
Project (MCFP), one capture per incident with one known victim address, plus a private
recording of a benign network, plus lists of addresses known (from other sources) to be
infected, which hide a few true alerts in the benign recording.  That data cannot ship, so
this module writes the same kind of files::

    DIR/incidents/capture-NN-<behaviour>.log   one Snort fast log per incident
    DIR/benign/benign.log                      the benign recording (with hidden true alerts)
    DIR/discard/commercial-discard-ips.txt     infected hosts reported by a "commercial" service
    DIR/discard/manual-discard-ips.txt         addresses found by "manual" inspection
    DIR/manifest.json                          what was written, with the seed

Lines are Snort 2 fast alerts without a year (Snort's default)::

    MM/DD-HH:MM:SS.ffffff  [**] [gid:sid:rev] msg [**] [Classification: c] [Priority: p] {PROTO} src:port -> dst:port

Signatures (ids, texts, classifications, priorities) are real; see
:mod:`lstm_rnn_correlation.signatures`.  Everything else (addresses, times, ports) is drawn
from a seeded random generator, so one seed always gives byte-identical files.

Each incident follows a *behaviour* (a mix of activities: command-and-control beacons,
scanning bursts, spam, DNS, exploit downloads, protocol anomalies that follow the malware's
own connections), with its own victim, its own capture day and its own time span.  Incident
``i`` always gets the same name, behaviour and victim address whatever the seed, so that
``data_cfg.py`` lists stay valid; the seed changes sizes, times, peers and ports.  The benign
recording is about five times the incident total, on a private network, and shares many
signatures with the incidents (protocol anomalies, DNS errors, policy alerts, inbound scans).

Command line: ``lstm-rnn-correlation generate --out DIR [--seed N] [--incidents 7] [--quiet]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.fileio import write_text_atomic
from lstm_rnn_correlation.signatures import SIGNATURES, Signature

#: Bump when the same seed would give different files.
GENERATOR_VERSION = 1
DEFAULT_SEED = 0
DEFAULT_INCIDENTS = 7
MAX_INCIDENTS = 50
#: Calendar used to lay out the (year-less) timestamps; a non-leap year, so 02/29 never occurs.
CALENDAR_YEAR = 2015
#: Alert size range of the incidents, as in the original (100 to 444 alerts).
INCIDENT_SIZE_RANGE = (100, 445)
#: Benign alerts per incident alert (before the hidden true alerts are added).
BENIGN_FACTOR = 5.0
#: Share of the benign recording that is hidden true alerts (touching a discard-listed address).
HIDDEN_SHARE = 0.03

INCIDENTS_DIR = "incidents"
BENIGN_FILE = "benign/benign.log"
DISCARD_FILES = {
    "commercial": "discard/commercial-discard-ips.txt",
    "manual": "discard/manual-discard-ips.txt",
}
MANIFEST = "manifest.json"

#: Victims of the first incidents: the infected hosts of the public CTU-13 captures (the
#: original's data_cfg named 147.32.84.165).  Further incidents get other 147.32.84.x hosts.
_CTU_VICTIMS = (
    "147.32.84.165", "147.32.84.191", "147.32.84.192", "147.32.84.193", "147.32.84.204",
    "147.32.84.205", "147.32.84.206", "147.32.84.207", "147.32.84.208", "147.32.84.209",
)

_US = 1_000_000  # microseconds per second
_HOUR = 3600 * _US
_DAY = 24 * _HOUR

# First octets that are ordinary unicast space on the Internet; addresses are further checked
# with ipaddress.is_global, and 147.32.0.0/16 (the victims' network) is never drawn.
_PUBLIC_FIRST_OCTETS = (
    5, 23, 24, 31, 37, 41, 46, 50, 62, 64, 66, 67, 69, 74, 77, 78, 79, 80, 81, 82, 83, 84, 85,
    86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 98, 103, 104, 107, 108, 109, 112, 113, 114,
    115, 116, 117, 118, 119, 121, 122, 123, 124, 125, 128, 130, 134, 141, 151, 158, 173, 174,
    176, 178, 183, 184, 185, 186, 188, 190, 193, 194, 195, 199, 201, 202, 205, 208, 209, 210,
    211, 212, 213, 216, 217, 218, 219, 220, 221, 222,
)


# --------------------------------------------------------------------------- behaviours


@dataclass(frozen=True)
class Activity:
    """One kind of alert-raising activity of an infected host.

    Parameters
    ----------
    signatures : ((signature key, weight), ...) drawn for each alert.
    share : share of the incident's alerts (shares are normalised per behaviour).
    timing : ``"beacon"`` (periodic check-ins), ``"bursts"`` (a few dense bursts),
        ``"spread"`` (uniform), ``"early"`` (bursts in the first tenth: infection stage) or
        ``"follow"`` (seconds after one of the host's own TCP connections, on the same
        addresses and ports: protocol anomalies of that connection).
    peer : remote side: ``"cnc"`` (the incident's few C&C servers), ``"fresh"`` (a new
        address each alert: scan targets), ``"web"``, ``"mx"`` (mail servers) or
        ``"resolver"``.  Ignored by ``"follow"``.
    direction : ``"out"`` (victim is the source) or ``"in"`` (victim is the destination).
    port : the remote service port; ``None`` takes the signature's, ``0`` one random high
        port per incident.
    anchor_ports : for ``"follow"``: service ports of the connections it may follow
        (``None``: any TCP connection).
    """

    signatures: tuple[tuple[str, float], ...]
    share: float
    timing: str
    peer: str = "web"
    direction: str = "out"
    port: int | None = None
    anchor_ports: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Behaviour:
    """What one infected host does during a capture.

    Parameters
    ----------
    slug : short name used in the incident's file name.
    description : one line for the manifest.
    span_hours : (low, high) of the capture's length.
    activities : the mix of activities.
    """

    slug: str
    description: str
    span_hours: tuple[float, float]
    activities: tuple[Activity, ...]


_HTTP = (80, 8080)
_A = Activity

BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("ek-dropper", "drive-by download via an exploit kit, then a dropper checking in", (0.3, 1.2), (
        _A((("nuclear_ek", 2), ("hex_unescape", 3), ("hex_script", 2), ("msf_charcode", 1)), .12, "early",
           "web", "in"),
        _A((("java17", 2), ("flash_m1", 2), ("pdf_embedded", 1)), .08, "early", "web", "out"),
        _A((("exe_html", 3), ("pe_download", 3), ("terse_exe", 2), ("magnitude_ek", 1)), .10, "early", "web", "in"),
        _A((("hi_srv_js_obfuscation", 3), ("hi_srv_js_excess_ws", 2), ("hi_srv_no_contlen", 3),
            ("hi_srv_decompr_failed", 1)), .18, "follow", direction="in", anchor_ports=_HTTP),
        _A((("miuref", 3), ("ua_windowsnt", 1)), .25, "beacon", "cnc", "out"),
        _A((("dns_tk", 2), ("dns_pw", 1)), .07, "spread", "resolver", "out"),
        _A((("dns_nxdomain", 1),), .05, "spread", "resolver", "in"),
        _A((("s5_bad_rst", 2), ("s5_small_segment", 1), ("s5_data_after_rst_rcvd", 1)), .15, "follow",
           direction="in"),
    )),
    Behaviour("worm-scanner", "network worm: SMB scanning and MS08-067 exploitation, ping sweeps", (0.5, 2.0), (
        _A((("scan_445", 6), ("scan_139", 2), ("scan_135", 1)), .45, "bursts", "fresh", "out"),
        _A((("ms08_067_15", 2), ("ms08_067_25", 1), ("eternalblue_m2", 1)), .12, "follow", direction="out",
           anchor_ports=(445,)),
        _A((("ping_windows", 3), ("ping_generic", 1)), .12, "bursts", "fresh", "out"),
        _A((("unreach_host", 1), ("unreach_port", 2)), .08, "bursts", "fresh", "in"),
        _A((("dns_numeric_in", 1),), .06, "spread", "resolver", "out"),
        _A((("loader_check", 2), ("ua_1space", 1)), .07, "beacon", "cnc", "out"),
        _A((("s5_window_slam", 1), ("s5_bad_rst", 2), ("s5_syn_on_est", 1)), .10, "follow", direction="out"),
    )),
    Behaviour("http-clickfraud", "click-fraud bot: HTTP check-ins and bursts of ad requests", (2.0, 8.0), (
        _A((("poweliks", 4), ("double_accept", 2)), .30, "beacon", "cnc", "out"),
        _A((("hi_srv_no_contlen", 4), ("hi_srv_invalid_statcode", 1), ("hi_srv_utf_norm_fail", 1)), .20,
           "follow", direction="in", anchor_ports=_HTTP),
        _A((("hi_cli_long_header", 2), ("hi_cli_non_rfc_char", 2), ("hi_cli_double_decode", 1)), .15, "bursts",
           "web", "out"),
        _A((("ipcheck_whatismyip", 1), ("ipcheck_ipinfo", 1)), .05, "spread", "web", "out"),
        _A((("dns_nxdomain", 1),), .10, "spread", "resolver", "in"),
        _A((("s5_small_segment", 2), ("s5_bad_timestamp", 1), ("s5_no_timestamp", 1)), .20, "follow",
           direction="in"),
    )),
    Behaviour("adware-p2p", "adware / potentially unwanted program with peer-to-peer traffic", (4.0, 12.0), (
        _A((("opencandy", 3), ("ua_launcher", 2), ("ua_1space", 2)), .25, "beacon", "cnc", "out"),
        _A((("bt_dht_ping", 1),), .12, "bursts", "fresh", "out", port=0),
        _A((("bt_dht_nodes", 1),), .08, "bursts", "fresh", "in", port=0),
        _A((("dns_pw", 1), ("dns_tk", 1)), .07, "spread", "resolver", "out"),
        _A((("pe_download", 2), ("exe_html", 1)), .06, "early", "web", "in"),
        _A((("hi_srv_no_contlen", 3), ("hi_srv_decompr_failed", 1)), .15, "follow", direction="in",
           anchor_ports=_HTTP),
        _A((("hi_cli_unknown_method", 1), ("hi_cli_oversize_dir", 1)), .07, "spread", "web", "out"),
        _A((("s5_data_on_closed", 1), ("s5_bad_rst", 2)), .10, "follow", direction="in"),
    )),
    Behaviour("spambot", "spam bot: bursts of mail rejected by block lists, HTTP C&C", (8.0, 24.0), (
        _A((("smtp_abuseat", 3), ("smtp_spamcop", 2), ("smtp_sorbs", 2), ("smtp_robtex", 1)), .35, "bursts",
           "mx", "in"),
        _A((("s5_small_segment", 2), ("s5_data_after_reset", 1), ("s5_bad_rst", 2)), .20, "follow",
           direction="out", anchor_ports=(25,)),
        _A((("post_php_ascii", 1),), .15, "beacon", "cnc", "out"),
        _A((("http_post_443", 1),), .05, "beacon", "cnc", "out"),
        _A((("dns_su", 1),), .10, "spread", "resolver", "out"),
        _A((("dns_nxdomain", 1),), .10, "spread", "resolver", "in"),
        _A((("hi_srv_no_contlen", 1),), .05, "follow", direction="in", anchor_ports=_HTTP),
    )),
    Behaviour("banking-trojan", "banking trojan: tracked C&C servers, encrypted check-ins, IP look-ups",
              (30.0, 80.0), (
        _A((("zeus_tracker", 3), ("post_php_ascii", 2)), .30, "beacon", "cnc", "out"),
        _A((("http_post_443", 1),), .08, "beacon", "cnc", "out"),
        _A((("ipcheck_ipify", 1), ("ipcheck_whatismyip", 1)), .04, "spread", "web", "out"),
        _A((("exe_html", 2), ("terse_exe", 1)), .05, "early", "web", "in"),
        _A((("hi_srv_no_contlen", 3), ("hi_srv_msg_size", 1), ("hi_srv_invalid_statcode", 1)), .18, "follow",
           direction="in", anchor_ports=_HTTP),
        _A((("dns_su", 1),), .05, "spread", "resolver", "out"),
        _A((("dns_nxdomain", 3), ("dns_sinkhole", 1)), .10, "spread", "resolver", "in"),
        _A((("s5_bad_timestamp", 1), ("s5_small_segment", 1), ("s5_bad_rst", 2)), .20, "follow", direction="in"),
    )),
    Behaviour("irc-botnet", "IRC botnet on fast-flux domains, with some spam", (20.0, 48.0), (
        _A((("irc_nick", 2), ("irc_user", 2), ("irc_join", 2)), .18, "bursts", "cnc", "out"),
        _A((("irc_ping", 3), ("irc_privmsg", 1)), .25, "beacon", "cnc", "out"),
        _A((("irc_auth", 1),), .03, "beacon", "cnc", "in"),
        _A((("dns_nxdomain", 1),), .14, "spread", "resolver", "in"),
        _A((("smtp_abuseat", 1), ("smtp_spamcop", 1)), .12, "bursts", "mx", "in"),
        _A((("hi_cli_unknown_method", 1), ("hi_cli_simple_request", 1)), .05, "spread", "web", "out"),
        _A((("hi_srv_no_contlen", 1),), .08, "follow", direction="in", anchor_ports=_HTTP),
        _A((("s5_bad_rst", 1), ("s5_small_segment", 1)), .15, "follow", direction="in"),
    )),
    Behaviour("ssh-scanner", "scanning bot (SSH, VNC, MSSQL, masscan) with a remote-access trojan over Tor",
              (1.0, 4.0), (
        _A((("scan_ssh_out", 1),), .33, "bursts", "fresh", "out"),
        _A((("scan_vnc", 1),), .12, "bursts", "fresh", "out"),
        _A((("masscan_out", 1),), .12, "bursts", "fresh", "out"),
        _A((("scan_1433", 1),), .08, "bursts", "fresh", "out"),
        _A((("tor_relay", 1), ("tls_tor", 1)), .10, "beacon", "cnc", "out"),
        _A((("nanocore", 1),), .07, "beacon", "cnc", "out", port=0),
        _A((("dns_nxdomain", 1),), .08, "spread", "resolver", "in"),
        _A((("s5_window_slam", 1), ("s5_syn_on_est", 1)), .10, "follow", direction="out"),
    )),
)

#: What the infected hosts hidden in the benign recording do (all their alerts touch them or
#: a discard-listed C&C server).
_HIDDEN_BEHAVIOURS = {
    "clickfraud": BEHAVIOURS[2],
    "spam": Behaviour("spam", "spam bot", (6.0, 20.0), (
        _A((("smtp_abuseat", 3), ("smtp_spamcop", 2), ("smtp_sorbs", 1)), .55, "bursts", "mx", "in"),
        _A((("dns_su", 1),), .20, "spread", "resolver", "out"),
        _A((("s5_small_segment", 1), ("s5_bad_rst", 1)), .25, "follow", direction="out", anchor_ports=(25,)),
    )),
    "cnc-only": Behaviour("cnc-only", "trojan talking only to its C&C servers", (10.0, 40.0), (
        _A((("zeus_tracker", 2), ("post_php_ascii", 2)), .60, "beacon", "cnc", "out"),
        _A((("http_post_443", 1),), .15, "beacon", "cnc", "out"),
        _A((("hi_srv_no_contlen", 1),), .25, "follow", direction="in", anchor_ports=_HTTP),
    )),
    "worm": Behaviour("worm", "SMB worm", (0.5, 3.0), (
        _A((("scan_445", 4), ("scan_139", 1)), .65, "bursts", "fresh", "out"),
        _A((("ms08_067_15", 1),), .20, "follow", direction="out", anchor_ports=(445,)),
        _A((("ping_windows", 1),), .15, "bursts", "fresh", "out"),
    )),
}


# --------------------------------------------------------------------------- benign network


@dataclass(frozen=True)
class _BenignActivity:
    signatures: tuple[tuple[str, float], ...]
    share: float
    src: str            # host group of the source side
    dst: str            # host group of the destination side
    server: str         # which side ("src" or "dst") is the service (gets the service port)
    cluster: float      # mean alerts per cluster (one connection or one scan)
    timing: str = "diurnal"   # "diurnal" (office hours), "flat" (any hour), "beacon"
    port: int | None = None
    vary: bool = False  # vary the internal host within a cluster (scans)


_B = _BenignActivity
_BENIGN_ACTIVITIES: tuple[_BenignActivity, ...] = (
    _B((("hi_srv_no_contlen", 10), ("hi_srv_invalid_statcode", 1), ("hi_srv_utf_norm_fail", 2),
        ("hi_srv_decompr_failed", 2), ("hi_srv_msg_size", 1), ("hi_srv_js_obfuscation", 1),
        ("hi_srv_js_excess_ws", 1)), .30, "web", "client", "src", 1.6),
    _B((("hi_cli_long_header", 3), ("hi_cli_non_rfc_char", 2), ("hi_cli_double_decode", 1), ("hi_cli_bare_byte", 1),
        ("hi_cli_iis_unicode", 1), ("hi_cli_oversize_dir", 1), ("hi_cli_unknown_method", 2),
        ("hi_cli_simple_request", 1)), .08, "client", "web", "dst", 1.3),
    _B((("s5_bad_rst", 4), ("s5_small_segment", 3), ("s5_bad_timestamp", 2), ("s5_no_timestamp", 2),
        ("s5_data_on_closed", 1), ("s5_window_slam", 1), ("s5_overlaps", 1)), .11, "client", "web", "dst", 2.0,
       port=443),
    _B((("s5_bad_rst", 3), ("s5_data_after_reset", 1), ("s5_data_after_rst_rcvd", 1), ("s5_syn_on_est", 1),
        ("s5_data_on_syn", 1), ("s5_no_timestamp", 2)), .09, "web", "client", "src", 2.0, port=80),
    _B((("dns_nxdomain", 1),), .07, "resolver", "client", "src", 1.5),
    _B((("dns_localhost", 3), ("dns_opcode", 1), ("dns_xxx", 1), ("dns_onion", 1), ("dns_tk", 1)), .02,
       "client", "upstream", "dst", 1.0),
    _B((("apt_ua", 5), ("yum_ua", 1), ("curl_ua", 3), ("python_ua", 2)), .04, "linux", "web", "dst", 1.2,
       timing="flat"),
    _B((("teamviewer", 2), ("crash_report", 2), ("poodle_out", 2), ("openvpn", 1), ("pass_cleartext", 2),
        ("basic_auth_out", 1), ("skype_ua", 3), ("gtalk_login", 1), ("jabber_out", 2), ("ms_ua_automated", 3),
        ("pe_download", 3), ("java17", 2), ("flash_m1", 2), ("pdf_embedded", 1), ("ipcheck_ipinfo", 1),
        ("ipcheck_whatismyip", 1)), .09, "client", "web", "dst", 1.2),
    _B((("bt_dht_ping", 1),), .012, "p2p_client", "fresh", "dst", 3.0, port=0),
    _B((("bt_dht_nodes", 1),), .008, "fresh", "p2p_client", "src", 3.0, port=0),
    _B((("bt_transmission", 1),), .003, "p2p_client", "fresh", "dst", 1.0),
    _B((("scan_ssh_in", 4), ("mssql_in", 2), ("mysql_in", 1), ("sipvicious", 2), ("sipvicious_ua", 1),
        ("masscan_in", 1), ("dshield", 2), ("cins_tcp", 2), ("cins_udp", 1), ("compromised", 1)), .10,
       "scanner_ext", "exposed", "dst", 6.0, timing="flat", vary=True),
    _B((("nessus_ua", 4), ("nmap_ua", 1), ("hi_cli_unknown_method", 1), ("hi_cli_oversize_dir", 1)), .03,
       "vuln_scanner", "internal", "dst", 40.0, vary=True),
    _B((("scan_445", 3), ("scan_139", 1)), .012, "client", "fileserver", "dst", 3.0),  # SMB false positives
    _B((("ping_windows", 1),), .008, "client", "exposed", "dst", 2.0),
    _B((("snmp_public", 1),), .02, "monitor", "printer", "dst", 1.0, timing="beacon"),
    _B((("ping_nix", 3), ("ping_generic", 1)), .025, "fresh", "exposed", "dst", 1.5, timing="flat"),
    _B((("unreach_port", 1),), .015, "client", "fresh", "dst", 1.0),
    _B((("tls_tor", 2), ("tor_relay", 1)), .006, "tor_client", "fresh", "dst", 1.5),
)

# Hours 0..23: relative activity of an office network (weekends a quarter of it).
_HOUR_WEIGHT = (.08, .06, .05, .05, .05, .06, .12, .40, .90, 1.0, 1.0, 1.0,
                .70, .95, 1.0, 1.0, .90, .60, .35, .25, .20, .15, .12, .10)
_CALENDAR_WEEKDAY0 = _dt.date(CALENDAR_YEAR, 1, 1).weekday()


# --------------------------------------------------------------------------- small helpers


class _Event(NamedTuple):
    t: int                  # microseconds since CALENDAR_YEAR-01-01 00:00
    sig: Signature
    src: str
    sport: int | None
    dst: str
    dport: int | None


class _Conn(NamedTuple):
    t: int
    remote: str
    remote_port: int
    local_port: int


def _rng(seed: int, *parts) -> random.Random:
    """An independent, deterministic stream for one part of the data set."""
    return random.Random(":".join(["lstm-rnn-correlation-generate", str(seed), *map(str, parts)]))


class _PublicIPs:
    """Hands out distinct public IPv4 addresses, never two alike in one data set."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._used: set[str] = set()

    def new(self) -> str:
        rng = self._rng
        while True:
            first = rng.choice(_PUBLIC_FIRST_OCTETS)
            second = rng.randrange(256)
            if first == 147 and second == 32:
                continue
            ip = f"{first}.{second}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if ip not in self._used and ipaddress.IPv4Address(ip).is_global:
                self._used.add(ip)
                return ip


class _Host:
    """A host's ephemeral source ports: sequential like Windows, or random like Linux."""

    def __init__(self, ip: str, rng: random.Random, style: str | None = None):
        self.ip = ip
        self._rng = rng
        self.style = style or rng.choice(("xp", "win7", "win7"))
        if self.style == "xp":
            self._low, self._high = 1025, 5000
        elif self.style == "win7":
            self._low, self._high = 49152, 65535
        else:
            self._low, self._high = 32768, 60999
        self._next = rng.randint(self._low, self._high)
        self.listen_port = rng.randint(10000, 60000)

    def port(self) -> int:
        if self.style == "linux":
            return self._rng.randint(self._low, self._high)
        port = self._next
        self._next += self._rng.randint(1, 4)
        if self._next > self._high:
            self._next = self._low + (self._next - self._high)
        return port


class _PortBook:
    """Ephemeral ports handed out in time order.

    A new connection first gets a negative placeholder; :meth:`resolve` walks the events in
    time order and gives each placeholder the host's next ephemeral port, so a host's source
    ports grow with time as on a real machine, and alerts of one connection share the port.
    """

    def __init__(self):
        self._hosts: dict[int, _Host] = {}

    def placeholder(self, host: _Host) -> int:
        key = -(len(self._hosts) + 1)
        self._hosts[key] = host
        return key

    def resolve(self, events: Sequence[_Event]) -> list[_Event]:
        assigned: dict[int, int] = {}

        def real(port):
            if port is None or port >= 0:
                return port
            if port not in assigned:
                assigned[port] = self._hosts[port].port()
            return assigned[port]

        return [e._replace(sport=real(e.sport), dport=real(e.dport)) for e in events]


def _split(n: int, shares: Sequence[float], rng: random.Random, jitter: float = 0.25) -> list[int]:
    """Split ``n`` into parts proportional to ``shares`` (randomly perturbed), summing to ``n``."""
    weights = [s * rng.uniform(1 - jitter, 1 + jitter) for s in shares]
    total = sum(weights)
    raw = [n * w / total for w in weights]
    parts = [math.floor(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[: n - sum(parts)]:
        parts[i] += 1
    if n >= len(parts):  # every activity shows up at least once
        for i in range(len(parts)):
            while parts[i] == 0:
                j = max(range(len(parts)), key=lambda k: (parts[k], -k))
                parts[j] -= 1
                parts[i] += 1
    return parts


def _weighted(rng: random.Random, items: Sequence[tuple[str, float]]) -> Signature:
    keys = [k for k, _ in items]
    weights = [w for _, w in items]
    return SIGNATURES[rng.choices(keys, weights=weights)[0]]


def _timestamp(t: int) -> str:
    stamp = _dt.datetime(CALENDAR_YEAR, 1, 1) + _dt.timedelta(microseconds=t)
    return f"{stamp.month:02d}/{stamp.day:02d}-{stamp.hour:02d}:{stamp.minute:02d}:{stamp.second:02d}.{stamp.microsecond:06d}"


def format_fast_line(event: _Event) -> str:
    """Format one alert as a Snort 2 fast line without a year (no trailing newline)."""
    sig = event.sig
    head = (f"{_timestamp(event.t)}  [**] [{sig.rule_id}] {sig.msg} [**] "
            f"[Classification: {sig.classification}] [Priority: {sig.priority}] {{{sig.protocol}}} ")
    if sig.protocol == "ICMP":
        return head + f"{event.src} -> {event.dst}"
    return head + f"{event.src}:{event.sport} -> {event.dst}:{event.dport}"


# --------------------------------------------------------------------------- timing


def _clip(t: float, span: int) -> int:
    return min(max(int(t), 0), span)


def _beacon_times(count: int, span: int, rng: random.Random) -> list[int]:
    if count == 1:
        return [rng.randrange(span + 1)]
    period = span / (count - 1) * rng.uniform(0.85, 1.0)
    start = rng.uniform(0, span - period * (count - 1))
    return sorted(_clip(start + k * period + rng.gauss(0, 0.02 * period), span) for k in range(count))


def _burst_times(count: int, span: int, rng: random.Random, window: int | None = None) -> list[int]:
    window = span if window is None else min(window, span)
    n_bursts = rng.randint(1, max(1, min(6, count // 4)))
    times: list[int] = []
    for size in _split(count, [1.0] * n_bursts, rng, jitter=0.6):
        gap = rng.choice((0.05, 0.3, 1.5)) * _US
        t = rng.uniform(0, window)
        for _ in range(size):
            times.append(_clip(t, span))
            t += rng.expovariate(1.0 / gap)
    return sorted(times)


def _times(timing: str, count: int, span: int, rng: random.Random) -> list[int]:
    if timing == "beacon":
        return _beacon_times(count, span, rng)
    if timing == "bursts":
        return _burst_times(count, span, rng)
    if timing == "early":
        return _burst_times(count, span, rng, window=max(span // 10, 120 * _US))
    if timing == "spread":
        return sorted(rng.randrange(span + 1) for _ in range(count))
    raise ValueError(f"unknown timing {timing!r}")


# --------------------------------------------------------------------------- incidents


def _host_events(behaviour: Behaviour, host: _Host, count: int, start: int, span: int, rng: random.Random,
                 ips: _PublicIPs, popular: Sequence[str], cnc: Sequence[str] | None = None,
                 ports: _PortBook | None = None) -> list[_Event]:
    """Alerts of one infected host following ``behaviour``, ``count`` of them, inside [start, start+span].

    With ``ports`` given, the host's ephemeral ports stay placeholders for the caller to
    resolve (after merging with other alerts of the same host); otherwise they are resolved here.
    """
    book = ports if ports is not None else _PortBook()
    cnc_pool = list(cnc) if cnc else [ips.new() for _ in range(rng.randint(1, 3))]
    cnc_weights = [4.0] + [1.0] * (len(cnc_pool) - 1)
    resolver = ips.new()
    web_pool = rng.sample(list(popular), min(len(popular), rng.randint(4, 10))) + \
        [ips.new() for _ in range(rng.randint(2, 6))]
    mx_pool = [ips.new() for _ in range(max(3, count // 6))]

    def peer_of(kind: str) -> str:
        if kind == "cnc":
            return rng.choices(cnc_pool, weights=cnc_weights)[0]
        if kind == "fresh":
            return ips.new()
        if kind == "web":
            return rng.choice(web_pool)
        if kind == "mx":
            return rng.choice(mx_pool)
        if kind == "resolver":
            return resolver
        raise ValueError(f"unknown peer kind {kind!r}")

    acts = behaviour.activities
    counts = _split(count, [a.share for a in acts], rng)
    events: list[_Event] = []
    conns: list[_Conn] = []
    order = [i for i, a in enumerate(acts) if a.timing != "follow"] + \
        [i for i, a in enumerate(acts) if a.timing == "follow"]
    for i in order:
        act, n = acts[i], counts[i]
        if n == 0:
            continue
        high_port = rng.randint(1025, 65000)
        if act.timing == "follow":
            anchors = [c for c in conns if act.anchor_ports is None or c.remote_port in act.anchor_ports]
            if anchors:
                for _ in range(n):
                    a = rng.choice(anchors)
                    sig = _weighted(rng, act.signatures)
                    t = start + min(span, a.t - start + rng.randint(50_000, 3 * _US))
                    if act.direction == "in":
                        events.append(_Event(t, sig, a.remote, a.remote_port, host.ip, a.local_port))
                    else:
                        events.append(_Event(t, sig, host.ip, a.local_port, a.remote, a.remote_port))
                continue
            # nothing to follow: the anomalies come from ordinary web traffic instead
            act = Activity(act.signatures, act.share, "spread", "web", act.direction)
        for t in _times(act.timing, n, span, rng):
            sig = _weighted(rng, act.signatures)
            remote = peer_of(act.peer)
            t += start
            if sig.protocol == "ICMP":
                src, dst = (host.ip, remote) if act.direction == "out" else (remote, host.ip)
                events.append(_Event(t, sig, src, None, dst, None))
                continue
            if act.port == 0:
                service = high_port if sig.family != "p2p" else rng.randint(1025, 65535)
            else:
                service = act.port if act.port is not None else (sig.port if sig.port is not None else 80)
            local = host.listen_port if sig.family == "p2p" else book.placeholder(host)
            if act.direction == "out":
                events.append(_Event(t, sig, host.ip, local, remote, service))
            else:
                events.append(_Event(t, sig, remote, service, host.ip, local))
            if sig.protocol == "TCP":
                conns.append(_Conn(t, remote, service, local))
    events.sort(key=lambda e: e.t)
    return book.resolve(events) if ports is None else events


def victim_ip(incident: int) -> str:
    """The victim address of incident ``incident`` (1-based); the same for every seed."""
    if not 1 <= incident <= MAX_INCIDENTS:
        raise ValueError(f"incident id must be 1..{MAX_INCIDENTS}")
    if incident <= len(_CTU_VICTIMS):
        return _CTU_VICTIMS[incident - 1]
    taken = {int(ip.rsplit(".", 1)[1]) for ip in _CTU_VICTIMS}
    extra = [octet for octet in range(101, 255) if octet not in taken]
    return f"147.32.84.{extra[incident - len(_CTU_VICTIMS) - 1]}"


def incident_plan(n_incidents: int = DEFAULT_INCIDENTS) -> list[dict]:
    """The incidents :func:`generate_dataset` writes: id, name, file and victim, seed-independent.

    Parameters
    ----------
    n_incidents : number of incidents (1..MAX_INCIDENTS).
    """
    _check_count(n_incidents)
    plan = []
    for i in range(1, n_incidents + 1):
        behaviour = BEHAVIOURS[(i - 1) % len(BEHAVIOURS)]
        name = f"capture-{i:02d}-{behaviour.slug}"
        plan.append({"incident": i, "name": name, "file": f"{INCIDENTS_DIR}/{name}.log",
                     "victim_ip": victim_ip(i), "behaviour": behaviour})
    return plan


def _incident_sizes(n: int, rng: random.Random) -> list[int]:
    low, high = INCIDENT_SIZE_RANGE
    if n == 1:
        return [rng.randint(low, high)]
    sizes = [low + (high - low) * k / (n - 1) for k in range(n)]
    sizes = [s * rng.uniform(0.93, 1.07) for s in sizes]
    sizes[0], sizes[-1] = low * rng.uniform(1.0, 1.05), high * rng.uniform(0.97, 1.0)
    return sorted(int(round(min(max(s, 95), 460))) for s in sizes)


# --------------------------------------------------------------------------- benign


def _hour_weight(t: int) -> float:
    day = t // _DAY
    weight = _HOUR_WEIGHT[(t // _HOUR) % 24]
    if (_CALENDAR_WEEKDAY0 + day) % 7 >= 5:
        weight *= 0.25
    return weight


def _benign_time(timing: str, start: int, span: int, rng: random.Random) -> int:
    if timing == "flat":
        return start + rng.randrange(span)
    while True:  # office hours, fewer at night and at weekends
        t = start + rng.randrange(span)
        if rng.random() < _hour_weight(t):
            return t


class _Network:
    """The benign network: private clients and servers, and the Internet around them."""

    def __init__(self, rng: random.Random, ips: _PublicIPs, popular: Sequence[str]):
        self.rng = rng
        self.ips = ips
        self.ports = _PortBook()
        octets = rng.sample(range(10, 200), 18)
        clients = [f"192.168.1.{o}" for o in octets]
        clients += [f"192.168.2.{o}" for o in rng.sample(range(20, 240), 8)]
        clients += [f"10.130.8.{o}" for o in rng.sample(range(2, 250), 6)]
        self.hosts: dict[str, _Host] = {ip: _Host(ip, rng) for ip in clients}
        self.clients = clients
        self.client_weights = [1.0 / (k + 1) ** 0.6 for k in range(len(clients))]  # some hosts are busier
        rng.shuffle(self.client_weights)
        self.linux = [f"10.149.34.{o}" for o in rng.sample(range(30, 70), 4)]
        for ip in self.linux:
            self.hosts[ip] = _Host(ip, rng, "linux")
        self.resolver = "10.149.34.2"
        self.exposed = ["10.149.34.80", "10.149.34.22", "10.149.34.25"]
        self.monitor = "10.149.34.5"
        self.fileserver = "10.149.34.10"
        self.vuln_scanner = "10.149.34.60"
        self.printers = ["192.168.1.250", "192.168.1.251", "192.168.1.252"]
        for ip in [self.resolver, self.monitor, self.fileserver, self.vuln_scanner] + self.exposed + self.printers:
            self.hosts[ip] = _Host(ip, rng, "linux")
        self.p2p_clients = rng.sample(clients, 2)
        self.tor_client = rng.choice(clients)
        self.popular = list(popular)
        self.web_pool = [ips.new() for _ in range(150)]
        self.upstream = [ips.new() for _ in range(2)]
        self.scanners = [ips.new() for _ in range(60)]

    def pick(self, group: str) -> str:
        rng = self.rng
        if group == "client":
            return rng.choices(self.clients, weights=self.client_weights)[0]
        if group == "linux":
            return rng.choice(self.linux)
        if group == "resolver":
            return self.resolver
        if group == "web":
            return rng.choice(self.popular) if rng.random() < 0.6 else rng.choice(self.web_pool)
        if group == "upstream":
            return rng.choice(self.upstream)
        if group == "fresh":
            return self.ips.new()
        if group == "scanner_ext":
            return rng.choice(self.scanners) if rng.random() < 0.7 else self.ips.new()
        if group == "exposed":
            return rng.choice(self.exposed)
        if group == "vuln_scanner":
            return self.vuln_scanner
        if group == "internal":
            return rng.choice(self.exposed + self.clients)
        if group == "fileserver":
            return self.fileserver
        if group == "monitor":
            return self.monitor
        if group == "printer":
            return rng.choice(self.printers)
        if group == "p2p_client":
            return rng.choice(self.p2p_clients)
        if group == "tor_client":
            return self.tor_client
        raise ValueError(f"unknown host group {group!r}")

    def port_of(self, ip: str) -> int:
        host = self.hosts.get(ip)
        return self.ports.placeholder(host) if host else self.rng.randint(1025, 65535)


def _benign_events(n: int, start: int, span: int, rng: random.Random, net: _Network) -> list[_Event]:
    counts = _split(n, [a.share for a in _BENIGN_ACTIVITIES], rng, jitter=0.15)
    events: list[_Event] = []
    for act, count in zip(_BENIGN_ACTIVITIES, counts):
        if act.timing == "beacon":
            times = iter(start + t for t in _beacon_times(max(count, 1), span, rng))
        made = 0
        fixed_port = rng.randint(1025, 65000)
        while made < count:
            size = min(count - made, 1 + int(rng.expovariate(1.0 / max(act.cluster - 1, 1e-9)))
                       if act.cluster > 1 else 1)
            t = next(times) if act.timing == "beacon" else _benign_time(act.timing, start, span, rng)
            src, dst = net.pick(act.src), net.pick(act.dst)
            sig = _weighted(rng, act.signatures)
            service = None
            for j in range(size):
                if j and act.vary:
                    sig = _weighted(rng, act.signatures)
                    if act.server == "dst":
                        dst = net.pick(act.dst)
                    else:
                        src = net.pick(act.src)
                elif j and rng.random() < 0.3:  # another alert on the same connection
                    other = _weighted(rng, act.signatures)
                    if other.protocol == sig.protocol and other.port == sig.port:
                        sig = other
                if sig.protocol == "ICMP":
                    events.append(_Event(min(t, start + span), sig, src, None, dst, None))
                else:
                    if service is None or act.vary:
                        if act.port == 0:
                            service = fixed_port
                        elif act.port is not None and sig.port in (None, 80, 443):
                            service = act.port
                        elif sig.port is not None:
                            service = sig.port
                        else:
                            service = rng.choice((22, 23, 80, 443, 445, 3389, 8080))
                        client_port = net.port_of(src if act.server == "dst" else dst)
                    if act.server == "dst":
                        events.append(_Event(min(t, start + span), sig, src, client_port, dst, service))
                    else:
                        events.append(_Event(min(t, start + span), sig, src, service, dst, client_port))
                t += int(rng.expovariate(1.0 / (0.8 * _US))) + 1000
                made += 1
    return events


# --------------------------------------------------------------------------- the data set


def _check_count(n_incidents) -> None:
    if isinstance(n_incidents, bool) or not isinstance(n_incidents, int):
        raise UserError(f"the number of incidents must be an integer, got {n_incidents!r}")
    if not 1 <= n_incidents <= MAX_INCIDENTS:
        raise UserError(f"the number of incidents must be between 1 and {MAX_INCIDENTS}, got {n_incidents}")


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"the seed must be a non-negative integer, got {seed!r}")


def _render(events: Sequence[_Event]) -> str:
    return "".join(format_fast_line(e) + "\n" for e in events)


def _summary(events: Sequence[_Event]) -> dict:
    return {"alerts": len(events), "first": _timestamp(events[0].t), "last": _timestamp(events[-1].t),
            "span_seconds": round((events[-1].t - events[0].t) / _US, 6)}


def build_dataset(seed: int = DEFAULT_SEED, n_incidents: int = DEFAULT_INCIDENTS, quiet: bool = True):
    """Generate the data set in memory.

    Parameters
    ----------
    seed : non-negative integer; the same seed gives the same data.
    n_incidents : number of incidents, 1..MAX_INCIDENTS.
    quiet : hide the progress bar.

    Returns
    -------
    (files, manifest): ``files`` maps a relative path to its text, ``manifest`` is the dict
    that :func:`generate_dataset` writes as ``manifest.json``.
    """
    from tqdm import tqdm

    _check_seed(seed)
    _check_count(n_incidents)
    plan = incident_plan(n_incidents)
    ips = _PublicIPs(_rng(seed, "addresses"))
    popular = [ips.new() for _ in range(40)]  # big web sites everyone talks to
    sizes = _incident_sizes(n_incidents, _rng(seed, "sizes"))
    files: dict[str, str] = {}
    manifest_incidents = []
    progress = tqdm(total=n_incidents + 1, desc="generate", unit="log", disable=quiet)
    for entry, size in zip(plan, sizes):
        rng = _rng(seed, "incident", entry["incident"])
        behaviour: Behaviour = entry["behaviour"]
        span = int(rng.uniform(*behaviour.span_hours) * _HOUR)
        start = rng.randint(3, 355 - 5) * _DAY + rng.randrange(_DAY)
        host = _Host(entry["victim_ip"], rng)
        events = _host_events(behaviour, host, size, start, span, rng, ips, popular)
        files[entry["file"]] = _render(events)
        manifest_incidents.append({
            "incident": entry["incident"], "name": entry["name"], "file": entry["file"],
            "victim_ip": entry["victim_ip"], "behaviour": behaviour.slug, "description": behaviour.description,
            **_summary(events)})
        progress.update()

    # the benign recording: a week or so of a private network
    rng = _rng(seed, "benign")
    net = _Network(rng, ips, popular)
    b_span = int(rng.uniform(7.0, 10.0) * _DAY)
    b_start = rng.randint(60, 270) * _DAY + rng.randrange(_DAY)
    n_normal = int(round(BENIGN_FACTOR * sum(sizes)))
    events = _benign_events(n_normal, b_start, b_span, rng, net)

    # true alerts hidden in it: infected hosts, and a clean host talking to listed C&C servers
    n_hidden = max(8, int(round(HIDDEN_SHARE * n_normal)))
    quiet_hosts = [c for c, _ in sorted(zip(net.clients, net.client_weights), key=lambda cw: cw[1])]
    quiet_hosts = [c for c in quiet_hosts[: len(quiet_hosts) // 2] if c not in net.p2p_clients and c != net.tor_client]
    infected = rng.sample(quiet_hosts, 4)
    listed_cnc = [ips.new() for _ in range(2)]
    hidden_plan = [  # (behaviour, host, share, C&C servers)
        ("clickfraud", infected[0], .35, None),
        ("spam", infected[1], .25, None),
        ("cnc-only", infected[2], .15, listed_cnc),
        ("worm", infected[3], .25, None),
    ]
    hidden_counts = _split(n_hidden, [p[2] for p in hidden_plan], rng, jitter=0.1)
    hidden = []
    for (kind, ip, _, cnc), count in zip(hidden_plan, hidden_counts):
        h_rng = _rng(seed, "hidden", kind)
        behaviour = _HIDDEN_BEHAVIOURS[kind]
        span = int(min(h_rng.uniform(*behaviour.span_hours) * _HOUR, b_span // 2))
        start = b_start + h_rng.randrange(b_span - span)
        hidden += _host_events(behaviour, net.hosts[ip], count, start, span, h_rng, ips, popular, cnc=cnc,
                               ports=net.ports)
    events = net.ports.resolve(sorted(events + hidden, key=lambda e: e.t))
    files[BENIGN_FILE] = _render(events)
    progress.update()
    progress.close()

    discard = {
        "commercial": ("IP addresses a commercial detection service reported as infected during the recording",
                       [infected[0], infected[1]]),
        "manual": ("IP addresses from manual inspection of alerts that could not be confirmed benign",
                   [infected[3]] + listed_cnc),
    }
    manifest_discard = []
    for key, (comment, addresses) in discard.items():
        files[DISCARD_FILES[key]] = (
            f"# {comment}.\n# One address a line; alerts touching any of them are discarded from the benign set.\n"
            + "".join(f"{ip}\n" for ip in addresses))
        manifest_discard.append({"name": key, "file": DISCARD_FILES[key], "ips": addresses})

    manifest = {
        "generator": "lstm_rnn_correlation.generate",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "format": "snort",
        "timestamps": "Snort fast, MM/DD-HH:MM:SS.ffffff without a year",
        "calendar_year": CALENDAR_YEAR,
        "incidents": manifest_incidents,
        "benign": [{"name": "benign", "file": BENIGN_FILE, **_summary(events), "hidden_true_alerts": len(hidden)}],
        "discard": manifest_discard,
    }
    return files, manifest


def generate_dataset(out_dir, seed: int = DEFAULT_SEED, n_incidents: int = DEFAULT_INCIDENTS,
                     quiet: bool = True) -> dict:
    """Write the bundled default data set into ``out_dir`` and return its manifest.

    Parameters
    ----------
    out_dir : folder to write into (created if missing); existing files of the same names
        are replaced atomically, other files are left alone.
    seed : non-negative integer; the same seed gives byte-identical files.
    n_incidents : number of incidents, 1..MAX_INCIDENTS (default 7, as in the original).
    quiet : hide the progress bar.

    Returns
    -------
    The manifest (also written as ``out_dir/manifest.json``, last, once all logs are written).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder")
    files, manifest = build_dataset(seed, n_incidents, quiet)
    try:
        for rel, text in files.items():
            write_text_atomic(out / rel, text)
        write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the data set into {out}: {exc}") from None
    return manifest


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``lstm-rnn-correlation generate``."""
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write incidents/, benign/, discard/ and manifest.json into")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="N",
                        help=f"random seed; the same seed gives byte-identical files (default {DEFAULT_SEED})")
    parser.add_argument("--incidents", type=int, default=DEFAULT_INCIDENTS, metavar="N",
                        help=f"number of incidents, 1..{MAX_INCIDENTS} (default {DEFAULT_INCIDENTS})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")


def run(args: argparse.Namespace) -> int:
    """Run ``lstm-rnn-correlation generate``."""
    manifest = generate_dataset(args.out, seed=args.seed, n_incidents=args.incidents, quiet=args.quiet)
    out = Path(args.out)
    listed = {Path(e["file"]).name for e in manifest["incidents"]}
    stale = sorted(p.name for p in (out / INCIDENTS_DIR).glob("*.log") if p.name not in listed)
    if stale:
        print(f"note: {out / INCIDENTS_DIR} also holds logs this run did not write (not in manifest.json): "
              + ", ".join(stale), file=sys.stderr)
    if not args.quiet:
        total = sum(e["alerts"] for e in manifest["incidents"])
        print(f"seed {manifest['seed']}: {len(manifest['incidents'])} incidents, {total} alerts")
        for e in manifest["incidents"]:
            print(f"  {e['incident']:>2}  {e['victim_ip']:<15} {e['alerts']:>4} alerts  "
                  f"{e['first']} .. {e['last']}  {e['file']}")
        b = manifest["benign"][0]
        print(f"benign: {b['alerts']} alerts ({b['hidden_true_alerts']} true alerts hidden), "
              f"{b['first']} .. {b['last']}  {b['file']}")
        for d in manifest["discard"]:
            print(f"discard list {d['name']}: {len(d['ips'])} addresses  {d['file']}")
        print(f"manifest: {out / MANIFEST}")
    return 0


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - convenience
    parser = argparse.ArgumentParser(prog="generate")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())

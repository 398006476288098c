"""A catalogue of real IDS signatures, written as data, for the bundled synthetic alert logs.

The generator (:mod:`lstm_rnn_correlation.generate`) writes Snort "fast" alert lines.  So that
the lines look like the ones a SOC sees, every signature here is a fact taken from a public
rule set: generator id, signature id, revision, message text and class type are copied as
they appear in the rule set, and the classification text and priority follow from the class
type exactly as Snort's ``classification.config`` maps them.

Sources (all public):

- **Emerging Threats Open** rule set (``rules.emergingthreats.net``, BSD licence for sids
  2000000-2799999; the ``GPL ...`` rules are the GPLv2 Snort rules ET carries, sids
  2100000+).  Messages, sids, revisions and class types as published in ``emerging-*.rules``
  (for example ``emerging-dns.rules``, ``emerging-smtp.rules``, ``emerging-icmp_info.rules``)
  and as seen in real Suricata EVE records of public captures (``suricata-sample-data``).
  Revisions differ between rule-set releases; each one here is a revision that was published.
- **Snort 2.9 preprocessors**: generator 119 (http_inspect, client side), 120 (http_inspect,
  server side) and 129 (stream5 TCP reassembly).  Alert texts are the strings compiled into
  Snort 2.9 (``hi_events.h`` and the stream5 event strings), class types those of the
  ``preproc_rules/preprocessor.rules`` file shipped with Snort 2.9.  Real logs show them as,
  for example, ``[120:3:1] (http_inspect) NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP
  RESPONSE [**] [Classification: Unknown Traffic] [Priority: 3]`` and ``[129:12:1]
  Consecutive TCP small segments exceeding threshold [**] [Classification: Potentially Bad
  Traffic] [Priority: 2]``.
- **Snort classification.config**: the class type -> (classification text, priority) table
  in :data:`CLASSTYPES`.

Only the facts are used; no rule logic is copied.  The ``port`` of a signature is the
service port the rule watches (the remote side of the victim's connection), used by the
generator when an activity does not fix one; ``None`` means any port.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Snort ``classification.config``: class type -> (classification text, priority).
CLASSTYPES: dict[str, tuple[str, int]] = {
    "not-suspicious": ("Not Suspicious Traffic", 3),
    "unknown": ("Unknown Traffic", 3),
    "bad-unknown": ("Potentially Bad Traffic", 2),
    "attempted-recon": ("Attempted Information Leak", 2),
    "successful-recon-limited": ("Information Leak", 2),
    "attempted-dos": ("Attempted Denial of Service", 2),
    "attempted-user": ("Attempted User Privilege Gain", 1),
    "attempted-admin": ("Attempted Administrator Privilege Gain", 1),
    "trojan-activity": ("A Network Trojan was detected", 1),
    "misc-activity": ("Misc activity", 3),
    "misc-attack": ("Misc Attack", 2),
    "network-scan": ("Detection of a Network Scan", 3),
    "protocol-command-decode": ("Generic Protocol Command Decode", 3),
    "web-application-attack": ("Web Application Attack", 1),
    "web-application-activity": ("access to a potentially vulnerable web application", 2),
    "policy-violation": ("Potential Corporate Privacy Violation", 1),
}

#: Families a signature can belong to (what kind of activity raises it).
FAMILIES = ("cnc", "scan", "spam", "dns", "exploit", "anomaly", "policy", "icmp", "reputation", "p2p")


@dataclass(frozen=True)
class Signature:
    """One IDS rule: its identity, its text and how Snort classifies it.

    Parameters
    ----------
    key : short stable name the generator refers to.
    gid, sid, rev : generator id, signature id and revision (``[gid:sid:rev]`` in a line).
    msg : the alert text exactly as the rule or preprocessor writes it.
    classtype : Snort class type; gives :attr:`classification` and :attr:`priority`.
    protocol : ``"TCP"``, ``"UDP"`` or ``"ICMP"`` (ICMP alerts carry no ports).
    family : one of :data:`FAMILIES`.
    port : the service port the rule watches, or ``None`` for any.
    """

    key: str
    gid: int
    sid: int
    rev: int
    msg: str
    classtype: str
    protocol: str
    family: str
    port: int | None = None

    @property
    def classification(self) -> str:
        """Classification text written in the alert line."""
        return CLASSTYPES[self.classtype][0]

    @property
    def priority(self) -> int:
        """Priority (1 high - 3 low) written in the alert line."""
        return CLASSTYPES[self.classtype][1]

    @property
    def rule_id(self) -> str:
        """``gid:sid:rev`` as written between brackets in the alert line."""
        return f"{self.gid}:{self.sid}:{self.rev}"


def _s(key, gid, sid, rev, msg, classtype, protocol, family, port=None) -> Signature:
    return Signature(key, gid, sid, rev, msg, classtype, protocol, family, port)


_HI = "(http_inspect) "

_CATALOGUE: tuple[Signature, ...] = (
    # ---- Snort preprocessor: http_inspect client side (gid 119) ------------------------
    _s("hi_cli_double_decode", 119, 2, 1, _HI + "DOUBLE DECODING ATTACK", "not-suspicious", "TCP", "anomaly", 80),
    _s("hi_cli_bare_byte", 119, 4, 1, _HI + "BARE BYTE UNICODE ENCODING", "not-suspicious", "TCP", "anomaly", 80),
    _s("hi_cli_iis_unicode", 119, 7, 1, _HI + "IIS UNICODE CODEPOINT ENCODING", "unknown", "TCP", "anomaly", 80),
    _s("hi_cli_non_rfc_char", 119, 14, 1, _HI + "NON-RFC DEFINED CHAR", "bad-unknown", "TCP", "anomaly", 80),
    _s("hi_cli_oversize_dir", 119, 15, 1, _HI + "OVERSIZE REQUEST-URI DIRECTORY", "bad-unknown", "TCP", "anomaly", 80),
    _s("hi_cli_long_header", 119, 19, 1, _HI + "LONG HEADER", "bad-unknown", "TCP", "anomaly", 80),
    _s("hi_cli_unknown_method", 119, 31, 1, _HI + "UNKNOWN METHOD", "unknown", "TCP", "anomaly", 80),
    _s("hi_cli_simple_request", 119, 32, 1, _HI + "SIMPLE REQUEST", "unknown", "TCP", "anomaly", 80),
    # ---- Snort preprocessor: http_inspect server side (gid 120) ------------------------
    _s("hi_srv_invalid_statcode", 120, 2, 1, _HI + "INVALID STATUS CODE IN HTTP RESPONSE", "unknown", "TCP", "anomaly", 80),
    _s("hi_srv_no_contlen", 120, 3, 1, _HI + "NO CONTENT-LENGTH OR TRANSFER-ENCODING IN HTTP RESPONSE",
       "unknown", "TCP", "anomaly", 80),
    _s("hi_srv_utf_norm_fail", 120, 4, 1, _HI + "HTTP RESPONSE HAS UTF CHARSET WHICH FAILED TO NORMALIZE",
       "unknown", "TCP", "anomaly", 80),
    _s("hi_srv_decompr_failed", 120, 6, 1, _HI + "HTTP RESPONSE GZIP DECOMPRESSION FAILED", "unknown", "TCP",
       "anomaly", 80),
    _s("hi_srv_msg_size", 120, 8, 1, _HI + "INVALID CONTENT-LENGTH OR CHUNK SIZE", "unknown", "TCP", "anomaly", 80),
    _s("hi_srv_js_obfuscation", 120, 9, 1, _HI + "JAVASCRIPT OBFUSCATION LEVELS EXCEEDS 1", "unknown", "TCP",
       "anomaly", 80),
    _s("hi_srv_js_excess_ws", 120, 10, 1, _HI + "JAVASCRIPT WHITESPACES EXCEEDS MAX ALLOWED", "unknown", "TCP",
       "anomaly", 80),
    # ---- Snort preprocessor: stream5 (gid 129) ------------------------------------------
    _s("s5_syn_on_est", 129, 1, 1, "Syn on established session", "bad-unknown", "TCP", "anomaly"),
    _s("s5_data_on_syn", 129, 2, 1, "Data on SYN packet", "protocol-command-decode", "TCP", "anomaly"),
    _s("s5_data_on_closed", 129, 3, 1, "Data sent on stream not accepting data", "protocol-command-decode", "TCP",
       "anomaly"),
    _s("s5_bad_timestamp", 129, 4, 1, "TCP Timestamp is outside of PAWS window", "protocol-command-decode", "TCP",
       "anomaly"),
    _s("s5_overlaps", 129, 7, 1, "Limit on number of overlapping TCP packets reached", "bad-unknown", "TCP",
       "anomaly"),
    _s("s5_data_after_reset", 129, 8, 1, "Data sent on stream after TCP Reset sent", "protocol-command-decode",
       "TCP", "anomaly"),
    _s("s5_small_segment", 129, 12, 1, "Consecutive TCP small segments exceeding threshold", "bad-unknown", "TCP",
       "anomaly"),
    _s("s5_no_timestamp", 129, 14, 1, "TCP Timestamp is missing", "bad-unknown", "TCP", "anomaly"),
    _s("s5_bad_rst", 129, 15, 1, "Reset outside window", "bad-unknown", "TCP", "anomaly"),
    _s("s5_data_after_rst_rcvd", 129, 18, 1, "Data sent on stream after TCP Reset received", "bad-unknown", "TCP",
       "anomaly"),
    _s("s5_window_slam", 129, 19, 1, "TCP window closed before receiving data", "bad-unknown", "TCP", "anomaly"),
    # ---- command and control, bots, droppers (ET Open) ----------------------------------
    _s("irc_user", 1, 2002023, 16, "ET CHAT IRC USER command", "misc-activity", "TCP", "cnc", 6667),
    _s("irc_nick", 1, 2002024, 19, "ET CHAT IRC NICK command", "misc-activity", "TCP", "cnc", 6667),
    _s("irc_join", 1, 2002025, 19, "ET CHAT IRC JOIN command", "misc-activity", "TCP", "cnc", 6667),
    _s("irc_privmsg", 1, 2002026, 21, "ET CHAT IRC PRIVMSG command", "misc-activity", "TCP", "cnc", 6667),
    _s("irc_ping", 1, 2002027, 16, "ET CHAT IRC PING command", "misc-activity", "TCP", "cnc", 6667),
    _s("irc_auth", 1, 2000355, 5, "ET CHAT IRC authorization message", "misc-activity", "TCP", "cnc", 6667),
    _s("miuref", 1, 2018582, 10, "ET TROJAN Miuref/Boaxxe Checkin", "trojan-activity", "TCP", "cnc", 80),
    _s("poweliks", 1, 2021251, 3, "ET TROJAN Poweliks Clickfraud CnC M4", "trojan-activity", "TCP", "cnc", 80),
    _s("post_php_ascii", 1, 2017259, 12, "ET TROJAN Generic - POST To .php w/Extended ASCII Characters",
       "trojan-activity", "TCP", "cnc", 80),
    _s("loader_check", 1, 2016097, 4, "ET TROJAN Unknown - Loader - Check .exe Updated", "trojan-activity", "TCP",
       "cnc", 80),
    _s("double_accept", 1, 2008975, 15, "ET TROJAN Suspicious Malformed Double Accept Header", "trojan-activity",
       "TCP", "cnc", 80),
    _s("ua_windowsnt", 1, 2013721, 7, "ET TROJAN Suspicious User-Agent (WindowsNT) With No Separating Space",
       "trojan-activity", "TCP", "cnc", 80),
    _s("ua_1space", 1, 2007994, 20, "ET MALWARE Suspicious User-Agent (1 space)", "trojan-activity", "TCP", "cnc",
       80),
    _s("nanocore", 1, 2025019, 1, "ET TROJAN Possible NanoCore C2 60B", "trojan-activity", "TCP", "cnc"),
    _s("opencandy", 1, 2014122, 4, "ET MALWARE W32/OpenCandy Adware Checkin", "trojan-activity", "TCP", "cnc", 80),
    _s("zeus_tracker", 1, 2404160, 5137, "ET CNC Zeus Tracker Reported CnC Server group 11", "trojan-activity",
       "TCP", "cnc", 80),
    _s("ransom_tracker", 1, 2404500, 5137, "ET CNC Ransomware Tracker Reported CnC Server group 101",
       "trojan-activity", "TCP", "cnc", 80),
    _s("ua_launcher", 1, 2010645, 8, "ET POLICY User-Agent (Launcher)", "trojan-activity", "TCP", "cnc", 80),
    _s("ms_ua_automated", 1, 2012692, 6,
       "ET POLICY Microsoft user-agent automated process response to automated request", "trojan-activity", "TCP",
       "cnc", 80),
    _s("http_post_443", 1, 2013926, 8, "ET POLICY HTTP traffic on port 443 (POST)", "bad-unknown", "TCP", "cnc", 443),
    _s("tor_relay", 1, 2522098, 3468, "ET TOR Known Tor Relay/Router (Not Exit) Node Traffic group 50",
       "misc-attack", "TCP", "cnc", 9001),
    _s("tls_tor", 1, 2018789, 3, "ET POLICY TLS possible TOR SSL traffic", "misc-activity", "TCP", "cnc", 443),
    # ---- external IP look-ups (malware and people alike) ---------------------------------
    _s("ipcheck_whatismyip", 1, 2008986, 7, "ET POLICY IP Check Domain (whatismyip in HTTP Host)",
       "attempted-recon", "TCP", "policy", 80),
    _s("ipcheck_ipinfo", 1, 2020716, 4, "ET POLICY Possible External IP Lookup ipinfo.io", "policy-violation", "TCP",
       "policy", 80),
    _s("ipcheck_ipify", 1, 2019512, 3, "ET POLICY Possible IP Check api.ipify.org", "policy-violation", "TCP",
       "policy", 80),
    # ---- exploits, exploit kits, downloads -----------------------------------------------
    _s("ms08_067_15", 1, 2008705, 5, "ET NETBIOS Microsoft Windows NETAPI Stack Overflow Inbound - MS08-067 (15)",
       "attempted-admin", "TCP", "exploit", 445),
    _s("ms08_067_25", 1, 2008715, 5, "ET NETBIOS Microsoft Windows NETAPI Stack Overflow Inbound - MS08-067 (25)",
       "attempted-admin", "TCP", "exploit", 445),
    _s("eternalblue_m2", 1, 2024297, 2, "ET EXPLOIT ETERNALBLUE Exploit M2 MS17-010", "attempted-admin", "TCP",
       "exploit", 445),
    _s("exe_html", 1, 2009897, 14,
       "ET TROJAN Possible Windows executable sent when remote host claims to send html content",
       "trojan-activity", "TCP", "exploit", 80),
    _s("pe_download", 1, 2018959, 3, "ET POLICY PE EXE or DLL Windows file download HTTP", "policy-violation",
       "TCP", "exploit", 80),
    _s("terse_exe", 1, 2019714, 10,
       "ET CURRENT_EVENTS Terse alphanumeric executable downloader high likelihood of being hostile",
       "bad-unknown", "TCP", "exploit", 80),
    _s("nuclear_ek", 1, 2020841, 2, "ET CURRENT_EVENTS Nuclear EK Landing Apr 03 2015", "trojan-activity", "TCP",
       "exploit", 80),
    _s("magnitude_ek", 1, 2017694, 6, "ET CURRENT_EVENTS Possible Magnitude IE EK Payload Nov 8 2013",
       "trojan-activity", "TCP", "exploit", 80),
    _s("hex_unescape", 1, 2012266, 4, "ET WEB_CLIENT Hex Obfuscation of unescape % Encoding", "bad-unknown", "TCP",
       "exploit", 80),
    _s("hex_script", 1, 2012263, 4, "ET WEB_CLIENT Hex Obfuscation of Script Tag % Encoding", "bad-unknown", "TCP",
       "exploit", 80),
    _s("msf_charcode", 1, 2019091, 3, "ET EXPLOIT Metasploit Random Base CharCode JS Encoded String",
       "trojan-activity", "TCP", "exploit", 80),
    _s("java17", 1, 2014297, 52, "ET POLICY Vulnerable Java Version 1.7.x Detected", "bad-unknown", "TCP",
       "exploit", 80),
    _s("flash_m1", 1, 2014726, 114, "ET POLICY Outdated Flash Version M1", "policy-violation", "TCP", "exploit", 80),
    _s("pdf_embedded", 1, 2011507, 8, "ET POLICY PDF With Embedded File", "bad-unknown", "TCP", "exploit", 80),
    # ---- scanning -------------------------------------------------------------------------
    _s("scan_445", 1, 2001569, 15, "ET SCAN Behavioral Unusual Port 445 traffic Potential Scan or Infection",
       "misc-activity", "TCP", "scan", 445),
    _s("scan_139", 1, 2001579, 15, "ET SCAN Behavioral Unusual Port 139 traffic Potential Scan or Infection",
       "misc-activity", "TCP", "scan", 139),
    _s("scan_135", 1, 2001581, 15, "ET SCAN Behavioral Unusual Port 135 traffic Potential Scan or Infection",
       "misc-activity", "TCP", "scan", 135),
    _s("scan_1433", 1, 2001583, 16, "ET SCAN Behavioral Unusual Port 1433 traffic Potential Scan or Infection",
       "misc-activity", "TCP", "scan", 1433),
    _s("scan_ssh_out", 1, 2003068, 7, "ET SCAN Potential SSH Scan OUTBOUND", "attempted-recon", "TCP", "scan", 22),
    _s("scan_ssh_in", 1, 2001219, 20, "ET SCAN Potential SSH Scan", "attempted-recon", "TCP", "scan", 22),
    _s("scan_vnc", 1, 2002911, 5, "ET SCAN Potential VNC Scan 5900-5920", "attempted-recon", "TCP", "scan", 5900),
    _s("masscan_out", 1, 2017615, 4, "ET SCAN NETWORK Outgoing Masscan detected", "network-scan", "TCP", "scan", 80),
    _s("masscan_in", 1, 2017616, 4, "ET SCAN NETWORK Incoming Masscan detected", "network-scan", "TCP", "scan", 80),
    _s("mssql_in", 1, 2010935, 3, "ET SCAN Suspicious inbound to MSSQL port 1433", "bad-unknown", "TCP", "scan",
       1433),
    _s("mysql_in", 1, 2010937, 3, "ET SCAN Suspicious inbound to mySQL port 3306", "bad-unknown", "TCP", "scan",
       3306),
    _s("sipvicious", 1, 2008578, 6, "ET SCAN Sipvicious Scan", "attempted-recon", "UDP", "scan", 5060),
    _s("sipvicious_ua", 1, 2011716, 4, "ET SCAN Sipvicious User-Agent Detected (friendly-scanner)",
       "attempted-recon", "UDP", "scan", 5060),
    _s("nessus_ua", 1, 2002664, 10, "ET SCAN Nessus User Agent", "attempted-recon", "TCP", "scan", 80),
    _s("nmap_ua", 1, 2024364, 3, "ET SCAN Possible Nmap User-Agent Observed", "web-application-attack", "TCP",
       "scan", 80),
    _s("snmp_public", 1, 2101411, 12, "GPL SNMP public access udp", "attempted-recon", "UDP", "scan", 161),
    # ---- reputation lists (any port) -----------------------------------------------------
    _s("dshield", 1, 2402000, 5047, "ET DROP Dshield Block Listed Source group 1", "misc-attack", "TCP",
       "reputation"),
    _s("cins_tcp", 1, 2403300, 46061, "ET CINS Active Threat Intelligence Poor Reputation IP TCP group 1",
       "misc-attack", "TCP", "reputation"),
    _s("cins_udp", 1, 2403347, 46061, "ET CINS Active Threat Intelligence Poor Reputation IP UDP group 24",
       "misc-attack", "UDP", "reputation"),
    _s("compromised", 1, 2500016, 4843, "ET COMPROMISED Known Compromised or Hostile Host Traffic group 9",
       "misc-attack", "TCP", "reputation"),
    # ---- spam (block messages from remote mail servers) -----------------------------------
    _s("smtp_abuseat", 1, 2012982, 3, "ET SMTP Abuseat.org Block Message", "not-suspicious", "TCP", "spam", 25),
    _s("smtp_spamcop", 1, 2012983, 2, "ET SMTP Spamcop.net Block Message", "not-suspicious", "TCP", "spam", 25),
    _s("smtp_sorbs", 1, 2012985, 2, "ET SMTP Sorbs.net Block Message", "not-suspicious", "TCP", "spam", 25),
    _s("smtp_robtex", 1, 2012986, 2, "ET SMTP Robtex.com Block Message", "not-suspicious", "TCP", "spam", 25),
    # ---- DNS ------------------------------------------------------------------------------
    _s("dns_su", 1, 2014169, 2, "ET DNS Query for .su TLD (Soviet Union) Often Malware Related", "bad-unknown",
       "UDP", "dns", 53),
    _s("dns_tk", 1, 2012811, 2, "ET DNS Query to a .tk domain - Likely Hostile", "bad-unknown", "UDP", "dns", 53),
    _s("dns_pw", 1, 2016778, 5, "ET DNS Query to a *.pw domain - Likely Hostile", "bad-unknown", "UDP", "dns", 53),
    _s("dns_numeric_in", 1, 2012115, 6, "ET DNS DNS Query for a Suspicious Malware Related Numerical .in Domain",
       "bad-unknown", "UDP", "dns", 53),
    _s("dns_nxdomain", 1, 2001117, 6, "ET DNS Standard query response, Name Error", "not-suspicious", "UDP", "dns",
       53),
    _s("dns_sinkhole", 1, 2016413, 4, "ET DNS Reply Sinkhole - sinkhole.cert.pl 148.81.111.111", "trojan-activity",
       "UDP", "dns", 53),
    _s("dns_opcode", 1, 2014702, 9,
       "ET DNS Non-DNS or Non-Compliant DNS traffic on DNS port Opcode 8 through 15 set", "policy-violation",
       "UDP", "dns", 53),
    _s("dns_localhost", 1, 2011802, 3, "ET DNS DNS Lookup for localhost.DOMAIN.TLD", "bad-unknown", "UDP", "dns",
       53),
    _s("dns_xxx", 1, 2012522, 2, "ET POLICY DNS Query For XXX Adult Site Top Level Domain", "policy-violation",
       "UDP", "dns", 53),
    _s("dns_onion", 1, 2014939, 1, "ET POLICY DNS Query for TOR Hidden Domain .onion Accessible Via TOR",
       "policy-violation", "UDP", "dns", 53),
    # ---- policy, chat and software update traffic -----------------------------------------
    _s("apt_ua", 1, 2013504, 5, "ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management",
       "not-suspicious", "TCP", "policy", 80),
    _s("yum_ua", 1, 2013505, 3, "ET POLICY GNU/Linux YUM User-Agent Outbound likely related to package management",
       "policy-violation", "TCP", "policy", 80),
    _s("curl_ua", 1, 2013028, 4, "ET POLICY curl User-Agent Outbound", "attempted-recon", "TCP", "policy", 80),
    _s("python_ua", 1, 2013031, 5, "ET POLICY Python-urllib/ Suspicious User Agent", "attempted-recon", "TCP",
       "policy", 80),
    _s("teamviewer", 1, 2009475, 11, "ET POLICY TeamViewer Dyngate User-Agent", "policy-violation", "TCP", "policy",
       80),
    _s("crash_report", 1, 2018170, 5, "ET POLICY Application Crash Report Sent to Microsoft", "policy-violation",
       "TCP", "policy", 80),
    _s("poodle_out", 1, 2019416, 3, "ET POLICY SSLv3 outbound connection from client vulnerable to POODLE attack",
       "policy-violation", "TCP", "policy", 443),
    _s("openvpn", 1, 2014799, 3, "ET POLICY OpenVPN Update Check", "policy-violation", "TCP", "policy", 80),
    _s("pass_cleartext", 1, 2012887, 3, "ET POLICY Http Client Body contains pass= in cleartext",
       "policy-violation", "TCP", "policy", 80),
    _s("basic_auth_out", 1, 2006380, 12, "ET POLICY Outgoing Basic Auth Base64 HTTP Password detected unencrypted",
       "policy-violation", "TCP", "policy", 80),
    _s("skype_ua", 1, 2002157, 11, "ET CHAT Skype User-Agent detected", "policy-violation", "TCP", "policy", 80),
    _s("gtalk_login", 1, 2002327, 4, "ET CHAT Google Talk (Jabber) Client Login", "policy-violation", "TCP",
       "policy", 5222),
    _s("jabber_out", 1, 2100230, 3, "GPL CHAT Jabber/Google Talk Outgoing Traffic", "not-suspicious", "TCP",
       "policy", 5222),
    # ---- peer to peer ----------------------------------------------------------------------
    _s("bt_dht_ping", 1, 2008581, 3, "ET P2P BitTorrent DHT ping request", "policy-violation", "UDP", "p2p"),
    _s("bt_dht_nodes", 1, 2008583, 4, "ET P2P BitTorrent DHT nodes reply", "policy-violation", "UDP", "p2p"),
    _s("bt_transmission", 1, 2011699, 6, "ET P2P Bittorrent P2P Client User-Agent (Transmission/1.x)",
       "policy-violation", "TCP", "p2p", 80),
    # ---- ICMP (GPL ICMP_INFO rules as carried by ET Open) -----------------------------------
    _s("ping_nix", 1, 2100366, 8, "GPL ICMP_INFO PING *NIX", "misc-activity", "ICMP", "icmp"),
    _s("ping_windows", 1, 2100382, 8, "GPL ICMP_INFO PING Windows", "misc-activity", "ICMP", "icmp"),
    _s("ping_generic", 1, 2100384, 6, "GPL ICMP_INFO PING", "misc-activity", "ICMP", "icmp"),
    _s("echo_reply", 1, 2100408, 6, "GPL ICMP_INFO Echo Reply", "misc-activity", "ICMP", "icmp"),
    _s("unreach_host", 1, 2100399, 7, "GPL ICMP_INFO Destination Unreachable Host Unreachable", "misc-activity",
       "ICMP", "icmp"),
    _s("unreach_port", 1, 2100402, 8, "GPL ICMP_INFO Destination Unreachable Port Unreachable", "misc-activity",
       "ICMP", "icmp"),
)

#: All signatures by key.
SIGNATURES: dict[str, Signature] = {sig.key: sig for sig in _CATALOGUE}


def signature(key: str) -> Signature:
    """Return the catalogue entry named ``key`` (``KeyError`` names unknown keys)."""
    try:
        return SIGNATURES[key]
    except KeyError:
        raise KeyError(f"unknown signature key {key!r}") from None


def _check_catalogue() -> None:
    if len(SIGNATURES) != len(_CATALOGUE):
        raise AssertionError("duplicate signature key in the catalogue")
    ids = [(s.gid, s.sid) for s in _CATALOGUE]
    if len(set(ids)) != len(ids):
        raise AssertionError("duplicate gid:sid in the catalogue")
    for s in _CATALOGUE:
        if s.classtype not in CLASSTYPES or s.family not in FAMILIES or s.protocol not in ("TCP", "UDP", "ICMP"):
            raise AssertionError(f"bad catalogue entry {s.key}")


_check_catalogue()

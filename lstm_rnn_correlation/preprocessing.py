"""Preprocessing: from raw alert logs to the data set CSV (``incident``, ``alert``, ``cut``).

Three recipes write the same CSV:

* :func:`preprocess_mcfp`, the original's recipe (see METHOD.md, "Preparing data"): one
  Snort log per malware capture (one incident, one known victim IP each) and a benign
  recording.  Parse; discard benign alerts that touch IPs known to be infected (with a
  before/after report of the priority and rule distributions); merge in time (shift each
  incident by a random offset so that its whole span lies inside the benign recording's
  span); merge in IP space (replace each incident's victim IP by a random private IP seen
  in the benign data); rebuild the alert lines; sample benign down to the malicious count
  (50/50); shuffle; deal into cuts 0-9, stratified per incident; write the CSV, a small
  test CSV, overview tables and time-span plots.
* :func:`preprocess_cic_ids_2017`: label alerts of any supported format from incident
  descriptions (label, attacker IPs, victim IPs, start, stop), ignoring NAT router IPs;
  cap each label; drop benign to a fixed total.
* :func:`preprocess_ait_ads`: the AIT Alert Data Set's CSV; attack phases (``time_label``)
  become incidents, ``false_positive`` alerts are benign.

Everything random draws from one seed (each step from its own stream derived from it), so
the same seed gives the same bytes.  Every file is written atomically.

Outputs beside ``out`` (``alerts.csv`` here):

* ``alerts.csv``: the data set, columns exactly ``incident``, ``alert``, ``cut``; incident is
  an integer id or the string ``benign``.
* ``alerts_test.csv``: at most 100 alerts per incident and cut (a small test file).
* ``alerts_incidents.csv``: incident id, name and alert count (the name map).
* ``alerts_report/``: tables (CSV), plots (PNG) and ``report.json`` (counts, warnings).
"""

from __future__ import annotations

import argparse
import csv
import importlib.machinery
import importlib.util
import ipaddress
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.fileio import write_csv_atomic, write_text_atomic

BENIGN = "benign"
N_CUTS = 10
TEST_CAP = 100
RECIPES = ("mcfp", "cic-ids-2017", "ait-ads")
SHORTFALL_POLICIES = ("keep", "error", "downsample-malicious")

# Defaults of the capped recipes.  With them the AIT-ADS russellmitchell scenario gives
# 4 x 200 alerts of its large phases, all 56 alerts of its six small ones and 850 benign
# alerts: about 1,700 alerts, i.e. about 1,500 training alerts per cut as in METHOD.md.
CAP_PER_INCIDENT = 200
AIT_BENIGN_TOTAL = 850
AIT_BENIGN_LABEL = "false_positive"
BENIGN_WINDOWS = ("attacks", "all")

# One independent random stream per step, so that changing one step's draws never
# changes another's.
_STEP = {"time": 1, "ip": 2, "benign": 3, "shuffle": 4, "cap": 5, "plot": 6}


def _rng(seed: int, step: str) -> np.random.Generator:
    return np.random.default_rng([_STEP[step], int(seed)])


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _incident_key(value) -> tuple:
    """Sort key: integer incidents by id, benign last."""
    return (1, 0) if value == BENIGN else (0, int(value))


# --------------------------------------------------------------------------- results


@dataclass
class PreprocessResult:
    """What a recipe produced.

    Attributes
    ----------
    data : the data set as written (``incident``, ``alert``, ``cut``), in file order.
    test_data : the small test set as written (same columns).
    records : the final alerts with every parsed field plus ``incident``, ``alert``, ``cut``.
    names : incident id -> name.
    tables : name -> DataFrame of every table written to the report folder.
    report : JSON-able summary (counts, spans, warnings), also written as ``report.json``.
    paths : name -> Path of every file written (``data``, ``test``, ``names``, tables, plots).
    """

    data: pd.DataFrame
    test_data: pd.DataFrame
    records: pd.DataFrame
    names: dict
    tables: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)

    def summary(self) -> str:
        """A few lines for the terminal: counts per incident and where the files went."""
        counts = self.data["incident"].astype(str).value_counts()
        n_benign = int(counts.get(BENIGN, 0))
        lines = [
            f"{len(self.data)} alerts ({len(self.data) - n_benign} malicious in "
            f"{len(counts) - (1 if n_benign else 0)} incidents, {n_benign} benign) "
            f"-> {self.paths.get('data')}",
            f"test set: {len(self.test_data)} alerts -> {self.paths.get('test')}",
            f"report: {self.paths.get('report_dir')}",
        ]
        lines += [f"warning: {w}" for w in self.report.get("warnings", [])]
        return "\n".join(lines)


# --------------------------------------------------------------------------- config

_REQUIRED_CONFIG_NAMES = ("INCIDENTS", "BENIGN")


def load_data_config(path: str | Path = "data_cfg.py", *, ensure: bool = True):
    """Import a ``data_cfg.py`` from a path and check that it lists the data.

    Parameters
    ----------
    path : the configuration file (Python).  It must define ``INCIDENTS`` (a list of dicts
        with ``incident`` (int), ``path`` and ``victim_ip``, optionally ``name``) and
        ``BENIGN`` (a list of dicts with ``path``, optionally ``name``); it may define
        ``DISCARD_IP_LISTS`` (paths of IP lists), ``FORMAT`` (alert format, default
        ``"auto"``), ``YEAR`` (year for timestamps without one) and ``ensure_data()``.
    ensure : call the module's ``ensure_data()`` (which generates missing default data).

    Returns
    -------
    The imported module.  Relative data paths in it are resolved against the file's folder
    by :func:`config_sources`.

    Raises
    ------
    UserError : missing file, a file that fails to import, or missing/ill-formed names.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"data config {path} is a folder; give the data_cfg.py file")
    if not path.is_file():
        raise UserError(f"data config {path} does not exist (give --config PATH)")
    name = f"_lstm_rnn_correlation_data_cfg_{zlib.crc32(str(path.resolve()).encode()):08x}"
    # any file name works: the loader is chosen here, not from the suffix
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except UserError:
        raise
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else str(path)
        raise UserError(f"data config {where}: syntax error: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"data config {path} is not UTF-8 text ({exc.reason})") from None
    except Exception as exc:  # a user's file: report any failure in one line
        raise UserError(f"data config {path} failed to load: {type(exc).__name__}: {exc}") from None
    finally:
        sys.modules.pop(name, None)
    missing = [n for n in _REQUIRED_CONFIG_NAMES if not hasattr(module, n)]
    if missing:
        raise UserError(f"data config {path} does not define {', '.join(missing)}")
    ensure_fn = getattr(module, "ensure_data", None)
    if ensure and callable(ensure_fn):
        try:
            ensure_fn()
        except UserError:
            raise
        except Exception as exc:
            raise UserError(f"data config {path}: ensure_data() failed: {type(exc).__name__}: {exc}") from None
    config_sources(module)  # validate now, with the file named in every message
    return module


def _config_path(config) -> Path:
    return Path(getattr(config, "__file__", None) or ".").resolve()


def _resolve(config, value) -> Path:
    path = Path(value)
    if not path.is_absolute():
        path = _config_path(config).parent / path
    return path


def config_sources(config) -> dict:
    """Read and check the lists of a loaded data config.

    Parameters
    ----------
    config : a module or any object with the attributes described in :func:`load_data_config`.

    Returns
    -------
    dict with ``incidents`` (list of dicts incident, name, path, victim_ip), ``benign`` (list
    of dicts name, path), ``discard`` (list of Paths), ``format`` and ``year``.
    """
    where = f"data config {getattr(config, '__file__', config)}"
    incidents, seen = [], set()
    raw_incidents = getattr(config, "INCIDENTS", None)
    if not isinstance(raw_incidents, (list, tuple)) or not raw_incidents:
        raise UserError(f"{where}: INCIDENTS must be a non-empty list of dicts")
    for i, entry in enumerate(raw_incidents):
        if not isinstance(entry, dict):
            raise UserError(f"{where}: INCIDENTS[{i}] is not a dict")
        lacking = [k for k in ("incident", "path", "victim_ip") if k not in entry]
        if lacking:
            raise UserError(f"{where}: INCIDENTS[{i}] lacks {', '.join(lacking)}")
        inc = entry["incident"]
        if isinstance(inc, bool) or not isinstance(inc, (int, np.integer)):
            raise UserError(f"{where}: INCIDENTS[{i}] incident must be an integer, got {inc!r}")
        inc = int(inc)
        if inc in seen:
            raise UserError(f"{where}: incident id {inc} is listed twice")
        seen.add(inc)
        try:
            victim = str(ipaddress.ip_address(str(entry["victim_ip"]).strip()))
        except ValueError:
            raise UserError(f"{where}: INCIDENTS[{i}] victim_ip {entry['victim_ip']!r} is not an IP address") from None
        incidents.append({
            "incident": inc,
            "name": str(entry.get("name") or f"incident-{inc}"),
            "path": _resolve(config, entry["path"]),
            "victim_ip": victim,
        })
    raw_benign = getattr(config, "BENIGN", None)
    if isinstance(raw_benign, (str, Path)):
        raw_benign = [{"path": raw_benign}]
    if not isinstance(raw_benign, (list, tuple)) or not raw_benign:
        raise UserError(f"{where}: BENIGN must be a non-empty list of dicts with a path")
    benign = []
    for i, entry in enumerate(raw_benign):
        if isinstance(entry, (str, Path)):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise UserError(f"{where}: BENIGN[{i}] must be a dict with a path")
        benign.append({"name": str(entry.get("name") or Path(entry["path"]).stem),
                       "path": _resolve(config, entry["path"])})
    discard = [_resolve(config, p) for p in (getattr(config, "DISCARD_IP_LISTS", None) or [])]
    for entry in incidents + benign:
        if not entry["path"].is_file():
            raise UserError(f"{where}: alert file {entry['path']} does not exist")
    for path in discard:
        if not path.is_file():
            raise UserError(f"{where}: discard IP list {path} does not exist")
    return {
        "incidents": sorted(incidents, key=lambda e: e["incident"]),
        "benign": benign,
        "discard": discard,
        "format": str(getattr(config, "FORMAT", "auto") or "auto"),
        "year": getattr(config, "YEAR", None),
    }


# --------------------------------------------------------------------------- parsing


def _read(paths: Sequence[Path], fmt: str, year, skip_bad_lines: bool, quiet: bool):
    from lstm_rnn_correlation.formats import read_alerts

    result = read_alerts([str(p) for p in paths], fmt, skip_bad_lines=skip_bad_lines,
                         year=year, quiet=quiet)
    records = result.records.reset_index(drop=True)
    if records.empty:
        raise UserError(f"no alerts in {', '.join(str(p) for p in paths)}")
    return records, result.report


def _report_dict(report) -> dict:
    """A JSON-able view of a ParseReport (whatever fields it has)."""
    if report is None:
        return {}
    if hasattr(report, "to_dict"):
        data = report.to_dict()
    elif hasattr(report, "__dataclass_fields__"):
        data = {k: getattr(report, k) for k in report.__dataclass_fields__}
    else:
        data = dict(vars(report)) if hasattr(report, "__dict__") else {"report": str(report)}
    return json.loads(json.dumps(data, default=str))


def read_ip_list(paths: Iterable[str | Path]) -> list[str]:
    """Read IP lists: one address a line, ``#`` starts a comment, blank lines ignored.

    Parameters
    ----------
    paths : the list files.

    Returns
    -------
    The sorted unique addresses (normalised text form).

    Raises
    ------
    UserError : a missing file, or a line that is not an IP address (file and line named).
    """
    found = set()
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"IP list {path} does not exist") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"IP list {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        for lineno, line in enumerate(text.splitlines(), 1):
            value = line.split("#", 1)[0].strip()
            if not value:
                continue
            try:
                found.add(str(ipaddress.ip_address(value)))
            except ValueError:
                raise UserError(f"{path}:{lineno}: not an IP address: {value!r}") from None
    return sorted(found, key=_ip_sort_key)


def _ip_sort_key(text: str):
    ip = ipaddress.ip_address(text)
    return (ip.version, int(ip))


def _parse_ip_args(values: Iterable[str]) -> list[str]:
    """``--nat-ips`` values: each an IP address, a comma-separated list of them, or a list file."""
    ips: list[str] = []
    for value in values or []:
        if Path(value).is_file():
            ips.extend(read_ip_list([value]))
            continue
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                ips.append(str(ipaddress.ip_address(part)))
            except ValueError:
                raise UserError(f"--nat-ips: {part!r} is neither an IP address nor an existing file") from None
    return sorted(set(ips), key=_ip_sort_key)


# --------------------------------------------------------------------------- MCFP steps


def rule_ids(records: pd.DataFrame) -> pd.Series:
    """The rule id ``gid:sid`` of each alert (the revision is left out: same rule)."""
    gid = records["gid"].astype("string").fillna("?")
    sid = records["sid"].astype("string").fillna("?")
    return (gid + ":" + sid).astype(object)


def _priority_text(records: pd.DataFrame) -> pd.Series:
    return records["priority"].astype("string").fillna("none").astype(object)


@dataclass
class DiscardReport:
    """The effect of discarding benign alerts that touch listed IPs.

    Attributes
    ----------
    summary : one row: alerts before, after, removed, listed IPs, listed IPs seen.
    priority : per priority: before, after, removed counts and shares before/after.
    rules : per rule id (gid:sid, with its message): the same columns.
    """

    summary: pd.DataFrame
    priority: pd.DataFrame
    rules: pd.DataFrame


def _distribution(before: pd.Series, after: pd.Series, name: str) -> pd.DataFrame:
    b = before.value_counts()
    a = after.value_counts()
    table = pd.DataFrame({"before": b}).join(pd.DataFrame({"after": a}), how="outer")
    table = table.fillna(0).astype("int64")
    table["removed"] = table["before"] - table["after"]
    table["share_before"] = (table["before"] / max(len(before), 1)).round(6)
    table["share_after"] = (table["after"] / max(len(after), 1)).round(6)
    table.index.name = name
    return table.reset_index()


def discard_alerts(benign: pd.DataFrame, ips: Iterable[str]) -> tuple[pd.DataFrame, DiscardReport]:
    """Drop alerts whose source or destination is one of ``ips`` and report the change.

    Parameters
    ----------
    benign : parsed records (columns ``src_ip``, ``dst_ip``, ``gid``, ``sid``, ``message``,
        ``priority``).
    ips : addresses to discard (for example hosts known to be infected).

    Returns
    -------
    (kept records with a fresh index, :class:`DiscardReport`).
    """
    listed = {str(ipaddress.ip_address(str(ip))) for ip in ips}
    src = benign["src_ip"].astype(object)
    dst = benign["dst_ip"].astype(object)
    hit = (src.isin(listed) | dst.isin(listed)).to_numpy(dtype=bool)
    kept = benign.loc[~hit].reset_index(drop=True)
    seen = (set(src[hit]) | set(dst[hit])) & listed
    summary = pd.DataFrame([{
        "alerts_before": int(len(benign)), "alerts_after": int(len(kept)),
        "removed": int(hit.sum()), "listed_ips": len(listed), "listed_ips_seen": len(seen),
    }])
    priority = _distribution(_priority_text(benign), _priority_text(kept), "priority")
    priority = priority.sort_values("priority", key=lambda s: s.map(
        lambda v: (1, 0) if v == "none" else (0, int(v)))).reset_index(drop=True)
    rules_before, rules_after = rule_ids(benign), rule_ids(kept)
    rules = _distribution(rules_before, rules_after, "rule")
    messages = (pd.DataFrame({"rule": rules_before, "message": benign["message"].astype(object)})
                .drop_duplicates("rule").set_index("rule")["message"])
    rules.insert(1, "message", rules["rule"].map(messages))
    rules = rules.sort_values(["before", "rule"], ascending=[False, True]).reset_index(drop=True)
    return kept, DiscardReport(summary=summary, priority=priority, rules=rules)


def _span(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    times = frame["timestamp"].dropna()
    if times.empty:
        raise UserError("alerts have no timestamps")
    return times.min(), times.max()


def merge_in_time(benign: pd.DataFrame, incidents: pd.DataFrame, seed: int = 0
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shift each incident by a random offset so that its whole span lies in benign's span.

    The new start of incident ``i`` is drawn uniformly (in whole microseconds) from
    ``[benign start, benign stop - span_i]``; all its alerts move by the same offset, so
    the gaps between them are kept.

    Parameters
    ----------
    benign : benign records (column ``timestamp``).
    incidents : incident records (columns ``incident``, ``timestamp``).
    seed : random seed.

    Returns
    -------
    (shifted copy of ``incidents``, table with one row per incident: old and new start and
    stop, the offset and the span).

    Raises
    ------
    UserError : an incident lasts longer than the benign recording; it cannot fit without
        changing the gaps between its alerts, so it is refused rather than distorted (record
        more benign traffic, or split the capture into incidents that fit).
    """
    rng = _rng(seed, "time")
    b_start, b_stop = _span(benign)
    b_span = b_stop - b_start
    out = incidents.copy()
    rows = []
    one_us = pd.Timedelta(microseconds=1)
    for inc in sorted(out["incident"].unique(), key=_incident_key):
        mask = (out["incident"] == inc).to_numpy()
        start, stop = _span(out.loc[mask])
        span = stop - start
        if span > b_span:
            raise UserError(
                f"incident {inc} lasts {span} ({start} to {stop}), longer than the benign "
                f"recording's {b_span} ({b_start} to {b_stop}); it cannot be placed inside it")
        slack_us = int((b_span - span) // one_us)
        new_start = b_start + int(rng.integers(0, slack_us + 1)) * one_us
        offset = new_start - start
        out.loc[mask, "timestamp"] = out.loc[mask, "timestamp"] + offset
        rows.append({"incident": inc, "start_before": start, "stop_before": stop,
                     "offset": offset, "start_after": start + offset,
                     "stop_after": stop + offset, "span": span})
    table = pd.DataFrame(rows)
    table.attrs["benign_span"] = (b_start, b_stop)
    return out, table


def private_ips(records: pd.DataFrame) -> list[str]:
    """The private addresses that occur as source or destination, sorted."""
    seen = set(records["src_ip"].dropna().astype(str)) | set(records["dst_ip"].dropna().astype(str))
    out = []
    for text in seen:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip.is_private and not ip.is_loopback and not ip.is_unspecified \
                and not ip.is_link_local and not ip.is_multicast:
            out.append(str(ip))
    return sorted(out, key=_ip_sort_key)


def _ip_pattern(ip: str) -> re.Pattern:
    # An address as a whole token: not a part of a longer address or number.
    return re.compile(r"(?<![0-9A-Za-z.:])" + re.escape(ip) + r"(?![0-9A-Za-z]|\.[0-9]|:[0-9A-Fa-f]*:)")


def merge_in_ip_space(benign: pd.DataFrame, incidents: pd.DataFrame, victims: dict,
                      seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Replace each incident's victim IP by a random private IP seen in the benign data.

    The victim is replaced as source and as destination (and in the message text, where an
    address rarely appears).  Incidents get different replacement IPs as long as there are
    enough candidates of the victim's IP version; the other victims are never candidates.

    Parameters
    ----------
    benign : benign records (``src_ip``, ``dst_ip``).
    incidents : incident records (``incident``, ``src_ip``, ``dst_ip``, ``message``).
    victims : incident id -> victim IP.
    seed : random seed.

    Returns
    -------
    (edited copy of ``incidents``, table incident/victim_ip/replacement_ip/alerts_changed,
    warnings).

    Raises
    ------
    UserError : no usable private IP in the benign data, or a victim IP that occurs in
        none of its incident's alerts (a mistake in the data config).
    """
    rng = _rng(seed, "ip")
    victim_set = {str(ipaddress.ip_address(v)) for v in victims.values()}
    candidates = [ip for ip in private_ips(benign) if ip not in victim_set]
    pools = {4: [ip for ip in candidates if ipaddress.ip_address(ip).version == 4],
             6: [ip for ip in candidates if ipaddress.ip_address(ip).version == 6]}
    order = {v: list(rng.permutation(len(pool))) for v, pool in pools.items()}
    out = incidents.copy()
    for col in ("src_ip", "dst_ip", "message"):
        out[col] = out[col].astype(object)
    rows, warnings = [], []
    for inc in sorted(out["incident"].unique(), key=_incident_key):
        victim = str(ipaddress.ip_address(victims[inc]))
        version = ipaddress.ip_address(victim).version
        pool = pools[version]
        if not pool:
            raise UserError(f"no private IPv{version} address in the benign data to replace "
                            f"victim {victim} of incident {inc}")
        if not order[version]:
            warnings.append(f"more IPv{version} victims than private IPs in the benign data: "
                            f"incident {inc} shares a replacement IP")
            order[version] = list(rng.permutation(len(pool)))
        new_ip = pool[order[version].pop(0)]
        mask = (out["incident"] == inc).to_numpy()
        src_hit = mask & (out["src_ip"] == victim).to_numpy()
        dst_hit = mask & (out["dst_ip"] == victim).to_numpy()
        if not (src_hit | dst_hit).any():
            raise UserError(f"victim IP {victim} of incident {inc} occurs in none of its alerts "
                            "(check victim_ip in the data config)")
        out.loc[src_hit, "src_ip"] = new_ip
        out.loc[dst_hit, "dst_ip"] = new_ip
        pattern = _ip_pattern(victim)
        msg = out.loc[mask, "message"].astype(object)
        in_msg = msg.map(lambda m: isinstance(m, str) and pattern.search(m) is not None)
        if in_msg.any():
            idx = msg.index[in_msg.to_numpy()]
            out.loc[idx, "message"] = msg[idx].map(lambda m: pattern.sub(new_ip, m))
        rows.append({"incident": inc, "victim_ip": victim, "replacement_ip": new_ip,
                     "alerts": int(mask.sum()), "alerts_changed": int((src_hit | dst_hit).sum())})
    return out, pd.DataFrame(rows), warnings


def match_time_layout(incidents: pd.DataFrame, benign: pd.DataFrame) -> pd.DataFrame:
    """Write the incidents' timestamps the way the benign recording writes them.

    After the merge in time an incident's times are benign times, so they get the benign
    log's year layout (``year_digits``: none, two or four digits; its most common value).
    Otherwise a log captured with ``snort -y`` among year-less benign lines would give its
    incident away by the shape of its timestamps alone.

    Parameters
    ----------
    incidents, benign : parsed records (a frame without ``year_digits`` is returned as is).
    """
    if "year_digits" not in incidents.columns or "year_digits" not in benign.columns:
        return incidents
    layout = benign["year_digits"].dropna()
    if layout.empty:
        return incidents
    out = incidents.copy()
    out["year_digits"] = pd.array([int(layout.mode().iloc[0])] * len(out), dtype=out["year_digits"].dtype)
    return out


def rebuild_lines(records: pd.DataFrame, *, quiet: bool = True, builder=None) -> pd.Series:
    """Rebuild each alert's text line from its (edited) fields.

    Parameters
    ----------
    records : parsed records.
    quiet : no progress bar.
    builder : function record -> line (default :func:`formats.build_fast_line`).
    """
    from tqdm.auto import tqdm

    if builder is None:
        from lstm_rnn_correlation.formats import build_fast_line as builder
    rows = records.to_dict("records")
    lines = [builder(row) for row in tqdm(rows, desc="rebuild lines", unit="alert", disable=quiet)]
    return pd.Series(lines, index=records.index, dtype=object)


def _largest_remainder(sizes: dict, total: int) -> dict:
    """Split ``total`` over groups in proportion to ``sizes`` (each at most its size)."""
    whole = sum(sizes.values())
    quota = {k: total * n / whole for k, n in sizes.items()}
    alloc = {k: int(np.floor(q)) for k, q in quota.items()}
    left = total - sum(alloc.values())
    for k in sorted(sizes, key=lambda k: (-(quota[k] - alloc[k]), _incident_key(k)))[:left]:
        alloc[k] += 1
    return alloc


def _sample_rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` rows drawn without replacement, kept in their original order."""
    if n >= len(frame):
        return frame
    pick = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[pick]


def balance_benign(frame: pd.DataFrame, seed: int = 0, *, shortfall: str = "keep"
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Sample benign alerts down to the number of malicious ones (a 50/50 data set).

    Parameters
    ----------
    frame : alerts with column ``incident`` (``"benign"`` or an incident id).
    seed : random seed.
    shortfall : what to do when there are fewer benign than malicious alerts:
        ``"keep"`` (default) keeps every alert and reports the real benign share as a
        warning; ``"error"`` refuses; ``"downsample-malicious"`` samples the incidents down
        to the benign count, each in proportion to its size (largest remainder, at least the
        proportional floor), so the set is 50/50 again.

    Returns
    -------
    (the selected rows in their original order, warnings).
    """
    if shortfall not in SHORTFALL_POLICIES:
        raise UserError(f"unknown benign shortfall policy {shortfall!r}; use one of {', '.join(SHORTFALL_POLICIES)}")
    rng = _rng(seed, "benign")
    is_benign = (frame["incident"] == BENIGN).to_numpy()
    benign, malicious = frame.loc[is_benign], frame.loc[~is_benign]
    warnings = []
    if len(benign) >= len(malicious):
        benign = _sample_rows(benign, len(malicious), rng)
    elif shortfall == "error":
        raise UserError(f"only {len(benign)} benign alerts for {len(malicious)} malicious ones; "
                        "a 50/50 data set needs at least as many benign alerts")
    elif shortfall == "keep":
        share = len(benign) / max(len(benign) + len(malicious), 1)
        warnings.append(f"only {len(benign)} benign alerts for {len(malicious)} malicious ones: "
                        f"all kept, benign share {share:.1%} instead of 50%")
    else:
        sizes = malicious["incident"].value_counts().to_dict()
        alloc = _largest_remainder(sizes, len(benign))
        parts = []
        for inc in sorted(sizes, key=_incident_key):
            part = malicious.loc[malicious["incident"] == inc]
            parts.append(_sample_rows(part, alloc[inc], rng))
        malicious = pd.concat(parts)
        warnings.append(f"only {len(benign)} benign alerts: incidents sampled down to "
                        f"{len(malicious)} alerts in proportion to their sizes")
    chosen = pd.concat([benign, malicious])
    return frame.loc[frame.index.isin(chosen.index)], warnings


def assign_cuts(incidents: Sequence, n_cuts: int = N_CUTS) -> np.ndarray:
    """Deal alerts into cuts ``0..n_cuts-1``, stratified per incident, in the given order.

    The alerts of each incident go round-robin over the cuts, so an incident's count per
    cut differs by at most one between cuts.  Each incident starts where the previous one
    stopped (incidents in id order, benign last), so the cut totals differ by at most one
    too.  Call it on shuffled alerts: the order decides which alert lands where.

    Parameters
    ----------
    incidents : the incident label of each alert.
    n_cuts : number of cuts.

    Returns
    -------
    int array of cut numbers, aligned with ``incidents``.
    """
    if n_cuts < 1:
        raise UserError(f"number of cuts must be at least 1, got {n_cuts}")
    labels = pd.Series(list(incidents), dtype=object)
    cuts = np.zeros(len(labels), dtype=np.int64)
    start = 0
    for inc in sorted(labels.unique(), key=_incident_key):
        where = np.flatnonzero((labels == inc).to_numpy())
        cuts[where] = (start + np.arange(len(where))) % n_cuts
        start = (start + len(where)) % n_cuts
    return cuts


def _cap_per_incident(frame: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    """At most ``cap`` alerts of each incident (a seeded sample); benign untouched."""
    if cap is None:
        return frame
    if cap < 1:
        raise UserError(f"cap per incident must be at least 1, got {cap}")
    rng = _rng(seed, "cap")
    parts = []
    for inc in sorted(frame["incident"].unique(), key=_incident_key):
        part = frame.loc[frame["incident"] == inc]
        parts.append(part if inc == BENIGN else _sample_rows(part, cap, rng))
    chosen = pd.concat(parts)
    return frame.loc[frame.index.isin(chosen.index)]


def _benign_to_total(frame: pd.DataFrame, total: int | None, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Drop benign alerts to ``total`` (None: as many as the malicious ones)."""
    is_benign = (frame["incident"] == BENIGN).to_numpy()
    n_benign, n_mal = int(is_benign.sum()), int((~is_benign).sum())
    target = n_mal if total is None else int(total)
    if target < 0:
        raise UserError(f"benign total must be non-negative, got {total}")
    warnings = []
    if n_benign < target:
        warnings.append(f"only {n_benign} benign alerts, fewer than the benign total {target}: all kept")
    benign = _sample_rows(frame.loc[is_benign], target, _rng(seed, "benign"))
    chosen = pd.concat([benign, frame.loc[~is_benign]])
    return frame.loc[frame.index.isin(chosen.index)], warnings


def shuffle_and_cut(frame: pd.DataFrame, seed: int = 0, n_cuts: int = N_CUTS) -> pd.DataFrame:
    """Shuffle the alerts (seeded) and add the stratified ``cut`` column.

    Parameters
    ----------
    frame : alerts with columns ``incident`` and ``alert``.
    seed : random seed.
    n_cuts : number of cuts.
    """
    rng = _rng(seed, "shuffle")
    out = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    out["cut"] = assign_cuts(out["incident"], n_cuts)
    return out


def test_subset(data: pd.DataFrame, cap: int = TEST_CAP) -> pd.DataFrame:
    """The small test set: the first ``cap`` alerts of each (incident, cut), order kept."""
    key = data["incident"].astype(str) + "\x00" + data["cut"].astype(str)
    return data.loc[key.groupby(key, sort=False).cumcount().to_numpy() < cap]


test_subset.__test__ = False  # not a pytest test


# --------------------------------------------------------------------------- tables


def _priority_columns(records: pd.DataFrame) -> pd.DataFrame:
    pr = _priority_text(records)
    table = pd.crosstab(records["incident"].astype(str), pr)
    ordered = sorted(table.columns, key=lambda v: (1, 0) if v == "none" else (0, int(v)))
    table = table[ordered]
    table.columns = [f"priority_{c}" for c in ordered]
    return table


def overview_table(records: pd.DataFrame, names: dict) -> pd.DataFrame:
    """Alerts per incident: count, first and last time, span and counts per priority.

    Parameters
    ----------
    records : alerts with ``incident``, ``timestamp`` and ``priority``.
    names : incident id -> name.
    """
    rows = []
    keys = sorted(records["incident"].unique(), key=_incident_key)
    for inc in keys:
        part = records.loc[records["incident"] == inc]
        times = part["timestamp"].dropna()
        rows.append({"incident": inc, "name": BENIGN if inc == BENIGN else names.get(inc, str(inc)),
                     "alerts": int(len(part)),
                     "start": times.min() if len(times) else pd.NaT,
                     "stop": times.max() if len(times) else pd.NaT})
    table = pd.DataFrame(rows)
    table["span"] = table["stop"] - table["start"]
    prio = _priority_columns(records)
    prio = prio.reindex([str(k) for k in keys]).fillna(0).astype("int64").reset_index(drop=True)
    table = pd.concat([table, prio], axis=1)
    total = {"incident": "total", "name": "", "alerts": int(table["alerts"].sum()),
             "start": records["timestamp"].min(), "stop": records["timestamp"].max()}
    total["span"] = total["stop"] - total["start"]
    total.update({c: int(prio[c].sum()) for c in prio.columns})
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def cuts_table(data: pd.DataFrame) -> pd.DataFrame:
    """Alerts per incident (rows, benign last, then a total) and cut (columns)."""
    table = pd.crosstab(data["incident"].astype(str), data["cut"])
    keys = sorted(data["incident"].unique(), key=_incident_key)
    table = table.reindex([str(k) for k in keys])
    table.loc["total"] = table.sum()
    table.columns = [f"cut_{c}" for c in table.columns]
    table.index.name = "incident"
    return table.reset_index()


def _names_table(data: pd.DataFrame, names: dict) -> pd.DataFrame:
    counts = data["incident"].astype(str).value_counts()
    keys = sorted(names, key=_incident_key) + [BENIGN]
    return pd.DataFrame([{"incident": k, "name": BENIGN if k == BENIGN else names[k],
                          "alerts": int(counts.get(str(k), 0))} for k in keys])


# --------------------------------------------------------------------------- writing


def _out_paths(out, test_out, report_dir) -> tuple[Path, Path, Path, Path]:
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise UserError(f"--out must name a .csv file, got {out}")
    if out.exists() and out.is_dir():
        raise UserError(f"--out {out} is a folder")
    test = Path(test_out) if test_out else out.with_name(f"{out.stem}_test.csv")
    names = out.with_name(f"{out.stem}_incidents.csv")
    report = Path(report_dir) if report_dir else out.with_name(f"{out.stem}_report")
    if len({out.resolve(), test.resolve(), names.resolve()}) < 3:
        raise UserError(f"--out and --test-out must be different files ({out}, {test})")
    if report.exists() and not report.is_dir():
        raise UserError(f"report folder {report} exists and is not a folder")
    return out, test, names, report


def _csv_text_ready(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_timedelta64_dtype(out[col]):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else str(v))
    return out


def _write_table(table: pd.DataFrame, path: Path) -> None:
    write_csv_atomic(_csv_text_ready(table), path, lineterminator="\n")


def _write_dataset(data: pd.DataFrame, path: Path) -> None:
    write_csv_atomic(data[["incident", "alert", "cut"]], path, lineterminator="\n")


def _json_default(value):
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _finish(frame: pd.DataFrame, names: dict, *, recipe: str, seed: int, out, test_out,
            report_dir, tables: dict, report: dict, plots: dict, n_cuts: int,
            test_cap: int) -> PreprocessResult:
    """Shuffle, cut, write the CSVs, tables, plots and report; build the result."""
    from lstm_rnn_correlation.preprocessing_plots import save_time_span_plot

    out, test_path, names_path, report_path = _out_paths(out, test_out, report_dir)
    records = shuffle_and_cut(frame, seed, n_cuts)
    records["incident"] = records["incident"].astype(object)
    data = records[["incident", "alert", "cut"]].copy()
    test = test_subset(data, test_cap).reset_index(drop=True)
    tables = dict(tables)
    tables["overview_after"] = overview_table(records, names)
    tables["cuts"] = cuts_table(data)
    counts = data["incident"].astype(str).value_counts()
    n_benign = int(counts.get(BENIGN, 0))
    report = {
        "recipe": recipe, "seed": seed, "n_cuts": n_cuts, "test_cap": test_cap,
        **report,
        "alerts": int(len(data)), "malicious": int(len(data) - n_benign), "benign": n_benign,
        "benign_share": round(n_benign / max(len(data), 1), 6),
        "incidents": {str(k): {"name": names[k], "alerts": int(counts.get(str(k), 0))}
                      for k in sorted(names, key=_incident_key)},
        "test_alerts": int(len(test)),
    }
    report.setdefault("warnings", [])
    paths = {"data": out, "test": test_path, "names": names_path, "report_dir": report_path}
    # Report first, data set last: a reader that sees the CSV sees a finished run.
    for name, table in tables.items():
        paths[name] = report_path / f"{name}.csv"
        _write_table(table, paths[name])
    for name, (plot_frame, title) in plots.items():
        paths[name] = report_path / f"{name}.png"
        save_time_span_plot(plot_frame, paths[name], title, names=names, seed=seed)
    if "timespan_after" not in plots:
        paths["timespan_after"] = report_path / "timespan_after.png"
        save_time_span_plot(records, paths["timespan_after"], "alerts in the data set",
                            names=names, seed=seed)
    paths["report"] = report_path / "report.json"
    write_text_atomic(paths["report"], json.dumps(report, indent=2, sort_keys=True,
                                                  default=_json_default) + "\n")
    names_table = _names_table(data, names)
    _write_table(names_table, names_path)
    _write_dataset(test, test_path)
    _write_dataset(data, out)
    tables["names"] = names_table
    return PreprocessResult(data=data, test_data=test, records=records, names=dict(names),
                            tables=tables, report=report, paths=paths)


# --------------------------------------------------------------------------- recipes


def preprocess_mcfp(config="data_cfg.py", out="alerts.csv", *, test_out=None, report_dir=None,
                    seed: int = 0, fmt: str | None = None, year: int | None = None,
                    skip_bad_lines: bool = False, benign_shortfall: str = "keep",
                    n_cuts: int = N_CUTS, test_cap: int = TEST_CAP,
                    quiet: bool = True) -> PreprocessResult:
    """The original's MCFP recipe: malware-capture incidents merged into a benign recording.

    Parameters
    ----------
    config : path of a ``data_cfg.py`` or an already loaded config (see
        :func:`load_data_config`).
    out : data set CSV to write; the test CSV, the name map and the report folder go beside
        it unless given.
    test_out : small test CSV (default ``<out stem>_test.csv``).
    report_dir : folder for tables, plots and ``report.json`` (default ``<out stem>_report``).
    seed : one seed for every random step.
    fmt : alert format (default: the config's ``FORMAT``, else ``"auto"``).
    year : year for timestamps without one (default: the config's ``YEAR``).
    skip_bad_lines : skip and count lines that do not parse instead of stopping.
    benign_shortfall : policy when benign alerts are fewer than malicious ones (see
        :func:`balance_benign`).
    n_cuts, test_cap : number of cuts; most alerts per incident and cut in the test CSV.
    quiet : no progress bars.

    Returns
    -------
    :class:`PreprocessResult`.
    """
    from tqdm.auto import tqdm

    seed = _check_seed(seed)
    _out_paths(out, test_out, report_dir)  # refuse bad output paths before any work
    if isinstance(config, (str, Path)):
        config = load_data_config(config)
    sources = config_sources(config)
    fmt = fmt or sources["format"]
    year = year if year is not None else sources["year"]
    names = {e["incident"]: e["name"] for e in sources["incidents"]}
    victims = {e["incident"]: e["victim_ip"] for e in sources["incidents"]}

    parse_reports = {}
    benign, rep = _read([e["path"] for e in sources["benign"]], fmt, year, skip_bad_lines, quiet)
    parse_reports[BENIGN] = _report_dict(rep)
    benign["incident"] = BENIGN
    parts = []
    for entry in tqdm(sources["incidents"], desc="parse incidents", unit="file", disable=quiet):
        recs, rep = _read([entry["path"]], fmt, year, skip_bad_lines, True)
        parse_reports[str(entry["incident"])] = _report_dict(rep)
        recs["incident"] = entry["incident"]
        parts.append(recs)
    incidents = pd.concat(parts, ignore_index=True)
    incidents["incident"] = incidents["incident"].astype(object)
    benign["incident"] = benign["incident"].astype(object)

    discard_ips = read_ip_list(sources["discard"])
    benign_kept, discard = discard_alerts(benign, discard_ips)
    if benign_kept.empty:
        raise UserError("no benign alerts left after discarding the listed IPs")
    overview_before = overview_table(pd.concat([incidents, benign], ignore_index=True), names)

    shifted, time_table = merge_in_time(benign_kept, incidents, seed)
    merged, ip_table, warnings = merge_in_ip_space(benign_kept, shifted, victims, seed)
    for inc, victim in victims.items():
        if (benign_kept["src_ip"].astype(object).eq(victim) | benign_kept["dst_ip"].astype(object).eq(victim)).any():
            warnings.append(f"victim IP {victim} of incident {inc} also occurs in benign alerts")

    merged = match_time_layout(merged, benign_kept)
    combined = pd.concat([merged, benign_kept], ignore_index=True)
    combined["incident"] = combined["incident"].astype(object)
    balanced, more = balance_benign(combined, seed, shortfall=benign_shortfall)
    warnings += more
    balanced = balanced.copy()
    balanced["alert"] = rebuild_lines(balanced, quiet=quiet)

    b_start, b_stop = _span(benign_kept)
    report = {
        "inputs": {"config": str(getattr(config, "__file__", "")), "format": fmt, "year": year,
                   "incidents": {str(e["incident"]): str(e["path"]) for e in sources["incidents"]},
                   "benign": [str(e["path"]) for e in sources["benign"]],
                   "discard_ip_lists": [str(p) for p in sources["discard"]]},
        "parse": parse_reports,
        "discard": discard.summary.iloc[0].to_dict(),
        "benign_span": {"start": b_start, "stop": b_stop},
        "benign_shortfall": benign_shortfall,
        "warnings": warnings,
    }
    tables = {
        "overview_before": overview_before,
        "discard_summary": discard.summary,
        "discard_priority": discard.priority,
        "discard_rules": discard.rules,
        "time_shift": time_table,
        "ip_map": ip_table,
    }
    before_plot = pd.concat([incidents[["incident", "timestamp"]], benign_kept[["incident", "timestamp"]]],
                            ignore_index=True)
    after_plot = pd.concat([merged[["incident", "timestamp"]], benign_kept[["incident", "timestamp"]]],
                           ignore_index=True)
    plots = {"timespan_before": (before_plot, "before the merge (as recorded)"),
             "timespan_after": (after_plot, "after the merge in time")}
    return _finish(balanced, names, recipe="mcfp", seed=seed, out=out, test_out=test_out,
                   report_dir=report_dir, tables=tables, report=report, plots=plots,
                   n_cuts=n_cuts, test_cap=test_cap)


# ----- CIC-IDS-2017

_DESCRIPTION_COLUMNS = {
    "label": ("label", "attack", "name"),
    "attacker": ("attacker", "attacker_ip", "attacker_ips", "attackers"),
    "victim": ("victim", "victim_ip", "victim_ips", "victims"),
    "start": ("start", "begin", "from"),
    "stop": ("stop", "end", "to"),
}


def _split_ips(text: str, path: Path, lineno: int, column: str) -> list[str]:
    out = []
    for part in re.split(r"[\s;|,]+", text or ""):
        if not part or part == "-":
            continue
        try:
            out.append(str(ipaddress.ip_address(part)))
        except ValueError:
            raise UserError(f"{path}:{lineno}: {column}: not an IP address: {part!r}") from None
    return out


def _parse_time(text: str, path: Path, lineno: int, column: str) -> pd.Timestamp:
    try:
        value = pd.Timestamp(str(text).strip())
    except (ValueError, TypeError):
        value = pd.NaT
    if pd.isna(value):
        raise UserError(f"{path}:{lineno}: {column}: cannot read a time from {text!r}")
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value


def read_incident_descriptions(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read a CSV of incident descriptions (one attack interval a row).

    Columns (header required, case-insensitive): ``label``, ``attacker`` (IP addresses
    separated by spaces or ``;``), ``victim`` (likewise), ``start`` and ``stop`` (times,
    e.g. ``2017-07-05 09:47:00``; a time with a zone is converted to UTC and compared with
    the alerts' times as they are, so give both in the same clock), and optionally
    ``incident`` (an integer id).  Several rows may share a label (one attack in several
    intervals): they form one incident.

    Parameters
    ----------
    path : the CSV file.

    Returns
    -------
    (DataFrame with one row per description: lineno, label, incident, attacker, victim (lists of
    IPs), start, stop; map incident id -> label).  Without an ``incident`` column, ids are
    1, 2, ... in the order labels first appear.

    Raises
    ------
    UserError : missing file or columns, and any bad value, naming file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"incident descriptions {path} do not exist") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"incident descriptions {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise UserError(f"incident descriptions {path} are empty")
    lower = [h.strip().lower() for h in header]
    where = {}
    for col, aliases in _DESCRIPTION_COLUMNS.items():
        hits = [i for i, h in enumerate(lower) if h in aliases]
        if not hits:
            raise UserError(f"{path}:1: no {col!r} column (header: {', '.join(header)})")
        where[col] = hits[0]
    id_col = lower.index("incident") if "incident" in lower else None
    rows, names, by_label = [], {}, {}
    for lineno, fields in enumerate(reader, 2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise UserError(f"{path}:{lineno}: {len(fields)} fields, the header has {len(header)}")
        label = fields[where["label"]].strip()
        if not label:
            raise UserError(f"{path}:{lineno}: empty label")
        if label.lower() == BENIGN:
            raise UserError(f"{path}:{lineno}: a description cannot be labelled benign")
        if id_col is not None:
            try:
                inc = int(fields[id_col])
            except ValueError:
                raise UserError(f"{path}:{lineno}: incident must be an integer, got {fields[id_col]!r}") from None
            if by_label.get(label, inc) != inc or names.get(inc, label) != label:
                raise UserError(f"{path}:{lineno}: label {label!r} and incident {inc} disagree with an earlier row")
        else:
            inc = by_label.get(label, len(by_label) + 1)
        by_label[label] = inc
        names[inc] = label
        start = _parse_time(fields[where["start"]], path, lineno, "start")
        stop = _parse_time(fields[where["stop"]], path, lineno, "stop")
        if stop < start:
            raise UserError(f"{path}:{lineno}: stop {stop} is before start {start}")
        rows.append({"lineno": lineno, "label": label, "incident": inc,
                     "attacker": _split_ips(fields[where["attacker"]], path, lineno, "attacker"),
                     "victim": _split_ips(fields[where["victim"]], path, lineno, "victim"),
                     "start": start, "stop": stop})
    if not rows:
        raise UserError(f"incident descriptions {path} list no incident")
    return pd.DataFrame(rows), names


def label_alerts(records: pd.DataFrame, descriptions: pd.DataFrame, nat_ips: Iterable[str] = ()
                 ) -> tuple[pd.Series, pd.DataFrame]:
    """Label each alert from the incident descriptions.

    An alert gets the incident of a description whose ``[start, stop]`` holds its time and
    one of whose IPs (attacker or victim, NAT router IPs ignored) is its source or
    destination.  Where several descriptions match, the first in the file wins.  Every other
    alert is benign.

    Parameters
    ----------
    records : parsed records (``timestamp``, ``src_ip``, ``dst_ip``).
    descriptions : from :func:`read_incident_descriptions`.
    nat_ips : addresses never used for matching (NAT routers that stand for many hosts).

    Returns
    -------
    (object Series of labels: incident ids or ``"benign"``; table with the alerts matched
    per description row).
    """
    nat = {str(ipaddress.ip_address(str(ip))) for ip in nat_ips}
    labels = pd.Series(BENIGN, index=records.index, dtype=object)
    free = np.ones(len(records), dtype=bool)
    ts = records["timestamp"]
    src = records["src_ip"].astype(object)
    dst = records["dst_ip"].astype(object)
    rows = []
    for desc in descriptions.itertuples(index=False):
        ips = (set(desc.attacker) | set(desc.victim)) - nat
        hit = ((ts >= desc.start) & (ts <= desc.stop) & (src.isin(ips) | dst.isin(ips))).to_numpy(dtype=bool)
        new = hit & free
        labels.iloc[np.flatnonzero(new)] = desc.incident
        free &= ~hit
        rows.append({"lineno": desc.lineno, "label": desc.label, "incident": desc.incident,
                     "ips_used": " ".join(sorted(ips, key=_ip_sort_key)),
                     "start": desc.start, "stop": desc.stop,
                     "alerts_matched": int(hit.sum()), "alerts_labelled": int(new.sum())})
    return labels, pd.DataFrame(rows)


def _line_texts(records: pd.DataFrame, quiet: bool) -> pd.Series:
    from lstm_rnn_correlation.formats import build_alert_line

    return rebuild_lines(records, quiet=quiet, builder=build_alert_line)


def preprocess_cic_ids_2017(inputs: Sequence, incidents_csv, out="alerts.csv", *,
                            nat_ips: Iterable[str] = (), test_out=None, report_dir=None,
                            seed: int = 0, fmt: str = "auto", year: int | None = None,
                            skip_bad_lines: bool = False, cap_per_incident: int | None = CAP_PER_INCIDENT,
                            benign_total: int | None = None, n_cuts: int = N_CUTS,
                            test_cap: int = TEST_CAP, quiet: bool = True) -> PreprocessResult:
    """The CIC-IDS-2017 recipe: label alerts by incident descriptions, cap, cut, write.

    Parameters
    ----------
    inputs : alert files (any format :func:`formats.read_alerts` reads).
    incidents_csv : incident descriptions (see :func:`read_incident_descriptions`).
    out, test_out, report_dir : as for :func:`preprocess_mcfp`.
    nat_ips : NAT router addresses that never decide a label.
    seed : one seed for every random step.
    fmt, year, skip_bad_lines : passed to the parser.
    cap_per_incident : at most this many alerts per label (seeded sample; None: no cap).
    benign_total : benign alerts kept (seeded sample; None: as many as the malicious ones).
        When fewer exist, all are kept and a warning says so.
    n_cuts, test_cap, quiet : as for :func:`preprocess_mcfp`.
    """
    seed = _check_seed(seed)
    _out_paths(out, test_out, report_dir)
    if not inputs:
        raise UserError("the cic-ids-2017 recipe needs alert files (--input)")
    descriptions, names = read_incident_descriptions(incidents_csv)
    nat = sorted({str(ipaddress.ip_address(str(ip))) for ip in nat_ips}, key=_ip_sort_key)
    records, parse_rep = _read([Path(p) for p in inputs], fmt, year, skip_bad_lines, quiet)
    labels, label_table = label_alerts(records, descriptions, nat)
    records = records.copy()
    records["incident"] = labels
    warnings = [f"description on line {r.lineno} ({r.label}) matched no alert"
                for r in label_table.itertuples() if r.alerts_matched == 0]
    warnings += [f"description on line {r.lineno} ({r.label}) has no IP left after removing NAT IPs"
                 for r in label_table.itertuples() if not r.ips_used]
    overview_before = overview_table(records, names)
    capped = _cap_per_incident(records, cap_per_incident, seed)
    kept, more = _benign_to_total(capped, benign_total, seed)
    warnings += more
    kept = kept.copy()
    kept["alert"] = _line_texts(kept, quiet)
    report = {
        "inputs": {"alerts": [str(p) for p in inputs], "incidents_csv": str(incidents_csv),
                   "nat_ips": nat, "format": fmt, "year": year},
        "parse": _report_dict(parse_rep),
        "cap_per_incident": cap_per_incident, "benign_total": benign_total,
        "labelled_before_cap": {str(k): int(v) for k, v in records["incident"].astype(str).value_counts().sort_index().items()},
        "warnings": warnings,
    }
    tables = {"overview_before": overview_before, "labels": label_table}
    plots = {"timespan_before": (records[["incident", "timestamp"]], "all labelled alerts")}
    return _finish(kept, names, recipe="cic-ids-2017", seed=seed, out=out, test_out=test_out,
                   report_dir=report_dir, tables=tables, report=report, plots=plots,
                   n_cuts=n_cuts, test_cap=test_cap)


# ----- AIT-ADS


def ait_phase_ids(records: pd.DataFrame) -> dict:
    """Incident ids of the AIT-ADS attack phases: 1, 2, ... by first alert time, then name.

    Parameters
    ----------
    records : AIT-ADS records with ``time_label`` and ``timestamp``.

    Returns
    -------
    dict phase name -> incident id (``false_positive`` excluded).
    """
    attacks = records.loc[records["time_label"].astype(str) != AIT_BENIGN_LABEL]
    first = attacks.groupby(attacks["time_label"].astype(str))["timestamp"].min()
    order = sorted(first.index, key=lambda name: (first[name], name))
    return {name: i for i, name in enumerate(order, 1)}


def preprocess_ait_ads(inputs: Sequence, out="alerts.csv", *, test_out=None, report_dir=None,
                       seed: int = 0, cap_per_incident: int | None = CAP_PER_INCIDENT,
                       benign_total: int | None = AIT_BENIGN_TOTAL, n_cuts: int = N_CUTS,
                       test_cap: int = TEST_CAP, skip_bad_lines: bool = False,
                       benign_window: str = "attacks", quiet: bool = True) -> PreprocessResult:
    """Import an AIT-ADS scenario: attack phases become incidents, false positives benign.

    Incident ids are 1, 2, ... in the order the phases begin (ties by name); the name map is
    written beside the CSV.  Alert text is :func:`formats.build_alert_line`.  With the
    defaults the russellmitchell scenario gives about 1,700 alerts (about 1,500 training
    alerts per cut): large phases are sampled down to ``cap_per_incident``, small phases
    keep every alert.

    Parameters
    ----------
    inputs : AIT-ADS CSV files (``.csv`` or ``.csv.gz``), read with format ``ait-ads``.
    out, test_out, report_dir, seed, n_cuts, test_cap, quiet : as for :func:`preprocess_mcfp`.
    cap_per_incident : most alerts kept per phase (None: all).
    benign_total : false positives kept (None: as many as the malicious alerts).
    skip_bad_lines : skip and count rows that do not parse.
    benign_window : ``"attacks"`` (default) keeps only false positives raised between the
        first and the last alert of the attack phases; ``"all"`` samples them from the whole
        recording.  The scenario's attacks fall on one day while its false positives span
        four, so with ``"all"`` the date in the alert text alone gives most benign alerts
        away, a cue a SOC never has: its benign alerts arrive beside the attacks.
    """
    if benign_window not in BENIGN_WINDOWS:
        raise UserError(f"benign window must be one of {', '.join(BENIGN_WINDOWS)}, not {benign_window!r}")
    seed = _check_seed(seed)
    _out_paths(out, test_out, report_dir)
    if not inputs:
        raise UserError("the ait-ads recipe needs AIT-ADS alert CSV files (--input)")
    records, parse_rep = _read([Path(p) for p in inputs], "ait-ads", None, skip_bad_lines, quiet)
    if "time_label" not in records.columns:
        raise UserError("AIT-ADS records carry no time_label column")
    ids = ait_phase_ids(records)
    if not ids:
        raise UserError(f"no attack phase in {', '.join(str(p) for p in inputs)} (all alerts are false positives)")
    names = {i: name for name, i in ids.items()}
    records = records.copy()
    phase = records["time_label"].astype(str)
    records["incident"] = pd.Series([ids.get(p, BENIGN) for p in phase], index=records.index, dtype=object)
    overview_before = overview_table(records, names)
    false_positives_before = int((phase == AIT_BENIGN_LABEL).sum())
    if benign_window == "attacks":
        attack_times = records.loc[records["incident"] != BENIGN, "timestamp"]
        outside = (records["incident"] == BENIGN) & ~records["timestamp"].between(
            attack_times.min(), attack_times.max())
        records = records.loc[~outside]
    capped = _cap_per_incident(records, cap_per_incident, seed)
    kept, warnings = _benign_to_total(capped, benign_total, seed)
    kept = kept.copy()
    kept["alert"] = _line_texts(kept, quiet)
    report = {
        "inputs": {"alerts": [str(p) for p in inputs], "format": "ait-ads"},
        "parse": _report_dict(parse_rep),
        "cap_per_incident": cap_per_incident, "benign_total": benign_total,
        "phases_before_cap": {name: int((phase == name).sum()) for name in ids},
        "false_positives_before": false_positives_before,
        "benign_window": benign_window,
        "false_positives_in_window": int((records["incident"] == BENIGN).sum()),
        "warnings": warnings,
    }
    tables = {"overview_before": overview_before}
    plots = {"timespan_before": (records[["incident", "timestamp"]], "all alerts of the scenario")}
    return _finish(kept, names, recipe="ait-ads", seed=seed, out=out, test_out=test_out,
                   report_dir=report_dir, tables=tables, report=report, plots=plots,
                   n_cuts=n_cuts, test_cap=test_cap)


# --------------------------------------------------------------------------- one entry point


def _as_list(value) -> list[str]:
    """A list of paths from a list, or from one string separated by the OS path separator."""
    import os

    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [p for p in str(value).split(os.pathsep) if p.strip()]
    return [str(v) for v in value]


def preprocess(recipe: str = "mcfp", out="alerts.csv", *, config="data_cfg.py", inputs=None,
               incidents_csv=None, nat_ips=None, test_out=None, report_dir=None, seed: int = 0,
               fmt: str | None = None, year: int | None = None, skip_bad_lines: bool = False,
               cap_per_incident: int | None = CAP_PER_INCIDENT, benign_total: int | None = None,
               benign_shortfall: str = "keep", benign_window: str = "attacks",
               quiet: bool = True) -> PreprocessResult:
    """Run one recipe by name; what the command line and the notebook call.

    Parameters
    ----------
    recipe : ``"mcfp"``, ``"cic-ids-2017"`` or ``"ait-ads"``.
    out, test_out, report_dir, seed, quiet : see :func:`preprocess_mcfp`.
    config : data config (mcfp).
    inputs : alert files (cic-ids-2017, ait-ads): a list, or one string with paths separated
        by ``os.pathsep`` (``:`` on Linux), as an environment variable holds them.
    incidents_csv : incident descriptions (cic-ids-2017).
    nat_ips : NAT router IPs (cic-ids-2017): a list of addresses or list files, or one string
        of them separated by commas.
    fmt, year, skip_bad_lines : parser options.
    cap_per_incident : most alerts per incident (cic-ids-2017, ait-ads; None or 0: no cap).
    benign_total : benign alerts kept (cic-ids-2017: default as many as malicious; ait-ads:
        default ``AIT_BENIGN_TOTAL``).
    benign_shortfall : mcfp policy when benign alerts are fewer than malicious ones.
    benign_window : ait-ads: sample false positives from the attacks' time window
        (``"attacks"``, default) or the whole recording (``"all"``).
    """
    inputs = _as_list(inputs)
    if isinstance(nat_ips, str):
        nat_ips = [nat_ips] if nat_ips.strip() else []
    nat_ips = list(nat_ips or [])
    incidents_csv = incidents_csv or None
    cap = None if not cap_per_incident else int(cap_per_incident)
    if cap is not None and cap < 0:
        raise UserError("cap per incident must be 0 (no cap) or positive")
    common = dict(test_out=test_out or None, report_dir=report_dir or None, seed=seed, quiet=quiet)
    if recipe == "mcfp":
        if inputs or incidents_csv or nat_ips:
            raise UserError("the mcfp recipe takes its files from --config; "
                            "--input, --incidents-csv and --nat-ips belong to other recipes")
        return preprocess_mcfp(config, out, fmt=fmt, year=year, skip_bad_lines=skip_bad_lines,
                               benign_shortfall=benign_shortfall, **common)
    if recipe == "cic-ids-2017":
        if not incidents_csv:
            raise UserError("the cic-ids-2017 recipe needs --incidents-csv")
        return preprocess_cic_ids_2017(inputs, incidents_csv, out, nat_ips=_parse_ip_args(nat_ips),
                                       fmt=fmt or "auto", year=year, skip_bad_lines=skip_bad_lines,
                                       cap_per_incident=cap, benign_total=benign_total, **common)
    if recipe == "ait-ads":
        if incidents_csv or nat_ips:
            raise UserError("--incidents-csv and --nat-ips belong to the cic-ids-2017 recipe")
        total = AIT_BENIGN_TOTAL if benign_total is None else benign_total
        return preprocess_ait_ads(inputs, out, cap_per_incident=cap, benign_total=total,
                                  skip_bad_lines=skip_bad_lines, benign_window=benign_window,
                                  **common)
    raise UserError(f"unknown recipe {recipe!r}; use one of {', '.join(RECIPES)}")


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``lstm-rnn-correlation preprocess``."""
    parser.add_argument("--recipe", choices=RECIPES, default="mcfp",
                        help="mcfp: incidents and benign listed in a data config (default); "
                             "cic-ids-2017: alerts labelled by incident descriptions; "
                             "ait-ads: an AIT Alert Data Set CSV")
    parser.add_argument("--config", default="data_cfg.py", metavar="PATH",
                        help="data config for the mcfp recipe (default: data_cfg.py here)")
    parser.add_argument("--input", nargs="+", action="extend", default=[], metavar="FILE",
                        help="alert files (cic-ids-2017, ait-ads)")
    parser.add_argument("--incidents-csv", metavar="FILE",
                        help="incident descriptions: label, attacker, victim, start, stop (cic-ids-2017)")
    parser.add_argument("--nat-ips", nargs="+", action="extend", default=[], metavar="IP_OR_FILE",
                        help="NAT router IPs to ignore when labelling, or files listing them (cic-ids-2017)")
    parser.add_argument("--out", required=True, metavar="CSV", help="data set CSV to write")
    parser.add_argument("--test-out", metavar="CSV", help="small test CSV (default: <out>_test.csv)")
    parser.add_argument("--report-dir", metavar="DIR",
                        help="folder for tables, plots and report.json (default: <out>_report beside --out)")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random step (default 0)")
    parser.add_argument("--format", dest="fmt", default=None,
                        choices=("auto", "snort", "suricata-fast", "eve", "ait-ads"),
                        help="alert format (default: the config's FORMAT, else auto)")
    parser.add_argument("--year", type=int, help="year for timestamps that have none")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="skip and count alert lines that do not parse instead of stopping")
    parser.add_argument("--cap-per-incident", type=int, default=CAP_PER_INCIDENT, metavar="N",
                        help=f"most alerts per incident (cic-ids-2017, ait-ads; default {CAP_PER_INCIDENT}; 0: no cap)")
    parser.add_argument("--benign-total", type=int, metavar="N",
                        help=f"benign alerts kept (cic-ids-2017 default: as many as malicious; "
                             f"ait-ads default {AIT_BENIGN_TOTAL})")
    parser.add_argument("--benign-shortfall", choices=SHORTFALL_POLICIES, default="keep",
                        help="mcfp, when benign alerts are fewer than malicious: keep all (default), "
                             "error, or downsample-malicious")
    parser.add_argument("--benign-window", choices=BENIGN_WINDOWS, default="attacks",
                        help="ait-ads: keep false positives from the attacks' time window only "
                             "(default; the date alone would otherwise give benign alerts away) or from all")
    parser.add_argument("--quiet", action="store_true", help="no progress bars and no summary")


def run(args: argparse.Namespace) -> int:
    """Run ``lstm-rnn-correlation preprocess``; returns the exit status."""
    result = preprocess(args.recipe, args.out, config=args.config, inputs=args.input,
                        incidents_csv=args.incidents_csv, nat_ips=args.nat_ips,
                        test_out=args.test_out, report_dir=args.report_dir, seed=args.seed,
                        fmt=args.fmt, year=args.year, skip_bad_lines=args.skip_bad_lines,
                        cap_per_incident=args.cap_per_incident, benign_total=args.benign_total,
                        benign_shortfall=args.benign_shortfall, benign_window=args.benign_window,
                        quiet=args.quiet)
    if not args.quiet:
        print(result.summary())
    return 0

"""``report.html`` of ``correlate``: one self-contained page, safe for attacker-controlled text.

Alert text comes from the network (URIs, user agents, DNS names), so every piece of
text goes through :func:`text`: HTML-escaped (``< > & " '``) and with control
characters shown as visible ``\\xNN`` escapes.  The page has no scripts, no links to
other resources, inline CSS only, and a Content-Security-Policy that forbids loading
anything (``default-src 'none'``), so it opens from disk with no server and no network.
"""

from __future__ import annotations

import html
import re

#: C0/C1 control characters, DEL, and Unicode line/paragraph separators and bidi controls
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#c5cad6;font-size:13px;overflow-wrap:anywhere}
main{padding:18px 28px;max-width:1200px}
.totals{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 18px}
.card{background:#fff;border-radius:6px;padding:10px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:120px}
.card b{display:block;font-size:22px}
.card span{color:#5b6375;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
section{background:#fff;border-radius:6px;padding:12px 18px 14px;margin:0 0 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-left:5px solid #8a93a6}
section.new{border-left-color:#d9822b}
section.known{border-left-color:#2b6cd9}
section.benign{border-left-color:#8a93a6}
section h2{font-size:16px;margin:0 0 6px}
.tag{display:inline-block;font-size:11px;font-weight:600;padding:1px 7px;border-radius:9px;margin-left:6px;vertical-align:2px;text-transform:uppercase}
.tag.new{background:#fbe3cc;color:#8a4a0b}
.tag.known{background:#d6e4fb;color:#1a4a99}
.tag.benign{background:#e4e6eb;color:#4a5160}
.meta{color:#5b6375;font-size:13px;margin:0 0 8px}
.cols{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:16px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#5b6375;font-weight:600;border-bottom:1px solid #dde0e6;padding:3px 6px}
td{border-bottom:1px solid #eef0f3;padding:3px 6px;vertical-align:top;overflow-wrap:anywhere}
td.n{text-align:right;white-space:nowrap;width:1%}
pre{background:#f6f7f9;border:1px solid #e3e6eb;border-radius:4px;padding:7px 9px;margin:8px 0 0;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#5b6375;font-size:13px}
h3{font-size:14px;margin:18px 0 6px}
table.overview{background:#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin:0 0 8px}
table.overview td{white-space:nowrap}
table.overview td:last-child{white-space:normal}
"""


def text(value) -> str:
    """Any value as safe HTML text: escaped, control characters shown as ``\\xNN``.

    Parameters
    ----------
    value : anything (``None`` gives an empty string).
    """
    if value is None:
        return ""
    s = html.escape(str(value), quote=True)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", s)


def _num(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def _when(ts) -> str:
    """An ISO timestamp to the second, for reading (the CSV/JSON keep the microseconds)."""
    return str(ts).replace("T", " ")[:19]


def _span(first, last) -> str:
    if not first:
        return "no time"
    f, l_ = _when(first), _when(last if last else first)
    return f if f == l_ else f"{f} → {l_}"


def _plural(n, word: str) -> str:
    return f"{_num(n)} {word}{'' if n == 1 else 's'}"


def _table(rows, head: tuple[str, str]) -> str:
    if not rows:
        return '<p class="note">none</p>'
    body = "".join(f'<tr><td>{text(v)}</td><td class="n">{_num(int(c))}</td></tr>' for v, c in rows)
    return f"<table><tr><th>{text(head[0])}</th><th>{text(head[1])}</th></tr>{body}</table>"


def _kind(g: dict) -> str:
    if g.get("status") != "known":
        return "new"
    return "known benign pattern" if g.get("incident") == "benign" else f"known: incident {g.get('incident')}"


def _group_section(g: dict) -> str:
    status = g.get("status", "")
    benign = status == "known" and g.get("incident") == "benign"
    css = "benign" if benign else status
    if status == "known":
        tag = "known benign pattern" if benign else "known"
        title = f"Group {g['id']}: known cluster {g.get('cluster')}, incident {g.get('incident')}"
    else:
        tag = "new"
        title = f"Group {g['id']}: matches no known cluster"
    meta = (f"{_plural(g.get('size'), 'alert')} · {_span(g.get('first'), g.get('last'))} · "
            f"{_plural(g.get('n_hosts'), 'host')} · {_plural(g.get('n_signatures'), 'signature')}")
    return (f'<section class="{text(css)}" id="g-{text(g["id"])}">'
            f'<h2>{text(title)}<span class="tag {text(css)}">{text(tag)}</span></h2>'
            f'<p class="meta">{text(meta)}</p>'
            f'<div class="cols"><div>{_table(g.get("signatures", []), ("signature", "alerts"))}</div>'
            f'<div>{_table(g.get("hosts", []), ("host", "alerts"))}</div></div>'
            f'<pre>{text(g.get("representative", ""))}</pre></section>')


def _model_line(model: dict) -> str:
    if not model.get("model_sha256"):
        return ""
    return (f" · model {str(model['model_sha256'])[:12]} · eps {model.get('eps')}, min_samples "
            f"{model.get('min_samples')} · {_plural(model.get('known_clusters', 0), 'known cluster')}")


def render_report(summary: dict) -> str:
    """The whole HTML page for a ``correlate`` summary (the content of ``groups.json``).

    Parameters
    ----------
    summary : from :func:`lstm_rnn_correlation.operator.summarise`.
    """
    t = summary.get("totals", {})
    model = summary.get("model", {})
    parse = summary.get("parse", {})
    groups = summary.get("groups", [])
    limit = int(summary.get("report_groups", len(groups)))
    arf = t.get("alert_reduction_factor")
    cards = [
        ("alerts in", _num(t.get("alerts"))),
        ("groups to review", _num(t.get("groups"))),
        ("new groups", _num(t.get("new_groups"))),
        ("known groups", _num(t.get("known_groups"))),
        ("filtered alerts", _num(t.get("filtered"))),
        ("alert reduction", "–" if arf is None else f"{arf:,.1f}×"),
    ]
    if parse.get("bad_lines"):
        cards.append(("bad lines skipped", _num(parse.get("bad_lines"))))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Alert groups to review</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header><h1>Alert groups to review</h1>",
        f"<p>{text(_span(t.get('first'), t.get('last')))}{text(_model_line(model))}</p></header><main>",
        '<div class="totals">' + "".join(f'<div class="card"><b>{text(v)}</b><span>{text(k)}</span></div>'
                                         for k, v in cards) + "</div>",
        '<p class="note">Alert reduction factor: alerts in ÷ (groups to review + 1 for the filtered list). '
        "Groups are listed largest first, then newest first. <b>New</b> groups match no cluster the model "
        "knows; <b>known</b> groups carry the incident their cluster was mapped to.</p>",
    ]
    if parse.get("bad_lines"):
        examples = "".join(f"<li>{text(f)}:{text(n)}: {text(r)}</li>" for f, n, r in parse.get("bad_examples", []))
        out.append(f'<p class="note">{text(_num(parse["bad_lines"]))} lines did not parse and were skipped; '
                   f"the first:</p><ul class=\"note\">{examples}</ul>")
    if not groups:
        out.append('<p class="note">No groups: every alert was filtered.</p>')
    else:
        rows = "".join(
            f"<tr><td>{text(g['id'])}</td><td>{text(_kind(g))}</td><td class=\"n\">{_num(g.get('size'))}</td>"
            f"<td>{text(_span(g.get('first'), g.get('last')))}</td>"
            f"<td>{text(g['signatures'][0][0] if g.get('signatures') else '')}</td></tr>"
            for g in groups[:limit])
        out.append("<h3>Overview</h3><table class=\"overview\"><tr><th>group</th><th>kind</th><th>alerts</th>"
                   f"<th>time span</th><th>main signature</th></tr>{rows}</table><h3>Groups</h3>")
    for g in groups[:limit]:
        out.append(_group_section(g))
    if len(groups) > limit:
        out.append(f'<p class="note">{text(_num(len(groups) - limit))} smaller groups are not shown here; '
                   "they are in groups.csv and groups.json.</p>")
    filt = summary.get("filtered", {})
    out.append(f"<h3>Filtered alerts: {text(_num(filt.get('count', 0)))} "
               f"({text(_num(filt.get('n_signatures', 0)))} signatures)</h3>")
    out.append(_table(filt.get("signatures", []), ("signature", "alerts")))
    if filt.get("n_signatures", 0) > len(filt.get("signatures", [])):
        out.append('<p class="note">Most frequent signatures only; all filtered alerts are in groups.csv.</p>')
    out.append("</main></body></html>\n")
    return "\n".join(out)

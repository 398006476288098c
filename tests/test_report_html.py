"""report.html: attacker-controlled alert text shows as text, and nothing loads from anywhere."""

from __future__ import annotations

from html.parser import HTMLParser

from lstm_rnn_correlation.formats import read_alerts
from lstm_rnn_correlation.operator import Correlator, correlate_records
from lstm_rnn_correlation.report_html import render_report, text

from _operator_helpers import RuleEmbedder, clustering_for, snort

HOSTILE = [
    '<script>alert("pwned")</script>',
    "<img src=x onerror=alert(1)>",
    "\"quoted\" & 'single' </pre><SCRIPT src=//evil.example/x.js></SCRIPT>",
    "ctrl \x1b[31mred\x1b[0m bell\x07 nul-free \x7f del",
]
#: tags the page may use; none of them can load anything
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "main", "div",
                "b", "span", "section", "table", "tr", "th", "td", "pre", "ul", "li"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.data.append(data)


def _hostile_report(tmp_path):
    emb = RuleEmbedder({100: 0, 300: 1})
    clustering = clustering_for(emb, {100: (0, 6)})
    lines = []
    for k, msg in enumerate(HOSTILE):
        lines += [snort(300 + k * 0, 10 * k + j, message=f"ET WEB {msg}") for j in range(3)]  # a new group
        lines.append(snort(555, 100 + k, message=f"ET WEB filtered {msg}"))                  # filtered
    lines += [snort(100, j, message="ET TEST <b>known</b> & co") for j in range(2)]
    log = tmp_path / "hostile.log"
    log.write_bytes(("\n".join(lines) + "\n").encode())
    records = read_alerts(log).records
    assert len(records) == len(lines)  # the parser keeps the hostile text verbatim
    _, summary = correlate_records(Correlator(emb, clustering), records)
    return summary, render_report(summary)


def test_hostile_alert_text_is_shown_as_text(tmp_path):
    summary, page = _hostile_report(tmp_path)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "onerror=" not in page or "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;b&gt;known&lt;/b&gt; &amp; co" in page and "&#x27;single&#x27;" in page
    # control characters are shown as visible escapes, never written raw
    assert not any(ch in page for ch in "\x1b\x07\x7f") and "\\x1b[31mred" in page
    # what a browser shows: the text exactly, in the group section and the filtered summary
    parser = _Tags()
    parser.feed(page)
    shown = "".join(parser.data)
    for msg in HOSTILE:
        visible = msg.replace("\x1b", "\\x1b").replace("\x07", "\\x07").replace("\x7f", "\\x7f")
        assert f"ET WEB {visible}" in shown and f"ET WEB filtered {visible}" in shown
    assert summary["totals"]["new_groups"] == 1 and summary["totals"]["filtered"] == len(HOSTILE)


def test_the_page_loads_nothing_from_anywhere(tmp_path):
    _, page = _hostile_report(tmp_path)
    parser = _Tags()
    parser.feed(page)
    tags = {t for t, _ in parser.tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for tag, attrs in parser.tags:
        assert not {"src", "href", "action", "srcset", "style", "background"} & set(attrs), (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    css = page[page.index("<style>"):page.index("</style>")]
    assert "url(" not in css and "@import" not in css
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]["content"]


def test_totals_filtered_summary_and_group_limit_are_shown():
    def group(gid, size, last):
        return {"id": gid, "status": "new", "size": size, "first": "2000-08-15T10:00:00", "last": last,
                "hosts": [], "n_hosts": 0, "signatures": [["[1:1:1] sig", size]], "n_signatures": 1,
                "representative": f"line of {gid}"}

    summary = {"totals": {"alerts": 1234, "groups": 3, "new_groups": 3, "known_groups": 0, "filtered": 200,
                          "alert_reduction_factor": 1234 / 4},
               "groups": [group("N1", 10, "2000-08-15T10:05:00"), group("N2", 50, "2000-08-15T10:01:00"),
                          group("N3", 10, "2000-08-15T11:00:00")],
               "filtered": {"count": 200, "n_signatures": 1, "signatures": [["[1:9:1] noisy", 200]]}}
    page = render_report(summary)
    assert "1,234" in page and "308.5×" in page and "groups to review" in page
    # the page keeps the summary's review order (summarise decides it, tested below)
    assert page.index("line of N1") < page.index("line of N2") < page.index("line of N3")
    assert "[1:9:1] noisy" in page and "Filtered alerts: 200" in page
    assert render_report(summary | {"report_groups": 1}).count("<section") == 1


def test_summarise_orders_groups_largest_then_newest(tmp_path):
    emb = RuleEmbedder({101: 0, 102: 1, 103: 2})
    clustering = clustering_for(emb, {101: (0, 5)})
    lines = ([snort(102, j, minute=1) for j in range(4)] + [snort(103, j, minute=9) for j in range(4)]
             + [snort(101, j, minute=5) for j in range(6)])
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    _, summary = correlate_records(Correlator(emb, clustering), read_alerts(log).records)
    order = [(g["size"], g["last"][11:16]) for g in summary["groups"]]
    assert order == [(6, "10:05"), (4, "10:09"), (4, "10:01")]


def test_text_escapes_everything():
    assert text('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    assert text("a\x00b\u2028c\u202ed") == "a\\x00b\\u2028c\\u202ed"
    assert text(None) == "" and text(3) == "3"

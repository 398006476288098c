"""correlate --follow: appended lines, rotation (rename or truncation), batches, bad lines."""

from __future__ import annotations

import json
import os
import threading
import time
from argparse import Namespace

import pandas as pd
import pytest

from lstm_rnn_correlation.errors import AlertParseError
from lstm_rnn_correlation.follow import LineFollower, follow_and_correlate
from lstm_rnn_correlation.operator import Correlator

from _operator_helpers import RuleEmbedder, clustering_for, snort


def test_follower_reads_appends_holds_partial_lines_and_survives_rotation(tmp_path):
    log = tmp_path / "alert"
    f = LineFollower(log)
    assert f.poll() == []  # not there yet
    log.write_bytes(b"a1\na2\r\npart")
    assert f.poll() == [(1, b"a1"), (2, b"a2")]
    assert f.poll() == []
    with open(log, "ab") as h:
        h.write(b"ial\na4\n")
    assert f.poll() == [(3, b"partial"), (4, b"a4")]
    # rename rotation: lines written to the old file after the move are still read, then the new file
    os.rename(log, tmp_path / "alert.1")
    with open(tmp_path / "alert.1", "ab") as h:
        h.write(b"late\nunterminated")
    # the path is gone for now: keep reading the old file (its unterminated tail waits)
    assert f.poll() == [(5, b"late")]
    log.write_bytes(b"b1\n")
    assert f.poll() == [(6, b"unterminated"), (1, b"b1")]  # the old file is finished, then the new one
    assert f.rotations == 1
    # copytruncate rotation: the file shrinks under us; read again from its start
    with open(log, "ab") as h:
        h.write(b"b2\n")
    assert f.poll() == [(2, b"b2")]
    with open(log, "r+b") as h:
        h.truncate(0)
        h.write(b"c1\n")
    assert f.poll() == [(1, b"c1")]
    assert f.rotations == 2
    f.close()


def test_follower_from_end_skips_what_is_there(tmp_path):
    log = tmp_path / "alert"
    log.write_bytes(b"old1\nold2\n")
    f = LineFollower(log, from_end=True)
    assert f.poll() == []
    with open(log, "ab") as h:
        h.write(b"new\n")
    assert [b for _, b in f.poll()] == [b"new"]
    f.close()


def _args(tmp_path, logs, **kw):
    base = dict(logs=[str(p) for p in logs], out=str(tmp_path / "report"), fmt="auto", skip_bad_lines=False,
                year=None, quiet=True, from_end=False, batch_lines=10000, batch_seconds=0.05, poll=0.02,
                max_batches=None, idle_exit=None, report_groups=50)
    base.update(kw)
    return Namespace(**base)


@pytest.fixture()
def correlator():
    emb = RuleEmbedder({100: 0, 300: 1})
    return Correlator(emb, clustering_for(emb, {100: (0, 6)}))


def _groups(tmp_path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "report" / "groups.csv", keep_default_na=False)


def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if predicate():
                return
        except (FileNotFoundError, pd.errors.EmptyDataError, ValueError):
            pass
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the follower")


def test_follow_picks_up_appended_and_rotated_lines(tmp_path, correlator):
    log = tmp_path / "alert"
    first = [snort(100, n) for n in range(3)]
    log.write_text("\n".join(first) + "\n")
    args = _args(tmp_path, [log], idle_exit=3.0)
    status = {}
    worker = threading.Thread(target=lambda: status.setdefault("rc", follow_and_correlate(args, correlator, {})))
    worker.start()
    try:
        _wait_for(lambda: len(_groups(tmp_path)) == 3)
        appended = [snort(300, n, victim="192.168.9.9") for n in range(4)]
        with open(log, "a") as h:
            h.write("\n".join(appended) + "\n")
        _wait_for(lambda: len(_groups(tmp_path)) == 7)
        os.rename(log, tmp_path / "alert.1")
        rotated = [snort(300, n, victim="192.168.9.9") for n in range(10, 12)] + [snort(100, 50)]
        log.write_text("\n".join(rotated) + "\n")
        _wait_for(lambda: len(_groups(tmp_path)) == 10)
    finally:
        worker.join(timeout=60)
    assert not worker.is_alive() and status["rc"] == 0  # --idle-exit ended it
    groups = _groups(tmp_path)
    assert groups.alert.tolist() == first + appended + rotated
    assert groups.lineno.tolist() == [1, 2, 3, 4, 5, 6, 7, 1, 2, 3]  # numbered per file, as written
    assert set(groups.status[3:9]) == {"new"} and groups.group[3:9].nunique() == 1  # one new incident
    assert set(groups.status[[0, 1, 2, 9]]) == {"known"}
    summary = json.loads((tmp_path / "report" / "groups.json").read_text())
    assert summary["follow"]["rotations"] == 1 and summary["follow"]["batches"] >= 3
    assert summary["totals"]["alerts"] == 10


def test_follow_batches_are_bounded_and_each_batch_rewrites_the_outputs(tmp_path, correlator):
    log = tmp_path / "alert"
    log.write_text("\n".join(snort(100, n) for n in range(25)) + "\n")
    args = _args(tmp_path, [log], batch_lines=10, max_batches=2)
    assert follow_and_correlate(args, correlator, {}) == 0
    assert len(_groups(tmp_path)) == 20  # two batches of ten lines, then it stopped
    summary = json.loads((tmp_path / "report" / "groups.json").read_text())
    assert summary["follow"]["batches"] == 2 and summary["parse"]["alerts"] == 20


def test_follow_bad_line_stops_with_the_real_file_and_line_or_is_counted(tmp_path, correlator):
    log = tmp_path / "alert"
    log.write_text("\n".join([snort(100, 1), snort(100, 2), "not an alert", snort(100, 3)]) + "\n")
    with pytest.raises(AlertParseError) as info:
        follow_and_correlate(_args(tmp_path, [log], max_batches=1), correlator, {})
    assert info.value.path == str(log) and info.value.lineno == 3
    assert len(_groups(tmp_path)) == 0  # the empty report of the start is still there, whole
    assert follow_and_correlate(_args(tmp_path, [log], max_batches=1, skip_bad_lines=True), correlator, {}) == 0
    summary = json.loads((tmp_path / "report" / "groups.json").read_text())
    assert summary["parse"]["bad_lines"] == 1 and summary["parse"]["bad_examples"][0][:2] == [str(log), 3]
    assert _groups(tmp_path).lineno.tolist() == [1, 2, 4]

"""Atomic output: all or nothing, and never at the cost of an earlier result."""

from __future__ import annotations

import os
import stat

import pytest

from lstm_rnn_correlation.fileio import atomic_open, write_text_atomic


def test_failed_write_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "result.csv"
    write_text_atomic(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half")
            raise RuntimeError("crash half-way")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.csv"]


def test_result_has_the_permissions_of_a_plain_file(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a" / "report.html", "<p>x</p>")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a" / "report.html").stat().st_mode)
    assert mode == 0o644


def test_reading_modes_are_refused(tmp_path):
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "x", "r"):
            pass

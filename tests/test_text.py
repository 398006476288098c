"""Alert text -> ASCII codes, batches and de-duplication."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_rnn_correlation.errors import UserError
from lstm_rnn_correlation.text import (EMPTY, PAD, SUBSTITUTE, deduplicate, encode_alerts,
                                       length_sorted_batches)


def test_ascii_characters_become_their_codes():
    line = "08/15-15:53:48.900440  [**] [120:3:1] {TCP} 94.63.149.152:80 -> 10.0.0.1:1040\t~\x7f"
    enc = encode_alerts([line])
    assert enc.alert_codes(0).tolist() == [ord(ch) for ch in line]
    assert enc.lengths.tolist() == [len(line)]


def test_each_non_ascii_character_becomes_one_substitute_code():
    # A character outside ASCII is replaced one for one, so lengths and positions never shift.
    enc = encode_alerts(["café ☕ x", "ü", "a\udcffb"])  # \udcff: an undecodable byte kept by surrogateescape
    assert enc.alert_codes(0).tolist() == [ord(c) for c in "caf"] + [SUBSTITUTE, ord(" "), SUBSTITUTE, ord(" "), ord("x")]
    assert enc.alert_codes(1).tolist() == [SUBSTITUTE]
    assert enc.alert_codes(2).tolist() == [ord("a"), SUBSTITUTE, ord("b")]
    assert int(enc.codes.max()) < 128


def test_bytes_are_read_byte_by_byte_with_high_bytes_substituted():
    enc = encode_alerts([b"GET /\xff\xfe HTTP", "GET /\xff\xfe HTTP".encode("utf-8")])
    assert enc.alert_codes(0).tolist() == [ord(c) for c in "GET /"] + [SUBSTITUTE] * 2 + [ord(c) for c in " HTTP"]
    # UTF-8 of two characters is four bytes: four substitutes.
    assert enc.alert_codes(1).tolist().count(SUBSTITUTE) == 4


def test_empty_alert_has_one_code_and_long_alerts_are_cut():
    enc = encode_alerts(["", "abcdef"], max_chars=4)
    assert enc.alert_codes(0).tolist() == [EMPTY]
    assert enc.alert_codes(1).tolist() == [ord(c) for c in "abcd"]


@pytest.mark.parametrize("bad", [None, 3.5, float("nan"), ["a"]])
def test_non_text_alert_is_a_clear_error(bad):
    with pytest.raises(UserError, match="alert 1 is"):
        encode_alerts(["fine", bad])


def test_batch_pads_to_the_longest_alert_of_the_batch_only():
    enc = encode_alerts(["abc", "a", "abcdefghij", "ab"])
    codes, lengths = enc.batch([0, 1, 3])
    assert codes.shape == (3, 3)  # not 10: the long alert is not in this batch
    assert codes.dtype == torch.int64
    assert lengths.tolist() == [3, 1, 2]
    assert codes[1].tolist() == [ord("a"), PAD, PAD]
    assert codes[2].tolist() == [ord("a"), ord("b"), PAD]


def test_deduplicate_keeps_counts_and_first_appearance_order():
    alerts = ["b", "a", "b", "b", "c", "a"]
    u = deduplicate(alerts)
    assert u.alerts == ["b", "a", "c"]
    assert u.counts.tolist() == [3, 2, 1]
    assert [u.alerts[i] for i in u.inverse] == alerts


def test_deduplicate_with_labels_keeps_one_string_with_two_labels_apart():
    alerts = ["x", "x", "y", "x"]
    labels = [1, -1, 1, 1]
    u = deduplicate(alerts, labels)
    assert u.alerts == ["x", "x", "y"]
    assert u.labels.tolist() == [1, -1, 1]
    assert u.counts.tolist() == [2, 1, 1]
    assert [(u.alerts[i], int(u.labels[i])) for i in u.inverse] == list(zip(alerts, labels))


def test_length_sorted_batches_cover_every_alert_once_longest_first():
    lengths = np.array([5, 1, 9, 3, 9, 2, 7])
    batches = length_sorted_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert list(lengths[flat]) == sorted(lengths, reverse=True)

"""The log cursor: resuming a pod's log by time repeats and loses nothing."""
from __future__ import annotations

from aideator.runtimes.kubernetes.podlog import Cursor, LogReader, parse_timestamp, since_time


def test_timestamps_compare_as_numbers_whatever_their_fraction_length():
    assert parse_timestamp("2026-11-24T05:50:01.1Z") == parse_timestamp(
        "2026-11-24T05:50:01.100000000Z")
    assert parse_timestamp("2026-11-24T05:50:01Z") < parse_timestamp(
        "2026-11-24T05:50:01.000000001Z")
    assert parse_timestamp("2026-11-24T06:50:01.5+01:00") == parse_timestamp(
        "2026-11-24T05:50:01.5Z")
    assert since_time(parse_timestamp("2026-11-24T05:50:01.999Z")) == "2026-11-24T05:50:01Z"


def test_a_resumed_stream_drops_what_was_delivered_even_with_equal_timestamps():
    first = LogReader()
    assert first.begin() is None
    assert first.feed(b"2026-11-24T05:50:01.1Z a\n2026-11-24T05:50:01.5Z b\n"
                      b"2026-11-24T05:50:01.5Z c\n2026-11-24T05:50:0") == ["a", "b", "c"]
    assert str(first.cursor) == "2026-11-24T05:50:01.5Z#2"

    # The same second again (sinceTime has second precision), then new lines; the real
    # kubelet may print the same instant with a different number of digits.
    again = LogReader(Cursor.parse(str(first.cursor)))
    assert again.begin() == "2026-11-24T05:50:01Z"
    assert again.feed(b"2026-11-24T05:50:01.100000000Z a\n2026-11-24T05:50:01.500000000Z b\n"
                      b"2026-11-24T05:50:01.500000000Z c\n2026-11-24T05:50:01.500000000Z d\n"
                      b"2026-11-24T05:50:02Z e\n") == ["d", "e"]
    assert str(again.cursor) == "2026-11-24T05:50:02Z#1"


def test_a_last_line_without_newline_and_non_utf8_bytes():
    reader = LogReader()
    reader.begin()
    assert reader.feed(b"2026-11-24T05:50:01Z caf\xc3") == []
    assert reader.feed(b"\xa9\r\n2026-11-24T05:50:02Z \xff tail") == ["café"]
    assert reader.end() == ["\ufffd tail"]


def test_a_foreign_cursor_starts_from_the_beginning():
    assert Cursor.parse("12345") is None and Cursor.parse(None) is None

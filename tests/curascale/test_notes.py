"""Warnings as values (curascale/notes.py)."""

import json

import pytest

from curascale.notes import Note, merge, notes_from_dicts, notes_to_dicts


def test_a_note_round_trips_through_json():
    note = Note("extrapolation", "params 1.0e12 is 64x the largest run", details={"input": "params", "factor": 64.0})
    again = notes_from_dicts(json.loads(json.dumps(notes_to_dicts([note]))))
    assert again == [note]
    assert again[0].details["factor"] == 64.0 and again[0].severity == "warning"


def test_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity"):
        Note("x", "y", severity="fatal")


def test_merge_keeps_order_and_drops_exact_repeats():
    a, b = Note("a", "first"), Note("b", "second")
    assert merge([a, b], [a, Note("a", "other message")]) == [a, b, Note("a", "other message")]


def test_wave_one_string_warnings_still_load():
    assert notes_from_dicts(["more data hurts"]) == [Note("legacy", "more data hurts")]


def test_listed_shows_four_then_counts_the_rest():
    from curascale.notes import listed

    assert listed([]) == "" and listed(["a"]) == "a" and listed("abcd") == "a, b, c, d"
    assert listed("abcdef") == "a, b, c, d and 2 more" and listed("abc", most=2) == "a, b and 1 more"

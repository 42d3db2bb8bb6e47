"""An application's log lines reach the terminal as text: no control character acts, no line floods, no encoding
error ends the run (the functions, and `say` on an ASCII terminal)."""

from __future__ import annotations

import io
import sys

import pytest

from tasks._runtime import say
from tasks.core.text import LINE_LIMIT, log_lines

FAKE_SUCCESS = "\x1b[32mdeployed bbbbbbb to production\x1b[0m"


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (FAKE_SUCCESS, ["\\x1b[32mdeployed bbbbbbb to production\\x1b[0m"]),
        ("50%\r100%", ["50%\\r100%"]),
        ("ding\x07 nul\x00 del\x7f c1\x9b", ["ding\\x07 nul\\x00 del\\x7f c1\\x9b"]),
        ("evil\u202etxt.exe", ["evil\\u202etxt.exe"]),
        ("Traceback:\n  File x\r\n\tat Foo.bar\n", ["Traceback:", "  File x", "\tat Foo.bar"]),
        ("café ✓", ["café ✓"]),
        ("", [""]),
    ],
    ids=["ansi", "carriage-return", "bel-nul-del-c1", "bidi-override", "multi-line-event", "unicode", "empty"],
)
def test_control_characters_are_shown_escaped(message, shown):
    assert log_lines(message) == shown


def test_a_very_long_line_is_cut_with_a_note():
    line = "x" * (LINE_LIMIT + 1234)
    assert log_lines(line) == ["x" * LINE_LIMIT + " [... 1234 more characters cut]"]
    assert log_lines("y" * LINE_LIMIT) == ["y" * LINE_LIMIT]


def ascii_terminal(monkeypatch) -> io.BytesIO:
    """stdout as on a terminal whose encoding is ASCII (PYTHONIOENCODING=ascii, LANG=C on an old system)."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii", line_buffering=True))
    return raw


def test_say_never_fails_on_the_terminals_encoding(monkeypatch):
    raw = ascii_terminal(monkeypatch)
    say("migrated ✓ café")
    assert raw.getvalue() == b"migrated \\u2713 caf\\xe9\n"

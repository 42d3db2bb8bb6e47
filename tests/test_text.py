"""An application's log lines reach the terminal as text: no control character acts, no line floods, no encoding
error ends the run."""

from __future__ import annotations

import io
import sys

import pytest
from conftest import NEW_SHA, NEW_TAG, fab

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


def test_a_deploy_shows_hostile_log_lines_escaped_and_carries_on(world, project, clock, capsys, monkeypatch):
    world.emulator.migration_lines = (FAKE_SUCCESS, "progress 50%\r", "Applying ✓ orders.0042\x07", "z" * 5000)
    raw = ascii_terminal(monkeypatch)
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    out = raw.getvalue().decode("ascii")
    assert code == 0, err
    assert world.digest_of("latest") == world.new_digest
    assert "    | \\x1b[32mdeployed bbbbbbb to production\\x1b[0m\n" in out
    assert "    | progress 50%\n" in out  # a trailing \r ends the line, as a terminal would show it
    assert "    | Applying \\u2713 orders.0042\\x07\n" in out
    assert f"    | {'z' * LINE_LIMIT} [... {5000 - LINE_LIMIT} more characters cut]\n" in out
    assert "\x1b" not in out and "\x07" not in out
    assert out.rstrip().splitlines()[-1].startswith("WARNING: register it later with: fab notify")

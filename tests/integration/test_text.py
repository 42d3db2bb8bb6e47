"""A deploy whose migration logs hostile lines (ANSI colours faking a success, carriage returns, BEL, a flood)
shows them escaped and carries on, on an ASCII terminal."""

from __future__ import annotations

import io
import sys

from conftest import NEW_SHA, NEW_TAG, fab

from tasks.core.text import LINE_LIMIT

FAKE_SUCCESS = "\x1b[32mdeployed bbbbbbb to production\x1b[0m"


def ascii_terminal(monkeypatch) -> io.BytesIO:
    """stdout as on a terminal whose encoding is ASCII (PYTHONIOENCODING=ascii, LANG=C on an old system)."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii", line_buffering=True))
    return raw


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

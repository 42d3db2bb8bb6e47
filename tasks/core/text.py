"""Text from outside (an application's log lines) made safe to show on a terminal.

Assumptions: a task's log events are written by the application, not by us, so they may hold anything:
ANSI escape sequences that recolour or rewrite the screen, `\\r` that returns to the start of the line and
overwrites what we printed, BEL, NUL, bidirectional overrides that reorder what is shown. Any of those could
fake our own output (a green "deployed ... to production" line). Every such character is shown escaped
(`\\x1b`, `\\r`, `\\u202e`), so the line reads as what it is. A tab stays: it only moves the cursor forward, and
Java stack traces indent with it. One event may hold several lines (a traceback logged at once): each
becomes a line of its own, so each gets the caller's prefix. A line longer than `LINE_LIMIT` characters is
cut, with a note of how much was cut.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "****"  # how a secret is shown, in every output: plans, answers, errors, log records


def masked(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret value in it shown as `MASK`, the longest first so that no part of one is left."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


LINE_LIMIT = 2000  # characters of one log line shown; a JSON log line of normal size fits

# C0 controls but tab, DEL, C1 controls; bidirectional marks, embeddings, overrides and isolates; the line and
# paragraph separators (terminals and editors break lines there); lone surrogates (undecodable bytes).
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                     "\ud800-\udfff]")
_NAMED = {"\r": "\\r", "\n": "\\n"}


def escape(text: str) -> str:
    """`text` with every unsafe character written as an escape: `\\x1b`, `\\r`, `\\u202e`."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shorten(line: str, limit: int = LINE_LIMIT) -> str:
    """`line` cut to `limit` characters, saying how many were cut."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]} [... {len(line) - limit} more characters cut]"


def log_lines(message: str, limit: int = LINE_LIMIT) -> list[str]:
    """One log event as lines safe to print: split at line breaks, each cut to `limit`, then escaped."""
    lines = message.rstrip("\r\n").split("\n")
    # cut before escaping, so the limit and the note count the application's own characters
    return [escape(shorten(line[:-1] if line.endswith("\r") else line, limit)) for line in lines]

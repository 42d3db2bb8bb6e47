"""Whether a file changed since it was last looked at, without reading it.

Assumption: rewriting a file changes its modification time or its size (nanosecond times, as Linux and macOS keep).
"""

from __future__ import annotations

import os


def stamp(path: str) -> tuple[int, int] | None:
    """A file's (modification time, size), which change when it is rewritten; None: no path, or no such file."""
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size) if found else None

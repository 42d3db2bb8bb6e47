"""An HTTP request's failure, or an answer's text, on one short line: for Sleuth and the smoke check.

Assumptions: `requests` wraps urllib3's exceptions several levels deep (`ConnectionError(MaxRetryError(
NewConnectionError(...)))`), and only the innermost says what happened in words a person can act on; urllib3
prefixes it with the connection's repr (`HTTPSConnection(host='...', port=443): `), which says nothing the
URL does not. Callers scrub their secrets from the text before it is cut: a secret cut in half would no
longer match.
"""

from __future__ import annotations

import re

_CONNECTION_PREFIX = re.compile(r"^\w+\([^)]*\): ")  # urllib3's "HTTPSConnection(host='...', port=443): "


def failure(err: Exception) -> str:
    """`ConnectionError: Failed to establish a new connection: [Errno 111] Connection refused`, not urllib3's
    nest of wrapped exceptions: the innermost cause's own words, after the outer exception's type."""
    cause: BaseException = err
    for _ in range(5):
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException) and cause.args and isinstance(cause.args[0], BaseException):
            inner = cause.args[0]
        if not isinstance(inner, BaseException):
            break
        cause = inner
    words = [arg for arg in cause.args if isinstance(arg, str)]
    text = _CONNECTION_PREFIX.sub("", words[-1] if words else str(cause))
    return f"{type(err).__name__}: {text}"


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of white space made one space), cut to `limit` characters with `...`."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."

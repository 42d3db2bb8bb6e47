"""Keep secrets out of log output, `fab --debug` included.

Why: `fab --debug` turns on DEBUG logging for everything, and botocore then logs each request it sends with
its headers: the `Authorization` header (the access key id in `Credential=`) and, with temporary credentials
(CircleCI OIDC, SSO, assumed roles), the whole `X-Amz-Security-Token`. CI keeps that output. Our own messages
never contain a secret; this guards what libraries log.

How: a log record factory, so it applies to every logger and every handler, whenever they were set up.
Each record that is going to be emitted has its message (and traceback text) rewritten: the values of the
secret environment variables below, and the values of secret-bearing headers, become `****`. Records below
the enabled level are never created, so a normal run pays nothing.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

MASK = "****"
SECRET_VARIABLES = ("SLEUTH_API_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_HEADER = re.compile(
    r"""(?P<name>['"]?(?:authorization|x-amz-security-token|proxy-authorization|cookie)['"]?\s*[:=]\s*(?:b(?=['"]))?)"""
    r"""(?:(?P<q>['"])(?:(?!(?P=q)).)*(?P=q)|[^\s,}]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)
_CREDENTIAL = re.compile(r"\b(Credential=)[^/\s'\",]+")
_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_installed = False


def redact(text: str) -> str:
    """`text` with secret values and secret-bearing header values replaced by `****`."""
    for name in SECRET_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= 8:
            text = text.replace(value, MASK)
    text = _BEARER.sub(rf"\g<1>{MASK}", text)
    text = _HEADER.sub(lambda m: f"{m.group('name')}{m.group('q') or ''}{MASK}{m.group('q') or ''}", text)
    text = _CREDENTIAL.sub(rf"\g<1>{MASK}", text)
    return _ACCESS_KEY.sub(MASK, text)


def redact_logs() -> None:
    """Install the redacting record factory once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it itself when it formats the record
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True

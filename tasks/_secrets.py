"""Keep secrets out of log output, `fab --debug` included.

Why: `fab --debug` turns on DEBUG logging for everything, and botocore then logs each request it sends and
each response it parses: the `Authorization` header (the access key id in `Credential=`), with temporary
credentials the whole `X-Amz-Security-Token` (in the headers and in the signature's canonical request), and,
while it resolves credentials, the exchange that issues them: the web identity token (a JWT, read from
`AWS_WEB_IDENTITY_TOKEN_FILE`) in the STS request body, and the `SecretAccessKey` and `SessionToken` in STS's
XML answer; with SSO, the bearer token header and the JSON answer of `GetRoleCredentials`; in a container or
on EC2, the metadata token header and the credentials JSON. CI keeps that output. Our own messages never
contain a secret; this guards what libraries log.

How: a log record factory, so it applies to every logger and every handler, whenever they were set up.
Each record that is going to be emitted has its message (and traceback text) rewritten; `****` replaces:
- the values of the secret environment variables below, of those the config's smoke check headers name
  (`${NAME}`) and of those `deploy.notify` names (a webhook's URL, and its path, which urllib3 logs alone),
  and the token files' contents;
- the values of secret-bearing headers (`Authorization`, `X-Amz-Security-Token`, SSO and metadata tokens,
  cookies), `Bearer` tokens, `Credential=` key ids, and anything shaped like an AWS key id or a JWT;
- the values of the credential fields of every credential exchange botocore makes (STS, SSO, SSO OIDC,
  sign-in, container and instance metadata), as XML elements, JSON or Python-dict entries, or form fields.
Records below the enabled level are never created, so a normal run pays nothing.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from .core.files import stamp
from .core.text import MASK, masked


class _Lazy:
    """A regex compiled on first use: `fab --list` imports this module and never redacts anything."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def sub(self, *args: Any) -> str:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return self._compiled.sub(*args)
SECRET_VARIABLES = (
    "SLEUTH_API_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",  # botocore's older name for the session token
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "CIRCLE_OIDC_TOKEN",  # what CI writes to the web identity token file
    "CIRCLE_OIDC_TOKEN_V2",
)
SECRET_VARIABLE_PREFIXES = ("AWS_BEARER_TOKEN_",)  # botocore's bearer tokens for services that take one
SECRET_FILE_VARIABLES = ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
_FILE_LIMIT = 64 * 1024  # a token file is a few KiB; anything larger is not one

_HEADER_NAMES = (
    r"authorization|proxy-authorization|x-amz-security-token|x-amz-sso_bearer_token|x-aws-ec2-metadata-token"
    r"|set-cookie|cookie|x-api-key"
)
# A header as `Name: value`, `'Name': b'value'` or `Name=value` (a presigned URL): a quoted value whole; an
# unquoted one with its scheme word (`Bearer`, `apikey`, `AWS4-HMAC-SHA256`) and the credential after it.
_HEADER = _Lazy(
    rf"""(?P<name>['"]?(?:{_HEADER_NAMES})['"]?[ \t]*[:=][ \t]*(?:b(?=['"]))?)"""
    r"""(?:(?P<q>['"])(?:(?!(?P=q)).)*(?P=q)|(?:(?:Bearer|apikey|Basic|Digest|Token|AWS4-[\w-]+)[ \t]+)?"""
    r"""[^\s,}&'"]+)""",
    re.IGNORECASE,
)
_BEARER = _Lazy(r"\b(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)
_CREDENTIAL = _Lazy(r"\b((?:X-Amz-)?Credential=)[^/\s'\",&]+", re.IGNORECASE)
_ACCESS_KEY = _Lazy(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_JWT = _Lazy(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*")

# The sensitive fields of the credential exchanges, as botocore's service models mark them (STS, SSO, SSO
# OIDC, sign-in) plus the container and instance metadata answers (`Token`), and Sleuth's `api_key`.
_FIELD_NAMES = (
    r"SecretAccessKey|SessionToken|Token|WebIdentityToken|SAMLAssertion|TradeInToken|AccessToken|RefreshToken"
    r"|IdToken|ClientSecret|CodeVerifier|SubjectToken|Assertion|api_key|password"
)
# Both lists are plain words joined by `|`: what a record must contain for their patterns to match.
_HEADER_WORDS = tuple(_HEADER_NAMES.split("|"))
_FIELD_WORDS = tuple(name.lower() for name in _FIELD_NAMES.split("|"))
_XML_FIELD = _Lazy(rf"(<(?P<tag>{_FIELD_NAMES})>)[^<]*(</(?P=tag)>)", re.IGNORECASE)
_QUOTED_FIELD = _Lazy(
    rf"""(?P<key>(?P<kq>['"])(?:{_FIELD_NAMES})(?P=kq)\s*:\s*b?)(?P<q>['"])(?:\\.|(?!(?P=q)).)*(?P=q)""",
    re.IGNORECASE,
)
_FORM_FIELD = _Lazy(rf"(?<![\w-])((?:{_FIELD_NAMES})=)[^&\s'\",}}]+", re.IGNORECASE)

_installed = False
_file_cache: dict[str, tuple[tuple[int, int], str]] = {}
_masked_variables: set[str] = set()  # named by the config: the variables smoke check headers read
_secrets_cache: list[Any] = []  # [key, secrets]: see known_secrets


def mask_variables(names: Iterable[str]) -> None:
    """Treat these environment variables' values as secrets too, from now on."""
    _masked_variables.update(names)


def known_secrets() -> list[str]:
    """The secret values this process can know of: its secret variables, those the config names as secret,
    and the token files' contents.

    Asked once per log record (thousands per `fab --debug` run), so the answer is kept while the environment,
    the masked names and the token files stay as they were.
    """
    files = tuple(stamp(os.environ.get(name, "")) for name in SECRET_FILE_VARIABLES)
    key = (dict(os.environ), frozenset(_masked_variables), files)
    if _secrets_cache and _secrets_cache[0] == key:
        return _secrets_cache[1]
    secrets = _read_secrets()
    _secrets_cache[:] = [key, secrets]
    return secrets


def _read_secrets() -> list[str]:
    values = [os.environ.get(name, "") for name in (*SECRET_VARIABLES, *sorted(_masked_variables))]
    values += [value for name, value in os.environ.items() if name.startswith(SECRET_VARIABLE_PREFIXES)]
    values += [_file_content(os.environ.get(name, "")) for name in SECRET_FILE_VARIABLES]
    # a webhook's URL (deploy.notify) is logged by urllib3 as its path alone: "POST /services/T0/B0/XXXX"
    values += [_url_path(os.environ.get(name, "")) for name in _masked_variables]
    # longest first, so a secret that contains another is masked whole
    return sorted({v.strip() for v in values if len(v.strip()) >= 8}, key=len, reverse=True)


def _url_path(value: str) -> str:
    """The path and query of a value that is a URL, else ''."""
    from urllib.parse import urlsplit

    if not value.startswith(("http://", "https://")):
        return ""
    parts = urlsplit(value.strip())
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if len(path) > 1 else ""


def _file_content(path: str) -> str:
    """A token file's content, read again only when the file changed (botocore re-reads it to refresh)."""
    now = stamp(path)
    if now is None:
        return ""
    cached = _file_cache.get(path)
    if cached is not None and cached[0] == now:
        return cached[1]
    if now[1] > _FILE_LIMIT:
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            content = handle.read()
    except OSError:
        return ""
    _file_cache[path] = (now, content)
    return content


def redact(text: str) -> str:
    """`text` with secret values and secret-bearing header and field values replaced by `****`."""
    text = masked(text, known_secrets())
    # Each pattern runs only where the words it needs occur (most records hold none): a lookup for a word costs
    # a microsecond, a pattern that finds nothing up to a hundred on a response body.
    low = text.lower()
    if any(word in low for word in _FIELD_WORDS):
        text = _XML_FIELD.sub(rf"\g<1>{MASK}\g<3>", text)
        text = _QUOTED_FIELD.sub(lambda m: f"{m.group('key')}{m.group('q')}{MASK}{m.group('q')}", text)
        text = _FORM_FIELD.sub(rf"\g<1>{MASK}", text)
    if "bearer" in low:
        text = _BEARER.sub(rf"\g<1>{MASK}", text)
    if any(word in low for word in _HEADER_WORDS):
        text = _HEADER.sub(lambda m: f"{m.group('name')}{m.group('q') or ''}{MASK}{m.group('q') or ''}", text)
    if "credential=" in low:
        text = _CREDENTIAL.sub(rf"\g<1>{MASK}", text)
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    if "AKIA" in text or "ASIA" in text:
        text = _ACCESS_KEY.sub(MASK, text)
    return text


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

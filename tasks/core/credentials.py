"""How long the AWS credentials in use will last, where the environment says so, and what to say when they ran out.

Assumptions: two sources state a lifetime without a call to AWS. `AWS_CREDENTIAL_EXPIRATION` (ISO 8601) comes with
session credentials exported by `aws configure export-credentials --format env` and by CI integrations that assume
a role. `AWS_WEB_IDENTITY_TOKEN_FILE` holds a JWT (CircleCI's OIDC token lives one hour) whose `iat` and `exp`
claims bound every session botocore gets from it: once it has expired the chain cannot refresh. The token is read
only for those two claims and never printed. Elsewhere (a profile's role, SSO) botocore refreshes on its own and
nothing is known here.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from .clock import duration


@dataclass(frozen=True)
class Lifetime:
    what: str  # the credentials, in words a person recognises
    expires: datetime
    issued: datetime | None = None


def known_lifetime(environ: Mapping[str, str] = os.environ) -> Lifetime | None:
    """The credentials' end, where the environment states it; None when it does not (or cannot be read)."""
    stated = environ.get("AWS_CREDENTIAL_EXPIRATION", "").strip()
    if stated and environ.get("AWS_SESSION_TOKEN"):
        try:
            expires = datetime.fromisoformat(stated.replace("Z", "+00:00"))
        except ValueError:
            return None
        return Lifetime("the session credentials (AWS_CREDENTIAL_EXPIRATION)", _utc(expires))
    token_file = environ.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    if token_file and not environ.get("AWS_ACCESS_KEY_ID"):
        claims = _claims(token_file)
        if isinstance(claims.get("exp"), (int, float)):
            issued = claims.get("iat")
            return Lifetime("the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
                            datetime.fromtimestamp(claims["exp"], timezone.utc),
                            datetime.fromtimestamp(issued, timezone.utc) if isinstance(issued, (int, float)) else None)
    return None


def _claims(path: str) -> dict[str, object]:
    try:
        with open(os.path.expanduser(path), encoding="ascii") as token:
            payload = token.read().strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (OSError, IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def lifetime_warning(lifetime: Lifetime | None, now: datetime, worst_seconds: float) -> str | None:
    """A preflight warning when the deploy at its slowest would outlive the credentials."""
    if lifetime is None:
        return None
    left = (lifetime.expires - now).total_seconds()
    if left >= worst_seconds:
        return None
    return (f"{lifetime.what} expire in {duration(max(left, 0))} ({_at(lifetime.expires)}), less than this deploy "
            f"may take ({duration(worst_seconds)}: migration, rollouts and a put-back at their timeouts); get "
            "credentials that last longer, or lower deploy.timeout")


def expired_context(lifetime: Lifetime | None, run_seconds: float) -> str:
    """What to add to an expired-credentials error: what expired, when it was issued, how long the run took."""
    took = f"the run had taken {duration(run_seconds)}"
    if lifetime is None:
        return f"{took}; the credentials' lifetime is not known here"
    issued = f", issued {_at(lifetime.issued)}" if lifetime.issued else ""
    return f"{lifetime.what}{issued}, valid until {_at(lifetime.expires)}; {took}"


def _at(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")

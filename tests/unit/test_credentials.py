"""What the environment says about the credentials' lifetime, and the preflight's warning from it."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

from tasks.core.credentials import Lifetime, expired_context, known_lifetime, lifetime_warning

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)


def jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def test_a_web_identity_token_s_claims_bound_the_credentials(tmp_path: Path) -> None:
    token = tmp_path / "oidc"
    token.write_text(jwt({"iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 3600, "sub": "org/x"}))
    lifetime = known_lifetime({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token), "AWS_ROLE_ARN": "arn:aws:iam::1:role/d"})
    assert lifetime == Lifetime("the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)",
                                datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc), NOW)
    assert expired_context(lifetime, 3725) == ("the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE), issued "
                                               "11:00:00 UTC, valid until 12:00:00 UTC; the run had taken 62m05s")


def test_session_credentials_state_their_end_and_nothing_else_is_guessed(tmp_path: Path) -> None:
    stated = {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2026-12-07T11:20:00Z"}
    assert known_lifetime(stated) == Lifetime("the session credentials (AWS_CREDENTIAL_EXPIRATION)",
                                              datetime(2026, 12, 7, 11, 20, tzinfo=timezone.utc))
    (tmp_path / "garbage").write_text("not a token")
    assert known_lifetime({"AWS_WEB_IDENTITY_TOKEN_FILE": str(tmp_path / "garbage")}) is None
    assert known_lifetime({"AWS_CREDENTIAL_EXPIRATION": "soon", "AWS_SESSION_TOKEN": "t"}) is None
    assert known_lifetime({"AWS_PROFILE": "prod"}) is None


def test_the_warning_comes_only_when_the_worst_case_outlives_the_credentials() -> None:
    lifetime = Lifetime("the session credentials (AWS_CREDENTIAL_EXPIRATION)",
                        datetime(2026, 12, 7, 11, 20, tzinfo=timezone.utc))
    assert lifetime_warning(lifetime, NOW, 1200) is None
    assert lifetime_warning(None, NOW, 10**6) is None
    assert lifetime_warning(lifetime, NOW, 1800) == (
        "the session credentials (AWS_CREDENTIAL_EXPIRATION) expire in 20m00s (11:20:00 UTC), less than this deploy "
        "may take (30m00s: migration, rollouts and a put-back at their timeouts); get credentials that last longer, "
        "or lower deploy.timeout")

"""Redaction itself: the answers and headers of every credential exchange botocore makes, the web identity token
file's content and known secret values are masked in any text."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import (
    FAKE_SLEUTH_TOKEN,
)

from tasks._secrets import redact

FAKE_SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN0123456789abcdefDoNotPrint=="


def test_redact_masks_header_values_and_known_secrets(monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    line = (
        "Sending http request: <AWSPreparedRequest headers={'X-Amz-Date': b'20261126T060000Z', 'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY123456/20261126/us-east-1/ecr/aws4_request, "
        "SignedHeaders=host, Signature=abc', 'X-Amz-Security-Token': b'" + FAKE_SESSION_TOKEN + "'}>"
    )
    assert redact(line) == (
        "Sending http request: <AWSPreparedRequest headers={'X-Amz-Date': b'20261126T060000Z', 'Authorization': "
        "b'****', 'X-Amz-Security-Token': b'****'}>"
    )
    assert redact(f"Authorization: Bearer {FAKE_SLEUTH_TOKEN}") == "Authorization: ****"
    assert redact("Authorization: apikey org-api-key-0123456789") == "Authorization: ****"
    assert redact(f"token is {FAKE_SLEUTH_TOKEN}.") == "token is ****."
    assert redact("Credential=AKIAABCDEFGHIJKLMNOP/2026") == "Credential=****/2026"
    assert redact("nothing secret here") == "nothing secret here"


# --- temporary credentials from a web identity, SSO, containers and instances ----------------------------
def fake_jwt(subject: str = "org/acme/project/app") -> str:
    """A token shaped like CircleCI's OIDC token (moto's STS does not check the signature)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': subject, 'aud': 'sts'})}.c2lnbmF0dXJlLWJ5dGVz"


EXCHANGES = [
    ('b\'{"roleCredentials":{"accessKeyId":"ASIAEXAMPLEKEY123456","secretAccessKey":"sso/Secret+Key0123",'
     '"sessionToken":"IQoJsso-session-token==","expiration":1795800000000}}\'',
     'b\'{"roleCredentials":{"accessKeyId":"****","secretAccessKey":"****","sessionToken":"****",'
     '"expiration":1795800000000}}\''),
    ("headers={'x-amz-sso_bearer_token': b'aoaAAAAAGbearer'}", "headers={'x-amz-sso_bearer_token': b'****'}"),
    ('{"accessToken":"aoa-access","refreshToken":"aor-refresh","idToken":"x","clientSecret":"c-secret"}',
     '{"accessToken":"****","refreshToken":"****","idToken":"****","clientSecret":"****"}'),
    ('{"AccessKeyId": "ASIAEXAMPLEKEY123456", "SecretAccessKey": "c/Secret", "Token": "c-token"}',
     '{"AccessKeyId": "****", "SecretAccessKey": "****", "Token": "****"}'),
    ("X-aws-ec2-metadata-token: AQAEAimds-token==", "X-aws-ec2-metadata-token: ****"),
    ("<Credentials><SecretAccessKey>k/Ey</SecretAccessKey><SessionToken>FwoG</SessionToken></Credentials>",
     "<Credentials><SecretAccessKey>****</SecretAccessKey><SessionToken>****</SessionToken></Credentials>"),
    ("Action=AssumeRoleWithWebIdentity&RoleArn=arn&WebIdentityToken=opaque-oidc-token&Version=2011-06-15",
     "Action=AssumeRoleWithWebIdentity&RoleArn=arn&WebIdentityToken=****&Version=2011-06-15"),
    ("https://x/?X-Amz-Credential=ASIAEXAMPLEKEY123456%2F2026&X-Amz-Security-Token=IQoJb3&X-Amz-Signature=ab",
     "https://x/?X-Amz-Credential=****&X-Amz-Security-Token=****&X-Amz-Signature=ab"),
    (f"a token {fake_jwt()} in prose", "a token **** in prose"),
    ("NextToken=abc&maxResults=10 nextForwardToken", "NextToken=abc&maxResults=10 nextForwardToken"),
]


@pytest.mark.parametrize(("text", "expected"), EXCHANGES,
                         ids=["sso-answer", "sso-header", "sso-oidc", "container", "imds-header", "sts-xml",
                              "sts-form", "presigned-url", "jwt", "pagination-tokens-are-not-secret"])
def test_redact_masks_the_answers_and_headers_of_every_credential_exchange(text, expected):
    assert redact(text) == expected


def test_redact_masks_the_web_identity_token_files_content(monkeypatch, tmp_path):
    # a token file whose content is not shaped like a JWT: masked because the file is the token
    (tmp_path / "token").write_text("opaque-web-identity-token\n")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "token"))
    assert redact("body: opaque-web-identity-token.") == "body: ****."


def test_a_secret_set_or_a_token_file_rewritten_after_a_record_is_masked_in_the_next(monkeypatch, tmp_path):
    """The secrets are kept between records while nothing changed: a change shows in the very next record."""
    assert redact("value: sleuth-later-0123456789") == "value: sleuth-later-0123456789"
    monkeypatch.setenv("SLEUTH_API_TOKEN", "sleuth-later-0123456789")
    assert redact("value: sleuth-later-0123456789") == "value: ****"
    monkeypatch.setenv("SLEUTH_API_TOKEN", "sleuth-rotated-0123456789")
    assert redact("old sleuth-later-0123456789, new sleuth-rotated-0123456789") == \
        "old sleuth-later-0123456789, new ****"
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-bearer-0123456789")  # a prefix, not a fixed name
    assert redact("bedrock-bearer-0123456789") == "****"

    token = tmp_path / "token"
    token.write_text("first-opaque-token-0123")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    assert redact("first-opaque-token-0123") == "****"
    token.write_text("second-opaque-token-0123456")  # botocore re-reads the file to refresh; so do we
    assert redact("first-opaque-token-0123 second-opaque-token-0123456") == "first-opaque-token-0123 ****"

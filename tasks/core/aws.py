"""Boto3 clients, and AWS errors turned into sentences a person can act on.

Assumptions: AWS is reached only through boto3's own configuration (credential chain, AWS_REGION or the
profile's region, AWS_ENDPOINT_URL); this module adds none of its own. Credentials and access errors are
the same for every gateway, so they are translated here, once; gateways handle the error codes that mean
something for their own calls (an image that already exists, a missing stream) before calling `translate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    TokenRetrievalError,
)

from .errors import DeployError

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")).strip()


def translate(err: Exception, action: str) -> DeployError:
    """An AWS failure as a `DeployError`: what failed, what AWS said, what to do next.

    `action` is the IAM action of the call (for example `ecr:PutImage`), so an access-denied error names
    the permission to grant.
    """
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return DeployError(
            f"no AWS credentials found for {action}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`"
        )
    if isinstance(err, TokenRetrievalError):
        return DeployError(f"AWS credentials could not be refreshed for {action}: log in again with `aws sso login`")
    if isinstance(err, NoRegionError):
        return DeployError(
            "no AWS region configured: set deploy.region in fabric.yaml, AWS_REGION, or a region in your profile"
        )
    if isinstance(err, EndpointConnectionError):
        return DeployError(f"could not reach AWS for {action}: {err}; check the network and AWS_ENDPOINT_URL")
    if isinstance(err, ClientError):
        code, message = error_code(err), error_message(err)
        if code in _EXPIRED:
            return DeployError(f"AWS credentials have expired ({code}) at {action}: refresh them and run again")
        if code in _BAD_CREDENTIALS:
            return DeployError(
                f"AWS rejected the credentials ({code}) at {action}: check AWS_PROFILE or the access key in use"
            )
        if code in _DENIED:
            return DeployError(
                f"access denied: the credentials in use lack {action} ({message}); grant it to the role or user "
                "(see the README's IAM policy)"
            )
        return DeployError(f"AWS {action} failed: {code}: {message}")
    if isinstance(err, BotoCoreError):
        return DeployError(f"AWS {action} failed: {err}")
    raise TypeError(f"not an AWS error: {err!r}")


@contextmanager
def calling(action: str) -> Iterator[None]:
    """Run AWS calls, translating any AWS error into a `DeployError` that names `action`."""
    try:
        yield
    except (ClientError, BotoCoreError) as err:
        raise translate(err, action) from err


@dataclass(frozen=True)
class Clients:
    """The boto3 clients one environment needs, all from one session."""

    ecr: Any
    ecs: Any
    logs: Any
    sts: Any


def connect(region: str | None) -> Clients:
    """Clients from boto3's normal configuration; `region` None means boto3's own choice."""
    import boto3

    try:
        session = boto3.session.Session(region_name=region)
        return Clients(
            ecr=session.client("ecr"),
            ecs=session.client("ecs"),
            logs=session.client("logs"),
            sts=session.client("sts"),
        )
    except BotoCoreError as err:
        raise translate(err, "boto3 client setup") from err

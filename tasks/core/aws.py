"""Boto3 clients, and AWS errors turned into sentences a person can act on.

Assumptions: AWS is reached only through boto3's own configuration (credential chain, AWS_REGION or the
profile's region, AWS_ENDPOINT_URL); this module adds none of its own. Credentials and access errors are
the same for every gateway, so they are translated here, once; gateways handle the error codes that mean
something for their own calls (an image that already exists, a missing stream) before calling `translate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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
            "no AWS region configured: set deploy.region in fabric.yaml, AWS_REGION or AWS_DEFAULT_REGION, or a "
            "region in your AWS profile"
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


class Clients:
    """The boto3 clients one environment needs, from one session, each made on first use.

    Making a client costs a model load (tens of milliseconds); a task that never locks never makes
    the SSM client, and `fab --list` makes none.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self.session.client(service)
            except BotoCoreError as err:
                raise translate(err, f"{service} client setup") from err
        return self._clients[service]

    @property
    def ecr(self) -> Any:
        return self._client("ecr")

    @property
    def ecs(self) -> Any:
        return self._client("ecs")

    @property
    def logs(self) -> Any:
        return self._client("logs")

    @property
    def sts(self) -> Any:
        return self._client("sts")

    @property
    def ssm(self) -> Any:
        return self._client("ssm")


_loader: Any = None


def connect(region: str | None) -> Clients:
    """Clients from boto3's normal configuration; `region` None means boto3's own choice.

    Each call gets a fresh session (credentials are resolved anew), sharing only the loader that
    caches AWS's service models, which are the same for every session.
    """
    global _loader
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    session = boto3.session.Session(botocore_session=core, region_name=region)
    if session.region_name is None and os.environ.get("AWS_REGION"):
        # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs, the AWS CLI v2 and
        # CI integrations set, so it is honoured as boto3's last resort.
        session = boto3.session.Session(botocore_session=core, region_name=os.environ["AWS_REGION"])
    return Clients(session)

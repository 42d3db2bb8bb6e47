"""Boto3 clients, and the one path every AWS call takes: errors turned into sentences a person can act on.

Assumptions: AWS is reached only through boto3's own configuration (credential chain, AWS_DEFAULT_REGION or
the profile's region, AWS_ENDPOINT_URL); this module adds none of its own, except that AWS_REGION is honoured
when botocore finds no region (botocore reads only AWS_DEFAULT_REGION; the other SDKs, the AWS CLI v2 and CI
integrations set AWS_REGION). Every client retries in botocore's "standard" mode (3 attempts; `AWS_RETRY_MODE`
and `AWS_MAX_ATTEMPTS` still win), so a throttled or dropped request is retried by the SDK first.

Every call goes through `call`, which turns `ClientError`, every `BotoCoreError` and botocore's
`ResponseParserError` (an answer that is not AWS's: a proxy's page, or a 200 whose JSON was cut short, which every
client refuses through botocore's `before-parse` event: see `refuse_unreadable`) into an `AwsError`: a
`DeployError` that also says whether the failure is transient (throttling, a 5xx, a dropped or timed-out
connection) and whether a write was surely not applied (see `AwsError.applied`). A wait treats a transient failure
of a read as a missed poll (see `clock.Wait`); a write AWS did not apply is tried again for a while (see
`clock.Writes`); everywhere else a transient failure fails the step once the SDK's own retries ran out. Gateways
handle the codes that mean something for their own calls (an image that already exists, a missing stream) by
catching `AwsError` and reading `code`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from .errors import DeployError
from .files import stamp

T = TypeVar("T")

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException"}
# botocore's own lists (retries/standard.py): what its standard retry mode treats as throttling or transient.
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
}
_TRANSIENT_CODES = {"RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalError",
                    "InternalServerError", "ServiceUnavailable", "ServerException"}

CONNECT_TIMEOUT = 10  # seconds; botocore's default is 60, too long for a wait that polls every few seconds
READ_TIMEOUT = 30


class AwsError(DeployError):
    """An AWS call that failed, in one line; `transient` when trying again later may well succeed.

    `problem` is the short form a wait prints (`throttled (ThrottlingException)`), `code` AWS's error code
    ("" for a failure below HTTP), `action` the IAM action of the call (`ecs:DescribeServices`). `applied` says
    what became of a write: False when the failure says AWS did nothing (throttled, or the request never left),
    None when nobody knows (a 5xx, a timeout or a connection dropped after the request went out), so a write is
    repeated at once only when False and re-read first when None.
    """

    def __init__(self, message: str, *, action: str, code: str = "", problem: str = "", transient: bool = False,
                 applied: bool | None = None):
        super().__init__(message)
        self.action = action
        self.code = code
        self.problem = problem or message
        self.transient = transient
        self.applied = applied

    @property
    def expired(self) -> bool:
        """AWS refused the credentials as expired (they were good when the run began)."""
        return self.code in _EXPIRED


def expired_at(err: BaseException | None) -> AwsError | None:
    """The `AwsError` refusing expired credentials that `err` is, or that caused it (`raise ... from` it)."""
    for _ in range(10):
        if err is None or (isinstance(err, AwsError) and err.expired):
            return err
        err = err.__cause__
    return None


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def error_message(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Message", "")).strip()


def _status(err: ClientError) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def translate(err: Exception, action: str) -> AwsError:
    """An AWS failure as an `AwsError`: what failed, what AWS said, what to do next.

    `action` is the IAM action of the call (for example `ecr:PutImage`), so an access-denied error names
    the permission to grant.
    """
    if isinstance(err, ClientError):
        return _client_error(err, action)
    if isinstance(err, ResponseParserError):
        return _not_from_aws(err, action, getattr(err, "status", 0))
    if isinstance(err, BotoCoreError):
        return _botocore_error(err, action)
    raise TypeError(f"not an AWS error: {err!r}")


def _client_error(err: ClientError, action: str) -> AwsError:
    code, message, status = error_code(err), error_message(err), _status(err)
    if _not_aws(code, message, status):
        return _not_from_aws(err, action, status)
    said = f": {message}" if message else ""
    if code in _THROTTLED or status == 429:
        problem = f"throttled ({code or status})"
        return AwsError(f"AWS {action} {problem} after the SDK's retries{said}; run again in a minute",
                        action=action, code=code, problem=problem, transient=True, applied=False)
    if status >= 500 or code in _TRANSIENT_CODES:
        problem = f"failed with HTTP {status} ({code or 'no error code'})"
        return AwsError(f"AWS {action} {problem} after the SDK's retries{said}; run again in a minute",
                        action=action, code=code, problem=problem, transient=True)
    if code in _EXPIRED:
        text = f"AWS credentials have expired ({code}) at {action}: refresh them and run again"
    elif code in _BAD_CREDENTIALS:
        text = f"AWS rejected the credentials ({code}) at {action}: check AWS_PROFILE or the access key in use"
    elif code in _DENIED:
        text = (f"access denied: the credentials in use lack {action} ({message}); grant it to the role or user "
                "(docs/iam.md lists what the tasks need)")
    else:
        text = f"AWS {action} failed: {code}{said}"
    return AwsError(text, action=action, code=code)


def _not_aws(code: str, message: str, status: int) -> bool:
    """Whether an error answer came from something in front of AWS: botocore gives an HTML page no code but its
    status (`502`), or, where the page does not start with `<html>`, no code and the page as the message."""
    return code in ("", str(status)) and (not message or message.lstrip().startswith("<") or code == str(status))


def _not_from_aws(err: Exception, action: str, status: int = 0) -> AwsError:
    """An answer AWS's protocol does not explain (a proxy's HTML page, a truncated body): one line, without the
    page; transient where the status says so (a 2xx cut short, a 5xx, 429, or no status known), since a proxy's
    trouble passes. Only a 429 says the request was not applied: a 200 says it may well have been."""
    said = f"HTTP {status}" if status else "an unreadable answer"
    if 200 <= status < 300:
        said += " with a body that is not JSON"
    problem = f"got {said}: the answer was not from AWS (a proxy?)"
    transient = not status or status < 300 or status >= 500 or status == 429
    advice = "run again in a minute" if transient else "check HTTPS_PROXY and AWS_ENDPOINT_URL"
    return AwsError(f"AWS {action} {problem}; {advice}", action=action, code=str(status or ""), problem=problem,
                    transient=transient, applied=False if status == 429 else None)


def _botocore_error(err: BotoCoreError, action: str) -> AwsError:
    kind = type(err).__name__
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        text = (f"no AWS credentials found for {action}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`")
    elif isinstance(err, ProfileNotFound):
        text = (f"AWS profile {err.kwargs.get('profile')!r} not found (AWS_PROFILE): name a profile from "
                "~/.aws/config, or unset AWS_PROFILE")
    elif isinstance(err, (TokenRetrievalError, CredentialRetrievalError)):
        text = (f"AWS credentials could not be obtained for {action} ({kind}: {err}): log in again "
                "(`aws sso login`) or check the role and its web identity token")
    elif isinstance(err, NoRegionError):
        text = ("no AWS region configured: set deploy.region in fabric.yaml, AWS_REGION or AWS_DEFAULT_REGION, "
                "or a region in your AWS profile")
    elif isinstance(err, ConnectTimeoutError):  # the request never left: nothing was applied
        problem = f"timed out connecting ({kind})"
        return AwsError(f"AWS {action} {problem} after the SDK's retries: {err}; check the network and run again",
                        action=action, problem=problem, transient=True, applied=False)
    elif isinstance(err, ReadTimeoutError):
        problem = f"timed out ({kind})"
        return AwsError(f"AWS {action} {problem} after the SDK's retries: {err}; check the network and run again",
                        action=action, problem=problem, transient=True)
    elif isinstance(err, EndpointConnectionError):
        problem = f"could not connect ({kind})"
        return AwsError(f"could not reach AWS for {action}: {err}; check the network and AWS_ENDPOINT_URL",
                        action=action, problem=problem, transient=True, applied=False)
    elif isinstance(err, (ConnectionError, HTTPClientError)):
        problem = f"connection dropped ({kind})"
        return AwsError(f"AWS {action} {problem} after the SDK's retries: {err}; check the network and run again",
                        action=action, problem=problem, transient=True)
    else:
        text = f"AWS {action} failed: {kind}: {err}"
    return AwsError(text, action=action, problem=text)


class UnreadableAnswer(ResponseParserError):
    """A success status whose body is not the JSON object AWS's JSON protocols always send (see `refuse_unreadable`).
    A `ResponseParserError`, as botocore raises for unreadable XML, so `call` turns it into an `AwsError`."""

    def __init__(self, status: int, operation: str) -> None:
        super().__init__(f"HTTP {status} answer to {operation} is not JSON")
        self.status = status


def readable(body: bytes, answers: bool = True) -> bool:
    """Whether `body` is a whole answer of AWS's JSON protocols: a JSON object; an empty body only where the
    operation has nothing to answer (`answers` False)."""
    if not body.strip():
        return not answers
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:  # also UnicodeDecodeError
        return False


def refuse_unreadable(response_dict: dict[str, Any], operation_model: Any, **_: Any) -> None:
    """A `before-parse` handler: a 2xx whose body is not JSON raises `UnreadableAnswer`.

    botocore's JSON parser reads a body that is not JSON as `{"message": body}`, and keeps only the members of the
    output shape, so an answer cut short by a proxy reads as an answer with nothing in it: a DescribeServices with
    no services, a BatchGetImage with no image (no release tag: "first deploy"). Raised here, it is an error like
    a proxy's page instead. botocore does not retry it (it is raised after its retry decisions); a wait counts it as
    a missed poll, and a write is re-read before it is repeated.
    """
    status = int(response_dict.get("status_code") or 0)
    if not 200 <= status < 300 or operation_model.has_streaming_output or operation_model.has_event_stream_output:
        return
    shape = operation_model.output_shape
    if not readable(response_dict.get("body") or b"", answers=bool(shape is not None and shape.members)):
        raise UnreadableAnswer(status, operation_model.name)


JSON_PROTOCOLS = ("json", "rest-json")


def guarded(client: T) -> T:
    """`client`, refusing answers its JSON protocol cannot explain (see `refuse_unreadable`); the XML protocols'
    parser already raises on a body cut short."""
    meta = client.meta  # type: ignore[attr-defined]
    if meta.service_model.protocol in JSON_PROTOCOLS:
        meta.events.register("before-parse", refuse_unreadable, unique_id="fab-deploy-refuse-unreadable")
    return client


def call(action: str, method: Callable[..., T], /, **params: Any) -> T:
    """`method(**params)`, with any AWS failure raised as an `AwsError` naming `action`."""
    try:
        return method(**params)
    except (ClientError, BotoCoreError, ResponseParserError) as err:
        raise translate(err, action) from err


@contextmanager
def calling(action: str) -> Iterator[None]:
    """Run AWS calls, translating any AWS error into an `AwsError` that names `action`."""
    try:
        yield
    except (ClientError, BotoCoreError, ResponseParserError) as err:
        raise translate(err, action) from err


class Clients:
    """The boto3 clients one environment needs, from one session, each made on first use.

    Making a client costs a model load (tens of milliseconds); a task that never locks never makes
    the SSM client, and `fab --list` makes none. A boto3 client is thread-safe (a session is not), so
    clients are made here, on one thread, and may then be shared.
    """

    def __init__(self, session: Any, core: Any) -> None:
        self.session = session
        self.core = core  # the botocore session under `session`: its configuration, read through its public API
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            mode = self.core.get_config_variable("retry_mode") or "standard"
            config = Config(retries={"mode": mode}, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
            with calling(f"{service} client setup"):
                self._clients[service] = guarded(self.session.client(service, config=config))
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

    def renewed(self) -> Clients:
        """Clients on a new session, which resolves the credential chain again (a rewritten credentials file, a
        re-exported profile, a refreshed web identity token file), whatever this process kept."""
        return clients_for(self.session.region_name, fresh=True)

    def access_key_id(self) -> str | None:
        """The access key id the chain resolved (never printed): two sessions with the same one hold the same
        credentials. Resolving may call AWS (a role to assume), so it can fail like a call."""
        with calling("the credential chain"):
            credentials = self.session.get_credentials()
            return credentials.get_frozen_credentials().access_key if credentials is not None else None

    def quick_ecr(self) -> Any:
        """An ECR client that gives up fast (short timeouts, one retry): for a lookup that is only nice to have."""
        from botocore.config import Config

        config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 2})
        with calling("ecr client setup"):
            return guarded(self.session.client("ecr", config=config))


_AWS_FILES = (("AWS_CONFIG_FILE", "~/.aws/config"), ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))
_loader: Any = None
_last: tuple[tuple[Any, ...], Any, Any] | None = None  # (what configured it, the session, its botocore session)


def clients_for(region: str | None, *, fresh: bool = False) -> Clients:
    """Clients from boto3's normal configuration; `region` None means boto3's own choice.

    A process keeps the session of its last call, with the credentials it resolved, for as long as nothing it was
    made from changes: the region asked for, every `AWS_*` variable (and `BOTO_CONFIG`), and the AWS config and
    credentials files. So several tasks in one `fab` command assume a role or read an SSO token once, not once
    each, and a changed variable or file gets a fresh session; `fresh` gets one whatever changed (credentials AWS
    refused as expired), and later calls share it. Each call gets clients of its own (a caller may
    register handlers on a client's events); every session shares the loader that caches AWS's service models.
    """
    global _loader, _last
    import boto3
    import botocore.session

    key = _configured_by(region)
    if not fresh and _last is not None and _last[0] == key:
        return Clients(*_last[1:])
    with calling("session setup"):
        core = botocore.session.get_session()
        if _loader is None:
            _loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _loader)
        session = boto3.session.Session(botocore_session=core, region_name=region)
        if session.region_name is None and os.environ.get("AWS_REGION"):
            session = boto3.session.Session(botocore_session=core, region_name=os.environ["AWS_REGION"])
    _last = (key, session, core)
    return Clients(session, core)


def _configured_by(region: str | None) -> tuple[Any, ...]:
    """What botocore's configuration chain reads, as a comparable value: the variables, and the stamps of the AWS
    config and credentials files."""
    variables = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_") or k == "BOTO_CONFIG"))
    files = tuple(stamp(os.path.expanduser(os.environ.get(variable, default))) for variable, default in _AWS_FILES)
    return region, variables, files

"""Every AWS failure as one line, and which of them a wait may outlast (transient) and which end it."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from tasks.core.aws import AwsError, call, translate


def client_error(code: str, status: int, message: str = "said AWS") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "DescribeServices")


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (client_error("ThrottlingException", 400), "throttled (ThrottlingException)"),
        (client_error("TooManyRequestsException", 429), "throttled (TooManyRequestsException)"),
        (client_error("ServiceUnavailableException", 503), "failed with HTTP 503 (ServiceUnavailableException)"),
        (client_error("InternalFailure", 500), "failed with HTTP 500 (InternalFailure)"),
        (ConnectionClosedError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"),
         "connection dropped (ConnectionClosedError)"),
        (ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"), "timed out (ReadTimeoutError)"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"), "could not connect (EndpointConnectionError)"),
    ],
)
def test_throttling_5xx_and_connection_trouble_are_transient(error, problem):
    err = translate(error, "ecs:DescribeServices")
    assert err.transient and err.problem == problem
    assert "\n" not in str(err) and "ecs:DescribeServices" in str(err)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (client_error("AccessDeniedException", 400, "not authorized"),
         "access denied: the credentials in use lack ecs:DescribeServices (not authorized); grant it to the role or "
         "user (docs/iam.md lists what the tasks need)"),
        (client_error("ExpiredTokenException", 400),
         "AWS credentials have expired (ExpiredTokenException) at ecs:DescribeServices: refresh them and run again"),
        (NoCredentialsError(), "no AWS credentials found for ecs:DescribeServices: set AWS_PROFILE, or "
                               "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or log in with `aws sso login`"),
        (ProfileNotFound(profile="prod"), "AWS profile 'prod' not found (AWS_PROFILE): name a profile from "
                                          "~/.aws/config, or unset AWS_PROFILE"),
        (client_error("ClusterNotFoundException", 400, "Cluster not found."),
         "AWS ecs:DescribeServices failed: ClusterNotFoundException: Cluster not found."),
    ],
)
def test_everything_else_is_final_and_says_what_to_do(error, message):
    err = translate(error, "ecs:DescribeServices")
    assert not err.transient
    assert str(err) == message


@pytest.mark.parametrize(
    ("error", "applied"),
    [
        (client_error("ThrottlingException", 400), False),
        (client_error("TooManyRequestsException", 429), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"), False),
        (ConnectTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"), False),
        (client_error("ServiceUnavailableException", 503), None),  # AWS may have applied it before failing
        (ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"), None),
        (ConnectionClosedError(endpoint_url="https://ecs.us-east-1.amazonaws.com/"), None),
    ],
)
def test_only_throttling_and_requests_never_sent_say_a_write_was_not_applied(error, applied):
    err = translate(error, "ecs:UpdateService")
    assert err.transient and err.applied is applied


def test_a_proxy_page_is_one_line_naming_the_action_and_status_without_the_page():
    page = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    for error in (client_error("", 502, page), client_error("502", 502, "Bad Gateway")):
        err = translate(error, "ecs:UpdateService")
        assert str(err) == ("AWS ecs:UpdateService got HTTP 502: the answer was not from AWS (a proxy?); "
                            "run again in a minute")
        assert err.transient and err.applied is None


def test_a_proxy_page_with_a_4xx_status_is_final():
    err = translate(client_error("", 403, "<html>Forbidden by policy</html>"), "ecr:PutImage")
    assert not err.transient
    assert str(err) == ("AWS ecr:PutImage got HTTP 403: the answer was not from AWS (a proxy?); check HTTPS_PROXY "
                        "and AWS_ENDPOINT_URL")


def test_an_unparsable_answer_is_an_aws_error_not_a_traceback():
    def truncated() -> None:
        raise ResponseParserError("Unable to parse response (no element found), invalid XML received")

    with pytest.raises(AwsError) as caught:
        call("sts:GetCallerIdentity", truncated)
    assert str(caught.value) == ("AWS sts:GetCallerIdentity got an unreadable answer: the answer was not from AWS "
                                 "(a proxy?); run again in a minute")
    assert caught.value.transient

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


class _Wire:
    """What a `before-send` handler hands botocore instead of sending: one answer, as the HTTP layer read it."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, *args: object, **kwargs: object):
        yield self.body


def answered(service: str, status: int, body: bytes, *, guard: bool = True):
    """A real boto3 client (the project's guard on it) whose every request gets `status` and `body` back."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    from tasks.core.aws import guarded

    client = boto3.session.Session(aws_access_key_id="AKIAUNITTEST", aws_secret_access_key="unit-test",
                                   region_name="us-east-1").client(service, config=Config(retries={"max_attempts": 1}))
    client.meta.events.register(
        "before-send", lambda request, **_: AWSResponse(request.url, status, {"Content-Type":
                                                                              "application/x-amz-json-1.1"},
                                                        _Wire(body)))
    return guarded(client) if guard else client


SERVICES = (b'{"services": [{"serviceName": "web", "status": "ACTIVE", "deployments": [{"id": "ecs-svc/1", '
            b'"status": "PRIMARY"}]}], "failures": []}')


def test_botocore_alone_reads_a_truncated_answer_as_one_with_nothing_in_it():
    """Why the guard exists: unguarded, half of DescribeServices's answer is an answer with no services."""
    client = answered("ecs", 200, SERVICES[: len(SERVICES) // 2], guard=False)
    response = client.describe_services(cluster="c", services=["web"])
    assert "services" not in response or response["services"] == []


def test_a_whole_json_answer_goes_through_the_guard_as_it_is():
    response = answered("ecs", 200, SERVICES).describe_services(cluster="c", services=["web"])
    assert [s["serviceName"] for s in response["services"]] == ["web"]


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (SERVICES[: len(SERVICES) // 2], "cut in half"),
        (SERVICES[:-1], "its last brace lost"),
        (b"OK", "text"),
        (b"<html><body>Request accepted</body></html>", "a proxy's 200 page"),
        (b"[]", "JSON that is no object"),
        (b"", "empty where services were asked for"),
        (b"\xff\xfe{", "not UTF-8"),
    ],
)
def test_a_200_whose_body_is_not_a_json_answer_is_one_transient_line_naming_action_and_status(body, what):
    client = answered("ecs", 200, body)
    with pytest.raises(AwsError) as caught:
        call("ecs:DescribeServices", client.describe_services, cluster="c", services=["web"])
    err = caught.value
    assert str(err) == ("AWS ecs:DescribeServices got HTTP 200 with a body that is not JSON: the answer was not from "
                        "AWS (a proxy?); run again in a minute"), what
    assert err.transient and err.applied is None  # a 200: the write may have been applied, so re-read first


def test_an_empty_answer_is_fine_where_the_operation_answers_nothing():
    # ssm:DeleteParameter's output has no members: AWS answers `{}`, and an empty body loses nothing
    assert answered("ssm", 200, b"").delete_parameter(Name="/lock")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answered("ssm", 200, b"{}").delete_parameter(Name="/lock")["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_error_answers_are_left_to_botocore():
    body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
    with pytest.raises(AwsError) as caught:
        call("ecs:UpdateService", answered("ecs", 400, body).update_service, cluster="c", service="web")
    assert caught.value.problem == "throttled (ThrottlingException)" and caught.value.applied is False


def test_an_xml_answer_cut_short_is_caught_by_botocore_s_own_parser():
    """STS speaks XML (not guarded: its parser raises on a body cut short), and ends up the same kind of error."""
    body = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            b"<Arn>arn:aws:iam::123456789012:user/ci</Arn><Acc")
    with pytest.raises(AwsError) as caught:
        call("sts:GetCallerIdentity", answered("sts", 200, body).get_caller_identity)
    assert "the answer was not from AWS (a proxy?)" in str(caught.value) and caught.value.transient

"""Retagging in ECR: the manifest and its own media type go back unchanged; re-runs and races are handled."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from tasks.core.aws import translate
from tasks.core.ecr import MEDIA_TYPES, Image, Registry
from tasks.core.errors import DeployError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def ecr():
    client = boto3.client("ecr", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def image_response(tag, digest=DIGEST, media_type=OCI_INDEX):
    return {"images": [{"imageId": {"imageDigest": digest, "imageTag": tag}, "imageManifest": '{"index": 1}',
                        "imageManifestMediaType": media_type}], "failures": []}


def expect_get(stubber, tag, response):
    stubber.add_response(
        "batch_get_image", response,
        {"repositoryName": "acme-app", "imageIds": [{"imageTag": tag}], "acceptedMediaTypes": list(MEDIA_TYPES)},
    )


def test_oci_index_is_read_with_every_media_type_and_put_back_with_its_own(ecr):
    client, stubber = ecr
    expect_get(stubber, "v2", image_response("v2"))
    stubber.add_response(
        "put_image", {"image": {"imageId": {"imageDigest": DIGEST, "imageTag": "latest"}}},
        {"repositoryName": "acme-app", "imageManifest": '{"index": 1}', "imageTag": "latest",
         "imageManifestMediaType": OCI_INDEX},
    )
    expect_get(stubber, "latest", image_response("latest"))
    registry = Registry(client, "acme-app")
    registry.point("latest", registry.require("v2"))


def test_tag_already_on_that_digest_is_success(ecr):
    client, stubber = ecr
    stubber.add_client_error("put_image", "ImageAlreadyExistsException", "already exists")
    expect_get(stubber, "latest", image_response("latest"))
    Registry(client, "acme-app").point("latest", Image("acme-app", "v2", DIGEST, '{"index": 1}', OCI_INDEX))


def test_a_tag_moved_by_someone_else_meanwhile_is_reported(ecr):
    client, stubber = ecr
    stubber.add_response("put_image", {"image": {"imageId": {"imageDigest": DIGEST, "imageTag": "latest"}}})
    expect_get(stubber, "latest", image_response("latest", digest="sha256:" + "cd" * 32))
    with pytest.raises(DeployError, match="another deploy is moving it too; serialize deploys"):
        Registry(client, "acme-app").point("latest", Image("acme-app", "v2", DIGEST, "{}", OCI_INDEX))


def test_immutable_tag_error_is_explained(ecr):
    client, stubber = ecr
    stubber.add_client_error("put_image", "ImageTagAlreadyExistsException", "tag is immutable")
    with pytest.raises(DeployError, match="the repository's tags are IMMUTABLE"):
        Registry(client, "acme-app").point("latest", Image("acme-app", "v2", DIGEST, "{}", OCI_INDEX))


def test_missing_repository_is_named(ecr):
    client, stubber = ecr
    stubber.add_client_error("batch_get_image", "RepositoryNotFoundException", "nope")
    with pytest.raises(DeployError, match="ECR repository 'acme-app' not found"):
        Registry(client, "acme-app").require("v2")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDeniedException", "access denied: the credentials in use lack ecr:PutImage (User: arn:aws:sts::1:"
                                  "assumed-role/ci is not authorized); grant it to the role or user"),
        ("ExpiredTokenException", "AWS credentials have expired (ExpiredTokenException) at ecr:PutImage"),
        ("UnrecognizedClientException", "AWS rejected the credentials (UnrecognizedClientException) at ecr:PutImage"),
        ("ThrottlingException", "AWS ecr:PutImage throttled (ThrottlingException) after the SDK's retries: User: "
                                "arn:aws:sts::1:"),
    ],
)
def test_credential_and_permission_errors_are_one_actionable_line(ecr, code, expected):
    client, stubber = ecr
    stubber.add_client_error("put_image", code, "User: arn:aws:sts::1:assumed-role/ci is not authorized")
    with pytest.raises(DeployError) as caught:
        Registry(client, "acme-app").point("latest", Image("acme-app", "v2", DIGEST, "{}", OCI_INDEX))
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)


def test_no_credentials_says_how_to_provide_them():
    from botocore.exceptions import NoCredentialsError

    assert str(translate(NoCredentialsError(), "ecr:BatchGetImage")).startswith(
        "no AWS credentials found for ecr:BatchGetImage: set AWS_PROFILE"
    )

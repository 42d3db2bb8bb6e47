"""ECR gateway: read an image by tag, point a tag at an image, remove a tag. No pulls, no pushes.

Assumptions: a retag is `batch_get_image` + `put_image` with the manifest and media type exactly as ECR
returned them (AWS's "Retagging an image"), asking for all four manifest media types because buildx with
provenance pushes an OCI index even for one platform. `ImageAlreadyExistsException` means the tag is
already on that digest, which is success (re-runs hit it).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .aws import AwsError, call
from .clock import NO_RETRY, Writes
from .errors import DeployError

MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    digest: str
    manifest: str
    media_type: str | None

    @property
    def short_digest(self) -> str:
        return short(self.digest)


@dataclass(frozen=True)
class ImageDetail:
    """What `describe_images` tells about one image."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None
    registry_id: str = ""  # the account that holds the repository


def short(digest: str | None) -> str:
    """`sha256:0123456789ab` — enough of a digest to recognise it in a log; a text that is no digest (a marker
    such as "(no digest yet)") as it is."""
    if not digest:
        return "(none)"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


class Registry:
    """One ECR repository."""

    def __init__(self, client: Any, repository: str, writes: Writes = NO_RETRY) -> None:
        self.client = client
        self.repository = repository
        self.writes = writes  # how long a throttled write is tried again (see clock.Writes)
        self._settings: dict[str, Any] | None = None

    @property
    def region(self) -> str:
        return str(self.client.meta.region_name)

    def tag_is_mutable(self, tag: str) -> bool:
        """Whether `tag` may move in this repository (an error when the repository is missing).

        MUTABLE and IMMUTABLE apply to every tag; the *_WITH_EXCLUSION settings make the tags matching
        the exclusion filters behave the other way.
        """
        repository = self._repository_settings()
        setting = str(repository.get("imageTagMutability", "MUTABLE"))
        filters = [f.get("filter", "") for f in repository.get("imageTagMutabilityExclusionFilters") or []]
        excluded = any(fnmatch.fnmatchcase(tag, pattern) for pattern in filters)
        if setting == "MUTABLE_WITH_EXCLUSION":
            return not excluded
        if setting == "IMMUTABLE_WITH_EXCLUSION":
            return excluded
        return setting != "IMMUTABLE"

    def _repository_settings(self) -> dict[str, Any]:
        """The repository's description, read once per run (its settings do not change during a release)."""
        if self._settings is None:
            try:
                response = call("ecr:DescribeRepositories", self.client.describe_repositories,
                                repositoryNames=[self.repository])
            except AwsError as err:
                raise self._missing_repository() if err.code == "RepositoryNotFoundException" else err from None
            self._settings = response["repositories"][0]
        return self._settings

    def _missing_repository(self) -> DeployError:
        return DeployError(
            f"ECR repository {self.repository!r} not found in this account and region: check deploy.repository, "
            "the region and the credentials in use"
        )

    def find(self, tag: str) -> Image | None:
        """The image `repository:tag`, or None when no image has that tag."""
        try:
            response = call("ecr:BatchGetImage", self.client.batch_get_image, repositoryName=self.repository,
                            imageIds=[{"imageTag": tag}], acceptedMediaTypes=list(MEDIA_TYPES))
        except AwsError as err:
            raise self._missing_repository() if err.code == "RepositoryNotFoundException" else err from None
        images = response.get("images") or []
        if not images:
            failures = response.get("failures") or []
            codes = {f.get("failureCode") for f in failures}
            if failures and not codes <= {"ImageNotFound", "ImageTagDoesNotMatchDigest"}:
                reasons = "; ".join(f"{f.get('failureCode')}: {f.get('failureReason')}" for f in failures)
                raise DeployError(f"ECR could not read {self.repository}:{tag}: {reasons}")
            return None
        image = images[0]
        return Image(
            repository=self.repository,
            tag=tag,
            digest=image["imageId"]["imageDigest"],
            manifest=image["imageManifest"],
            media_type=image.get("imageManifestMediaType"),
        )

    def require(self, tag: str) -> Image:
        image = self.find(tag)
        if image is None:
            raise DeployError(
                f"image {self.repository}:{tag} not found in ECR: check --tag, or wait for CI to push it"
            )
        return image

    def point(self, tag: str, image: Image) -> None:
        """Make `tag` name `image`; success also when it already does. Verifies the digest ECR reports."""
        params: dict[str, Any] = {
            "repositoryName": self.repository,
            "imageManifest": image.manifest,
            "imageTag": tag,
        }
        if image.media_type:
            params["imageManifestMediaType"] = image.media_type
        def landed() -> str | None:  # a put whose answer was lost: done when the tag already names the image
            found = self.find(tag)
            return found.digest if found is not None and found.digest == image.digest else None

        try:
            digest = self.writes.attempt(
                "ecr:PutImage",
                lambda: call("ecr:PutImage", self.client.put_image, **params)["image"]["imageId"].get("imageDigest"),
                landed, subject=f"{self.repository}:{tag}")
        except AwsError as err:
            if err.code == "ImageAlreadyExistsException":
                digest = image.digest
            elif err.code == "ImageTagAlreadyExistsException" or "immutable" in str(err).lower():
                raise DeployError(
                    f"cannot move {self.repository}:{tag}: the repository's tags are IMMUTABLE; make it MUTABLE "
                    "(the release tag must move) and push builds under unique tags"
                ) from None
            else:
                raise
        if digest != image.digest:
            raise DeployError(
                f"ECR put {self.repository}:{tag} on {short(digest)}, expected {image.short_digest}: "
                "the manifest changed on the way; run the step again"
            )
        current = self.find(tag)
        if current is None or current.digest != image.digest:
            raise DeployError(
                f"{self.repository}:{tag} points at {short(current and current.digest)} right after it was moved "
                f"to {image.short_digest}: another deploy is moving it too; serialize deploys and run again"
            )

    def remove(self, tag: str) -> None:
        """Remove `tag` only (the image stays while it has other tags)."""
        # a delete repeated is harmless (a missing tag is a failure ignored below), so any transient error may retry
        response = self.writes.attempt(
            "ecr:BatchDeleteImage",
            lambda: call("ecr:BatchDeleteImage", self.client.batch_delete_image, repositoryName=self.repository,
                         imageIds=[{"imageTag": tag}]),
            lambda: None, subject=f"{self.repository}:{tag}")
        failures = [f for f in response.get("failures") or [] if f.get("failureCode") != "ImageNotFound"]
        if failures:
            reasons = "; ".join(f"{f.get('failureCode')}: {f.get('failureReason')}" for f in failures)
            raise DeployError(f"could not remove {self.repository}:{tag}: {reasons}")

    def describe(self, digest: str) -> ImageDetail | None:
        """Tags and push time of the image with `digest`."""
        return self._describe({"imageDigest": digest})

    def describe_tag(self, tag: str) -> ImageDetail | None:
        """Tags and push time of the image `repository:tag`, or None when no image has that tag."""
        return self._describe({"imageTag": tag})

    def _describe(self, image_id: dict[str, str]) -> ImageDetail | None:
        try:
            response = call("ecr:DescribeImages", self.client.describe_images, repositoryName=self.repository,
                            imageIds=[image_id])
        except AwsError as err:
            if err.code == "ImageNotFoundException":
                return None
            raise self._missing_repository() if err.code == "RepositoryNotFoundException" else err from None
        details = response.get("imageDetails") or []
        if not details:
            return None
        detail = details[0]
        return ImageDetail(
            digest=detail["imageDigest"],
            tags=tuple(sorted(detail.get("imageTags") or ())),
            pushed_at=detail.get("imagePushedAt"),
            registry_id=detail.get("registryId", ""),
        )


def reference_repository(image: str) -> str:
    """`acme-app` from `123.dkr.ecr.us-east-1.amazonaws.com/acme-app:latest` (or `@sha256:...`)."""
    name = image.split("@", 1)[0]
    registry, _, path = name.partition("/")
    if not path or ("." not in registry and ":" not in registry and registry != "localhost"):
        path = name  # no registry host: a Docker Hub style name
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path = path[: len(path) - len(last)] + last.split(":", 1)[0]
    return path


def reference_tag(image: str) -> str | None:
    """The tag of an image reference, or None when it is pinned to a digest or has no tag."""
    if "@" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def put_command(repository: str, tag: str, digest: str) -> str:
    """The AWS CLI command that points `repository:tag` at `digest` (AWS's own retag recipe)."""
    types = " ".join(MEDIA_TYPES)
    return (f"aws ecr put-image --repository-name {repository} --image-tag {tag} --image-manifest \"$(aws ecr "
            f"batch-get-image --repository-name {repository} --image-ids imageDigest={digest} --accepted-media-types "
            f"{types} --query 'images[0].imageManifest' --output text)\"")


def delete_command(repository: str, tag: str) -> str:
    """The AWS CLI command that removes the tag `repository:tag` (the image stays while it has other tags)."""
    return f"aws ecr batch-delete-image --repository-name {repository} --image-ids imageTag={tag}"

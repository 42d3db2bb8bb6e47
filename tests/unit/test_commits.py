"""Which commit an image's tags name, and `--sha` against them: agreement by prefix, a contradiction refused."""

from __future__ import annotations

import pytest

from tasks.core.commits import check_commit, commit_from_tags
from tasks.core.errors import DeployError

FULL = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([FULL, "20261126.060512-0123456", "latest"], (FULL, FULL)),
        (["latest", "20261126.060512-0123456"], ("0123456", "20261126.060512-0123456")),
        (["0123456", "latest"], ("0123456", "0123456")),
        (["latest", "production-previous", "v1.2.3"], None),
        ([], None),
    ],
    ids=["full-sha-wins", "build-tag", "short-sha", "no-commit", "no-tags"],
)
def test_the_commit_an_images_tags_name(tags, expected):
    assert commit_from_tags(tags) == expected


@pytest.mark.parametrize("sha", [FULL, "0123456", "0123456789ab"])
def test_a_sha_matching_by_prefix_either_way_agrees(sha):
    assert check_commit(sha, ["20261126.060512-0123456", "latest"]) is None
    assert check_commit(sha, [FULL]) is None


def test_a_sha_matching_any_commit_the_image_carries_agrees():
    # one digest built from two commits with equal trees carries both commits' tags
    assert check_commit("fedcba9", [FULL, "20261127.101010-fedcba9"]) is None


def test_a_contradicting_sha_is_refused_naming_the_images_commit():
    with pytest.raises(DeployError) as caught:
        check_commit("fedcba9", [FULL, "20261126.060512-0123456"])
    assert str(caught.value) == (
        f"--sha fedcba9 contradicts the image: its tag {FULL} says it was built from commit {FULL}; pass --sha "
        f"{FULL}, or the --tag of the build of fedcba9"
    )


def test_an_image_naming_no_commit_gives_a_notice():
    assert check_commit("fedcba9", ["latest", "v1.2.3"]) == (
        "note: the image's tags (latest, v1.2.3) name no commit, so --sha fedcba9 cannot be checked against it; it "
        "is deployed and registered as fedcba9"
    )

"""`--sha` agrees with the image: the commit its tags name, and a deploy that refuses a contradiction."""

from __future__ import annotations

import pytest
import responses
from conftest import FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, fab

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


def test_a_contradicting_sha_changes_nothing_through_fab(world, project, capsys, clock, monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    before = world.deployment_ids()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as sleuth_api:
        sleuth_api.post("https://app.sleuth.io/api/1/deployments/acme/acme-app/register_deploy", body="Success")
        code, out, err = fab(capsys, "deploy", "--sha", "c0ffee1", "--tag", NEW_TAG, "--env", "staging")
        assert len(sleuth_api.calls) == 0
    assert code == 1
    assert err == (f"error: --sha c0ffee1 contradicts the image: its tag {NEW_SHA} says it was built from commit "
                   f"{NEW_SHA}; pass --sha {NEW_SHA}, or the --tag of the build of c0ffee1\n")
    assert "Traceback" not in out + err
    assert world.digest_of("latest") == world.old_digest and world.digest_of("latest-previous") is None
    assert world.deployment_ids() == before and world.migration_tasks() == []


def test_a_short_sha_of_the_images_commit_deploys(world, project, capsys, clock):
    world.emulator.migration_lines = ("ok",)
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA[:7], "--tag", NEW_TAG, "--env", "staging")
    assert code == 0, err
    assert world.digest_of("latest") == world.new_digest and "note:" not in out


def test_an_image_naming_no_commit_deploys_with_the_notice(world, project, capsys, clock):
    world.ecr_put(3, "release-candidate")
    world.emulator.migration_lines = ("ok",)
    code, out, err = fab(capsys, "deploy", "--sha", "c0ffee1", "--tag", "release-candidate", "--env", "staging")
    assert code == 0, err
    assert ("note: the image's tags (release-candidate) name no commit, so --sha c0ffee1 cannot be checked against "
            "it; it is deployed and registered as c0ffee1") in out.splitlines()
    assert world.digest_of("latest") == world.digest_of("release-candidate")

"""`--sha` against the image through the real `fab`: a contradiction changes nothing, a short sha deploys, an
image whose tags name no commit deploys with a notice."""

from __future__ import annotations

import responses
from conftest import FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, fab


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

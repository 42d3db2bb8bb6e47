"""End to end: the real `fab deploy` against the sandbox when AWS refuses the run's credentials as expired mid-rollout,
and keeps refusing every call signed with them, of any service, until the caller signs with other ones.

fab's credentials come from a shared credentials file (AWS_SHARED_CREDENTIALS_FILE), as a profile a refresher
rewrites would. Where the file is rewritten when the keys expire (refreshable), the put-back runs on a new session,
which reads the new keys: everything goes back, and the lock is freed. Where it is not (static keys), the same keys
come back, nothing can be put back by fab, and the last lines give the commands that finish it by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.deploys import PREVIOUS, Deploy, run_deploys
from sandbox import Sandbox, settings
from sandbox.faults import Fault

KEYS = {settings.FAKE_AWS_ACCESS_KEY_ID: settings.FAKE_AWS_SECRET_ACCESS_KEY,
        settings.FRESH_AWS_ACCESS_KEY_ID: settings.FRESH_AWS_SECRET_ACCESS_KEY}
SECRETS = (*settings.SECRETS, settings.FRESH_AWS_ACCESS_KEY_ID, settings.FRESH_AWS_SECRET_ACCESS_KEY)
# the wait's 5th DescribeServices (both services restarted by then) expires the first keys, for every call after it
EXPIRY = (Fault("ecs:DescribeServices", "expired", count=1, after=4, key=settings.FAKE_AWS_ACCESS_KEY_ID),)
STAMP = r"\(\d\d:\d\d:\d\d UTC\)"


def write_credentials(path: Path, key: str) -> None:
    path.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = {KEYS[key]}\n")


def credentials_file(refreshed: bool) -> Callable[[Sandbox, Path], dict[str, str]]:
    """fab's credentials in a file (and none in its environment); with `refreshed`, rewritten with other keys the
    moment the first expire."""

    def prepare(sandbox: Sandbox, directory: Path) -> dict[str, str]:
        path = directory / "credentials"
        write_credentials(path, settings.FAKE_AWS_ACCESS_KEY_ID)
        if refreshed:
            sandbox.faults.on_expiry = lambda key: write_credentials(path, settings.FRESH_AWS_ACCESS_KEY_ID)
        return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": str(path),
                "AWS_CONFIG_FILE": str(directory / "no-config")}

    return prepare


@pytest.fixture(scope="module")
def expired() -> Callable[[bool], Deploy]:
    cache: dict[bool, Deploy] = {}

    def get(refreshed: bool) -> Deploy:
        if refreshed not in cache:
            cache[refreshed] = run_deploys("success", faults=EXPIRY, prepare=credentials_file(refreshed))[-1]
        common(cache[refreshed])  # what either way ends with
        return cache[refreshed]

    return get


def common(d: Deploy) -> None:
    assert d.run.exit_code == 1, d.run.output
    assert "Traceback" not in d.run.output
    assert not [secret for secret in SECRETS if secret in d.run.output]
    assert d.registrations == []  # Sleuth not told
    assert d.last_line.startswith("error: restart failed: AWS credentials have expired (ExpiredTokenException) at "
                                  "ecs:DescribeServices: refresh them and run again"), d.last_line


def test_credentials_refreshed_by_the_chain_put_everything_back_on_a_new_session(
    expired: Callable[[bool], Deploy],
) -> None:
    d = expired(True)
    old = d.world.current_digest
    assert d.tags == d.tags_before  # the release tag back, no -previous invented
    assert d.running_images == {"web": {old: 2}, "worker": {old: 1}}
    assert d.locks == []  # released on the fresh credentials
    said = [line for line in d.run.lines if "put-back on fresh credentials" in line]
    assert len(said) == 1, d.run.output
    assert re.fullmatch(rf"    credentials expired at ecr:PutImage {STAMP}; put-back on fresh credentials", said[0])
    assert any(line.startswith("==> put back in ") for line in d.run.lines), d.run.output
    assert "INCOMPLETE" not in d.run.output and "could NOT put back" not in d.run.output
    assert "warning" not in d.run.output.lower(), d.run.output  # the history and the lock: written, freed
    # both services were redeployed once more by the put-back, onto the restored tag
    assert all(len(ids) == 2 for ids in d.started_deployments.values()), d.started_deployments


def test_credentials_the_chain_cannot_refresh_end_with_the_commands_to_finish_by_hand(
    expired: Callable[[bool], Deploy],
) -> None:
    d = expired(False)
    w = d.world
    lines = d.run.lines
    (said,) = [line for line in lines if line.startswith("    credentials expired at ")]
    assert re.fullmatch(rf"    credentials expired at ecr:PutImage {STAMP}; the credential chain gives the same ones "
                        r"again: nothing here can refresh them", said), said
    assert "put-back on fresh credentials" not in d.run.output
    assert "==> put-back INCOMPLETE" in d.run.output
    # nothing could be put back: the tags as the deploy left them, both services rolled onto the new image
    assert d.tags == {**d.tags_before, "latest": w.new_digest, PREVIOUS: w.current_digest}
    heading = lines.index("  to finish putting it back by hand, in this order:")
    put = ("    aws ecr put-image --repository-name sandbox-app --image-tag {tag} --image-manifest \"$(aws ecr "
           "batch-get-image --repository-name sandbox-app --image-ids imageDigest={digest} --accepted-media-types "
           "application/vnd.docker.distribution.manifest.v2+json "
           "application/vnd.docker.distribution.manifest.list.v2+json application/vnd.oci.image.manifest.v1+json "
           "application/vnd.oci.image.index.v1+json --query 'images[0].imageManifest' --output text)\"")
    commands = lines[heading + 1:heading + 6]
    assert commands[:2] == [
        put.format(tag="latest", digest=w.current_digest),
        "    aws ecr batch-delete-image --repository-name sandbox-app --image-ids imageTag=latest-previous",
    ], "\n".join(lines[heading:])
    # the rollouts were in flight when the keys expired: ECS is to roll each back, as the put-back would have
    for service, command in zip(("web", "worker"), commands[2:4], strict=True):
        assert re.fullmatch(rf"    aws ecs stop-service-deployment --service-deployment-arn arn:aws:ecs:us-east-1:"
                            rf"\d+:service-deployment/sandbox/{service}/\w+ --stop-type ROLLBACK   # {service} in "
                            "sandbox", command), command
    assert commands[4].startswith("  or, all at once: fab rollback --env demo"), commands[4]
    assert all(len(ids) == 1 for ids in d.started_deployments.values()), d.started_deployments  # none by fab since
    # the lock cannot be freed with those credentials either: said, with the command that frees it
    assert len(d.locks) == 1
    (warning,) = [line for line in lines if line.startswith("warning: the deploy lock ")]
    assert re.search(r"once AWS answers, free it with: fab unlock --env demo --holder \S+$", warning), warning

"""End to end: the real `fab deploy` against the sandbox while AWS throttles its writes, answers with a proxy's page,
cuts a 200's JSON in half or refuses expired credentials. Whatever happens, the end state in AWS is one of two: every
service on the new image with the release tag on it and Sleuth told once, or everything where it was (no `-previous`
invented) and Sleuth told nothing; never a traceback, and the deploy lock free.

The sandbox's environment sets AWS_MAX_ATTEMPTS=2, so a burst of 4 outlasts botocore's own retries twice (in
production's default of 3 attempts, once) and reaches fab's retries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from e2e.deploys import PREVIOUS, Deploy, run_deploys
from sandbox.faults import Fault

BURSTS = {
    # the restart's UpdateService calls (web and worker start at once, so the burst meets both)
    "update-throttled": ("success", (Fault("ecs:UpdateService", "throttle", count=4),)),
    # the retag's PutImage calls: -previous first, then the release tag
    "put-throttled": ("success", (Fault("ecr:PutImage", "throttle", count=4),)),
    # a proxy's 502 page on UpdateService outlasts botocore's attempts: fab re-reads the service before repeating
    "update-proxy-page": ("success", (Fault("ecs:UpdateService", "html", count=4),)),
    # ... and on the wait's reads: missed polls
    "describe-proxy-page": ("success", (Fault("ecs:DescribeServices", "html", count=4, after=3),)),
    # a 200 whose JSON is cut in half (a proxy): on the wait's reads, missed polls
    "describe-truncated": ("success", (Fault("ecs:DescribeServices", "truncated", count=4, after=3),)),
    # ... on both UpdateService calls, which ECS applied: each service is re-read, not deployed twice
    "update-truncated": ("success", (Fault("ecs:UpdateService", "truncated", count=2),)),
    # ... on both PutImage calls (-previous, then the release tag), which ECR applied
    "put-truncated": ("success", (Fault("ecr:PutImage", "truncated", count=2),)),
    # ... on the deploy lock's PutParameter, which SSM applied: the lock is read back and found to be this run's
    "lock-truncated": ("success", (Fault("ssm:PutParameter", "truncated", count=1),)),
    # ... on the preflight's read of the release tag, which botocore alone reads as "no such tag: first deploy"
    "read-truncated": ("success", (Fault("ecr:BatchGetImage", "truncated", count=1),)),
    # worker's rollout fails; the put-back's UpdateService calls (the 3rd and 4th) meet a burst of their own
    "put-back-throttled": ("worker-fails", (Fault("ecs:UpdateService", "throttle", count=4, after=2),)),
    # credentials expire during the rollouts' wait and stay expired: nothing can be put back by fab
    "expired": ("success", (Fault("ecs:DescribeServices", "expired", count=1000, after=4),)),
}

# what fab is told about its credentials, as CI's role integration would tell it: they end within the deploy's
# worst case (two 15 s timeouts and a 15 s put-back)
EXPIRING = {"expired": lambda: {"AWS_SESSION_TOKEN": "sandbox-session",
                                "AWS_CREDENTIAL_EXPIRATION": (datetime.now(timezone.utc) + timedelta(seconds=30))
                                .isoformat(timespec="seconds")}}


@pytest.fixture(scope="module")
def faulty() -> Callable[[str], Deploy]:
    cache: dict[str, Deploy] = {}

    def get(name: str) -> Deploy:
        if name not in cache:
            scenario, faults = BURSTS[name]
            extra = EXPIRING[name]() if name in EXPIRING else None
            cache[name] = run_deploys(scenario, faults=faults, extra=extra)[-1]
        return cache[name]

    return get


def all_new(d: Deploy) -> None:
    w = d.world
    assert d.run.exit_code == 0, d.run.output
    assert d.tags == {**d.tags_before, "latest": w.new_digest, PREVIOUS: w.current_digest}
    assert d.running_images == {"web": {w.new_digest: 2}, "worker": {w.new_digest: 1}}
    assert len(d.registrations) == 1
    assert "Traceback" not in d.run.output
    assert d.locks == []


def all_old(d: Deploy) -> None:
    w = d.world
    assert d.run.exit_code == 1, d.run.output
    assert d.tags == d.tags_before  # no -previous invented, the release tag back
    assert d.running_images == {"web": {w.current_digest: 2}, "worker": {w.current_digest: 1}}
    assert d.registrations == []
    assert "Traceback" not in d.run.output
    assert d.locks == []


@pytest.mark.parametrize("name", ["update-throttled", "put-throttled"])
def test_a_burst_of_throttling_on_a_write_is_outlasted_and_the_deploy_succeeds(
    faulty: Callable[[str], Deploy], name: str
) -> None:
    d = faulty(name)
    all_new(d)
    action = BURSTS[name][1][-1].operation
    assert d.faults_played == [(action, "throttle")] * 4
    output = d.run.output
    assert f"{action} throttled (ThrottlingException); retrying for up to 1m00s" in output
    assert re.search(rf"{action} answers again after [12] failed attempts? \(\d+s\)", output), output
    outages = [line.split(":")[0] for line in d.run.lines if "retrying for up to" in line]
    assert outages and len(outages) == len(set(outages)), outages  # said once per service or tag, not per attempt
    if action == "ecs:UpdateService":
        assert sorted(d.started_deployments) == ["web", "worker"]
        assert all(len(ids) == 1 for ids in d.started_deployments.values()), d.started_deployments


def test_a_proxy_page_on_a_write_is_re_read_before_it_is_repeated(faulty: Callable[[str], Deploy]) -> None:
    d = faulty("update-proxy-page")
    all_new(d)
    assert "ecs:UpdateService got HTTP 502: the answer was not from AWS (a proxy?); retrying for up to" in d.run.output
    assert "<html" not in d.run.output.lower()
    assert all(len(ids) == 1 for ids in d.started_deployments.values()), d.started_deployments  # none doubled


def test_a_proxy_page_on_a_wait_s_read_is_a_missed_poll(faulty: Callable[[str], Deploy]) -> None:
    d = faulty("describe-proxy-page")
    all_new(d)
    assert d.faults_played == [("ecs:DescribeServices", "html")] * 4
    said = "ecs:DescribeServices got HTTP 502: the answer was not from AWS (a proxy?); still waiting"
    assert d.run.output.count(said) == 1, d.run.output


def test_a_burst_of_throttling_on_the_put_back_is_outlasted_and_everything_goes_back(
    faulty: Callable[[str], Deploy],
) -> None:
    d = faulty("put-back-throttled")
    all_old(d)
    assert d.faults_played == [("ecs:UpdateService", "throttle")] * 4
    assert any(line.startswith("==> put back in ") for line in d.run.lines), d.run.output
    assert "retrying for up to" in d.run.output


def test_credentials_that_expire_mid_deploy_are_said_as_such_with_the_commands_to_finish(
    faulty: Callable[[str], Deploy],
) -> None:
    d = faulty("expired")
    assert d.run.exit_code == 1, d.run.output
    assert "Traceback" not in d.run.output
    assert "AWS credentials have expired (ExpiredTokenException)" in d.run.output
    assert d.registrations == []
    assert "==> put-back INCOMPLETE" in d.run.output
    # the same session credentials come back from the chain (they are in fab's environment): nothing to retry on
    assert re.search(r"    credentials expired at ecs:DescribeServices \(\d\d:\d\d:\d\d UTC\); the credential chain "
                     r"gives the same ones again: nothing here can refresh them\n", d.run.output), d.run.output
    assert "to finish putting it back by hand, in this order:" in d.run.output
    assert "    fab restart --env demo --service web --service worker   # once the release tag is back" in d.run.output
    assert d.tags == d.tags_before  # the put-back's ECR part went through: no -previous invented
    assert d.last_line.startswith("error: restart failed: AWS credentials have expired"), d.last_line
    assert re.search(r"\(the session credentials \(AWS_CREDENTIAL_EXPIRATION\), valid until \d\d:\d\d:\d\d UTC; "
                     r"the run had taken \d+\.\ds\)$", d.last_line), d.last_line
    assert "sandbox-session" not in d.run.output


def test_the_preflight_warns_when_the_credentials_end_before_the_deploy_s_worst_case(
    faulty: Callable[[str], Deploy],
) -> None:
    d = faulty("expired")
    (warning,) = [line for line in d.run.lines if line.startswith("  [warn] the session credentials")]
    assert re.fullmatch(r"  \[warn\] the session credentials \(AWS_CREDENTIAL_EXPIRATION\) expire in \d+\.\ds "
                        r"\(\d\d:\d\d:\d\d UTC\), less than this deploy may take \(45\.0s: migration, rollouts and a "
                        r"put-back at their timeouts\); get credentials that last longer, or lower deploy.timeout",
                        warning), warning
    assert d.locks == []


CUT = "got HTTP 200 with a body that is not JSON: the answer was not from AWS (a proxy?)"


def test_a_truncated_answer_on_a_wait_s_read_is_a_missed_poll(faulty: Callable[[str], Deploy]) -> None:
    d = faulty("describe-truncated")
    all_new(d)
    assert d.faults_played == [("ecs:DescribeServices", "truncated")] * 4
    assert d.run.output.count(f"ecs:DescribeServices {CUT}; still waiting") == 1, d.run.output
    assert re.search(r"ecs:DescribeServices answers again after 4 failed reads \(\d+s\)", d.run.output), d.run.output


def test_a_truncated_answer_to_an_applied_update_is_re_read_and_not_deployed_twice(
    faulty: Callable[[str], Deploy],
) -> None:
    d = faulty("update-truncated")
    all_new(d)  # Sleuth told once
    assert d.faults_played == [("ecs:UpdateService", "truncated")] * 2
    assert sorted(d.started_deployments) == ["web", "worker"]
    assert all(len(ids) == 1 for ids in d.started_deployments.values()), d.started_deployments  # none doubled
    for service in ("web", "worker"):
        assert f"    {service}: ecs:UpdateService {CUT}; retrying for up to 1m00s" in d.run.lines, d.run.output
        (started,) = d.started_deployments[service]
        assert f"    {service}: new deployment {started} (sandbox-{service}:1)" in d.run.lines  # the one it followed


def test_a_truncated_answer_to_an_applied_put_image_is_re_read_and_the_tags_end_consistent(
    faulty: Callable[[str], Deploy],
) -> None:
    d = faulty("put-truncated")
    all_new(d)  # the release tag on the new image, -previous on the one it named before: nothing invented
    assert d.faults_played == [("ecr:PutImage", "truncated")] * 2
    for tag in (PREVIOUS, "latest"):
        assert f"    sandbox-app:{tag}: ecr:PutImage {CUT}; retrying for up to 1m00s" in d.run.lines, d.run.output


def test_a_truncated_answer_to_the_lock_s_creation_is_read_back_and_the_run_goes_on(
    faulty: Callable[[str], Deploy],
) -> None:
    """Read as a failure, it would leave behind a lock no run holds, which refuses the run again it asks for."""
    d = faulty("lock-truncated")
    all_new(d)  # the lock freed at the end
    assert d.faults_played == [("ssm:PutParameter", "truncated")]


def test_a_truncated_answer_to_a_preflight_read_stops_the_deploy_before_any_change(
    faulty: Callable[[str], Deploy],
) -> None:
    """Read as botocore alone reads it, the release tag would be missing: a "first deploy" recording no -previous."""
    d = faulty("read-truncated")
    assert d.run.exit_code == 1, d.run.output
    assert d.last_line == f"error: preflight failed: repository: AWS ecr:BatchGetImage {CUT}; run again in a minute"
    assert d.tags == d.tags_before and d.started_deployments == {} and d.migrations == []
    assert "first deploy" not in d.run.output and "Traceback" not in d.run.output
    assert d.registrations == [] and d.locks == []

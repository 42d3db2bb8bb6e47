"""Operator tasks and guards: status, rollback, check, the account guard, the deploy lock and Ctrl-C."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import CONFIG, FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, fab

LOCK = "/fab-deploy/acme-staging/staging/lock"


def configure(project, **staging):
    config = json.loads(json.dumps(CONFIG))
    config["environments"]["staging"].update(staging)
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": config}))


def lock_value(world):
    client = world.ssm
    try:
        return json.loads(client.get_parameter(Name=LOCK)["Parameter"]["Value"])
    except client.exceptions.ParameterNotFound:
        return None


def hold_lock(world, since="2026-11-26T05:55:00+00:00", who="alice", deadline=None):
    """A lock as a run of this version writes it (with `deadline`) or as an older version did (without)."""
    value = {"who": who, "where": "alice-laptop", "task": "deploy", "sha": "c0ffee1", "since": since, "token": "t"}
    if deadline:
        value["deadline"] = deadline
    world.ssm.put_parameter(Name=LOCK, Value=json.dumps(value), Type="String")


def deployed(world, project, capsys, clock):
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 0, err
    return out


# --- the deploy lock ----------------------------------------------------------------------------------
def test_a_locked_environment_refuses_a_second_run_with_the_holder(world, project, capsys):
    hold_lock(world, deadline="2026-11-26T06:40:00+00:00")
    before = world.deployment_ids()
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert err == ("error: environment 'staging' is locked by alice (alice-laptop) running deploy of c0ffee1 since "
                   "2026-11-26T05:55:00+00:00, 5 min ago, until 2026-11-26T06:40:00+00:00 (holder id t); wait for it "
                   "to finish (fab status --env staging); if that run was killed, free it: fab unlock --env staging "
                   "--holder t\n")
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    assert lock_value(world)["who"] == "alice"


def test_break_lock_takes_over_only_a_lock_past_its_holders_deadline(world, project, capsys, clock):
    hold_lock(world, since="2026-11-26T05:00:00+00:00", deadline="2026-11-26T05:40:00+00:00")  # now: 06:00
    code, _, err = fab(capsys, "restart", "--env", "staging", "--service", "worker")
    assert code == 1 and err.endswith("; it is past its deadline (2026-11-26T05:40:00+00:00, 20 min ago): if that run "
                                      "is dead, run again with --break-lock, or free it: fab unlock --env staging "
                                      "--holder t\n")
    code, out, err = fab(capsys, "restart", "--env", "staging", "--service", "worker", "--break-lock")
    assert code == 0, err
    assert out.splitlines()[0] == ("warning: --break-lock took over the deploy lock of alice (alice-laptop) running "
                                   "deploy of c0ffee1 since 2026-11-26T05:00:00+00:00, 60 min ago, until "
                                   "2026-11-26T05:40:00+00:00 (holder id t)")
    assert lock_value(world) is None  # taken, then released


def test_break_lock_with_a_short_timeout_never_takes_a_live_runs_lock(world, project, capsys, clock):
    """The live run's own budget decides, not the breaker's timeout: a deploy with --timeout 60 may hold the lock
    for its migration and rollout (2 x 60 s), a put-back (the environment's 600 s) and 300 s; a restart
    --break-lock --timeout 1 five seconds in is refused and changes nothing."""
    seen: dict = {}

    def breaker(seconds: float) -> None:
        if seen or clock.inner.elapsed < 5:
            return
        seen["lock"] = lock_value(world)
        seen["before"] = world.deployment_ids()
        seen["run"] = fab(capsys, "restart", "--env", "staging", "--break-lock", "--timeout", "1")
        seen["after"] = world.deployment_ids()

    clock.on_sleep.append(breaker)
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging", "--timeout", "60")
    assert code == 0, err
    assert (seen["lock"]["since"], seen["lock"]["deadline"]) == ("2026-11-26T06:00:00+00:00",
                                                                 "2026-11-26T06:17:00+00:00")
    breaker_code, _, breaker_err = seen["run"]
    assert breaker_code == 1
    assert (f"is locked by {seen['lock']['who']} (" in breaker_err and " running deploy of " in breaker_err
            and "; --break-lock takes a lock only after its deadline, 2026-11-26T06:17:00+00:00 (in 17 min): that "
                "run may still be alive; wait for it to finish" in breaker_err)
    assert seen["after"] == seen["before"]  # the breaker restarted nothing
    assert world.digest_of("latest") == world.new_digest and lock_value(world) is None


def test_a_lock_from_an_older_version_lasts_three_timeouts_and_the_margin(world, project, capsys, clock):
    hold_lock(world, since="2026-11-26T05:30:00+00:00")  # no deadline; 30 min ago; timeout 600 s: 35 min assumed
    code, _, err = fab(capsys, "restart", "--env", "staging", "--break-lock", "--timeout", "1")
    assert code == 1
    assert ("; --break-lock takes a lock only after a deadline assumed for a lock from an older version, which "
            "records none: its start plus 3 x the environment's timeout (600s) plus 300s, 2026-11-26T06:05:00+00:00 "
            "(in 5 min)") in err
    clock.inner.elapsed = 6 * 60
    code, out, err = fab(capsys, "restart", "--env", "staging", "--break-lock")
    assert code == 0, err
    assert out.startswith("warning: --break-lock took over the deploy lock of alice (alice-laptop) running deploy of "
                          "c0ffee1 since 2026-11-26T05:30:00+00:00, 36 min ago (holder id t)\n")


def test_break_lock_does_not_touch_a_fresh_lock(world, project, capsys):
    hold_lock(world)
    code, _, err = fab(capsys, "retag", "--tag", NEW_TAG, "--env", "staging", "--break-lock")
    assert code == 1 and "is locked by alice" in err
    assert world.digest_of("latest") == world.old_digest


# --- fab unlock ----------------------------------------------------------------------------------------
def test_unlock_frees_only_the_lock_of_the_holder_named(world, project, capsys, clock):
    hold_lock(world, deadline="2026-11-26T06:40:00+00:00")
    code, _, err = fab(capsys, "unlock", "--env", "staging")
    assert code == 1
    assert err == ("error: environment 'staging' is locked by alice (alice-laptop) running deploy of c0ffee1 since "
                   "2026-11-26T05:55:00+00:00, 5 min ago, until 2026-11-26T06:40:00+00:00 (holder id t); if that run "
                   "is dead, free it: fab unlock --env staging --holder t\n")
    code, _, err = fab(capsys, "unlock", "--env", "staging", "--holder", "0ld3r")
    assert code == 1 and err.startswith("error: the deploy lock of 'staging' is held by alice (alice-laptop) running "
                                        "deploy of c0ffee1 since ")
    assert err.endswith("(holder id t), not by holder '0ld3r': nothing freed. If that run is dead too: fab unlock "
                        "--env staging --holder t\n")
    code, out, _ = fab(capsys, "--dry", "unlock", "--env", "staging", "--holder", "t")
    assert code == 0 and out.startswith("DRY RUN - would free the deploy lock of 'staging' held by alice")
    assert lock_value(world)["who"] == "alice"
    code, out, err = fab(capsys, "unlock", "--env", "staging", "--holder", "t")
    assert (code, err) == (0, "")
    assert out == ("freed the deploy lock of 'staging', held by alice (alice-laptop) running deploy of c0ffee1 since "
                   "2026-11-26T05:55:00+00:00, 5 min ago, until 2026-11-26T06:40:00+00:00 (holder id t)\n")
    assert lock_value(world) is None
    code, out, _ = fab(capsys, "unlock", "--env", "staging", "--holder", "t")
    assert (code, out) == (0, "environment 'staging' is not locked: nothing to free\n")
    code, _, err = fab(capsys, "restart", "--env", "staging")  # the next run is not refused
    assert code == 0, err


@pytest.mark.parametrize("value", ["held by bob, back at 5", '{"who": "bob"}'], ids=["not-json", "no-token"])
def test_an_unreadable_lock_gets_an_id_from_its_value_and_can_be_freed(world, project, capsys, value):
    world.ssm.put_parameter(Name=LOCK, Value=value, Type="String")
    code, out, _ = fab(capsys, "status", "--env", "staging", "--json")
    holder_id = json.loads(out)["lock"]["id"]
    assert code == 0 and holder_id.startswith("x") and len(holder_id) == 12
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging", "--break-lock")
    assert code == 1 and err.endswith(f"it records no deadline, so --break-lock cannot judge it; if that run is dead: "
                                      f"fab unlock --env staging --holder {holder_id}\n")
    code, _, err = fab(capsys, "unlock", "--env", "staging", "--holder", holder_id)
    assert code == 0, err
    assert lock_value(world) is None


def test_a_lock_records_its_holders_deadline_from_its_own_budget(world, project, capsys, clock):
    seen: list[dict] = []
    clock.on_sleep.append(lambda seconds: seen.append(lock_value(world)))
    code, _, err = fab(capsys, "restart", "--env", "staging", "--timeout", "100")
    assert code == 0, err
    # one wait of up to 100 s, plus the 300 s margin
    assert (seen[0]["task"], seen[0]["since"], seen[0]["deadline"]) == ("restart", "2026-11-26T06:00:00+00:00",
                                                                       "2026-11-26T06:06:40+00:00")


def test_lock_is_held_during_the_run_and_released_after_a_failure(world, project, capsys, clock):
    seen: list[dict | None] = []
    world.emulator.migration_exit_code = 2
    clock.on_sleep.append(lambda seconds: seen.append(lock_value(world)))
    code, _, _ = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert seen[0]["task"] == "deploy" and seen[0]["sha"] == NEW_SHA and seen[0]["since"]
    assert lock_value(world) is None


def test_reads_and_dry_runs_take_no_lock(world, project, capsys, monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    hold_lock(world)
    for argv in (["status", "--env", "staging"], ["check", "--env", "staging"],
                 ["--dry", "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging"]):
        code, out, err = fab(capsys, *argv)
        assert (code, err) == (0, ""), argv
    assert lock_value(world)["who"] == "alice"


# --- the account guard --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [["deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging"], ["--dry", "retag", "--tag", NEW_TAG,
     "--env", "staging"], ["migrate", "--env", "staging"], ["restart", "--env", "staging"],
     ["rollback", "--env", "staging"], ["status", "--env", "staging"]],
)
def test_credentials_of_another_account_are_refused_by_every_task(world, project, capsys, argv):
    configure(project, account="999999999999")
    before = world.deployment_ids()
    code, _, err = fab(capsys, *argv)
    assert code == 1
    assert err.startswith("error: wrong AWS account: the credentials in use (arn:aws:sts::123456789012:user/moto) "
                          "belong to account 123456789012, but environment 'staging' is account 999999999999")
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    assert lock_value(world) is None


def test_the_right_account_passes(world, project, capsys, clock):
    configure(project, account="123456789012")
    assert "the environment's account" in deployed(world, project, capsys, clock)


# --- check ----------------------------------------------------------------------------------------------
def test_check_lists_every_item_and_passes(world, project, capsys, monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", "x" * 20)
    code, out, err = fab(capsys, "check", "--env", "staging")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Preflight for staging:"
    assert [line.split("]")[0] for line in lines[1:-1]] == ["  [ok  "] * 8
    assert "[ok  ] deployments: web, worker: rolling, allowed 10m00s (ECS controller), circuit breaker on" in out
    assert "[ok  ] services run the release tag: all run acme-app:latest" in out
    assert lines[-1] == "staging is ready to deploy"


def test_check_fails_on_a_task_definition_that_ignores_the_release_tag(world, project, capsys):
    world.ecs.register_task_definition(
        family="acme-web-pinned", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "memory": 512,
                               "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app@{world.old_digest}"}],
    )
    world.ecs.update_service(cluster="acme-staging", service="web", taskDefinition="acme-web-pinned:1")
    code, out, err = fab(capsys, "check", "--env", "staging")
    assert code == 1
    assert (f"  [FAIL] services run the release tag: web (acme-web-pinned:1) runs acme-app@{world.old_digest}: a "
            "retag and restart would change nothing there; make the task definition use acme-app:latest") in out
    assert ("  [FAIL] sleuth: Sleuth is not configured: set the SLEUTH_API_TOKEN environment variable; deploys will "
            "not be registered") in out
    assert err == "error: 2 check(s) failed: services run the release tag, sleuth\n"


def test_deploy_runs_the_same_checks_before_changing_anything(world, project, capsys):
    world.logs.delete_log_group(logGroupName="/ecs/acme")
    before = world.deployment_ids()
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert err.startswith("error: preflight failed: log groups: log group(s) /ecs/acme do not exist")
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before


# --- status -------------------------------------------------------------------------------------------
def row(out: str, first: str) -> list[str]:
    """The cells of the table row whose first cell is `first` (cells are two or more spaces apart)."""
    import re

    return next(re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip().startswith(first + " "))


def test_status_shows_tags_what_each_service_runs_deployments_events_and_lock(world, project, capsys, clock):
    deployed(world, project, capsys, clock)
    hold_lock(world)
    code, out, _ = fab(capsys, "status", "--env", "staging")
    assert code == 0
    new, old = f"sha256:{world.new_digest[7:19]}", f"sha256:{world.old_digest[7:19]}"
    assert row(out, "latest")[1] == new and row(out, "latest")[3] == f"[{NEW_TAG}, {NEW_SHA}]"
    assert row(out, "latest-previous")[1] == old and row(out, "latest-previous")[3] == "[aaaaaaa]"
    web = row(out, "web")
    assert web[:2] == ["web", f"2x {new} (latest)"] and web[3:7] == ["PRIMARY", "COMPLETED", "2/2", "acme-web:1"]
    assert row(out, "worker")[:2] == ["worker", f"1x {new} (latest)"]
    assert "DRIFT" not in out
    assert ("lock: held by alice (alice-laptop) running deploy of c0ffee1 since 2026-11-26T05:55:00+00:00, no deadline "
            "recorded (an older version's lock)\n        holder id t; if that run is dead: fab unlock --env staging "
            "--holder t\n") in out

    code, out, _ = fab(capsys, "status", "--env", "staging", "--json")
    data = json.loads(out)
    assert data["release_tag"]["digest"] == world.new_digest
    assert sorted(data["release_tag"]["other_tags"]) == sorted([NEW_SHA, NEW_TAG])
    assert [s["name"] for s in data["services"]] == ["web", "worker"]
    assert data["services"][0]["runs"] == [{"digest": world.new_digest, "tasks": 2, "tag": "latest"}]
    assert data["services"][0]["drift"] is None
    assert (data["lock"]["who"], data["lock"]["id"], data["lock"]["deadline"]) == ("alice", "t", None)
    world.ssm.delete_parameter(Name=LOCK)
    hold_lock(world, deadline="2026-11-26T06:40:00+00:00")
    code, out, _ = fab(capsys, "status", "--env", "staging")
    assert "since 2026-11-26T05:55:00+00:00, until 2026-11-26T06:40:00+00:00\n" in out
    code, out, _ = fab(capsys, "status", "--env", "staging", "--json")
    assert json.loads(out)["lock"]["deadline"] == "2026-11-26T06:40:00+00:00"


def test_status_flags_services_whose_tasks_run_another_image_than_the_release_tag(world, project, capsys, clock):
    """A retag without a restart: ECS keeps running the digest each deployment resolved."""
    deployed(world, project, capsys, clock)
    third, fourth = world.ecr_put(3, "ccccccc"), world.ecr_put(4, "ddddddd")
    assert fab(capsys, "retag", "--tag", "ccccccc", "--env", "staging")[0] == 0
    code, out, _ = fab(capsys, "status", "--env", "staging")
    assert "DRIFT: web runs latest-previous, not latest" in out
    data = json.loads(fab(capsys, "status", "--env", "staging", "--json")[1])
    assert data["services"][1]["drift"] == "runs latest-previous, not latest"

    assert fab(capsys, "retag", "--tag", "ddddddd", "--env", "staging")[0] == 0
    data = json.loads(fab(capsys, "status", "--env", "staging", "--json")[1])
    assert data["release_tag"]["digest"] == fourth and data["previous"]["digest"] == third
    short_new = f"sha256:{world.new_digest[7:19]}"
    for service in data["services"]:
        assert service["runs"][0] == {"digest": world.new_digest, "tasks": service["desired"], "tag": None}
        assert service["drift"] == f"runs {short_new}, which no tag of staging names"
    out = fab(capsys, "status", "--env", "staging")[1]
    assert f"DRIFT: worker runs {short_new}, which no tag of staging names" in out


def test_status_all_covers_every_environment(world, project, capsys):
    code, out, _ = fab(capsys, "status", "--all", "--json")
    assert code == 0 and [e["environment"] for e in json.loads(out)] == ["production", "staging"]


# --- rollback -----------------------------------------------------------------------------------------
def test_rollback_moves_back_to_previous_restarts_and_runs_no_migration(world, project, capsys, clock):
    deployed(world, project, capsys, clock)
    migrations = len(world.migration_tasks())
    before = world.deployment_ids()
    code, out, err = fab(capsys, "rollback", "--env", "staging")
    assert code == 0, err
    assert world.digest_of("latest") == world.old_digest
    assert world.digest_of("latest-previous") == world.old_digest  # left as it was
    assert all(world.deployment_ids()[n] != before[n] for n in before)
    assert len(world.migration_tasks()) == migrations
    assert "no migration runs" in out
    assert f"rolled back staging in 20.0s: acme-app:latest = {world.old_digest} (tag latest-previous); verified: " \
           f"every service runs sha256:{world.old_digest[7:19]}" in out
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}

    code, _, err = fab(capsys, "rollback", "--env", "staging")  # the release tag is on latest-previous already
    assert code == 1
    assert err.splitlines()[-1].startswith("error: nothing to roll back: ")
    assert world.digest_of("latest") == world.old_digest


def test_rollback_without_previous_refuses_plainly(world, project, capsys):
    code, _, err = fab(capsys, "rollback", "--env", "staging")
    assert code == 1
    assert err.startswith("error: no previous image to roll back to: acme-app:latest-previous does not exist")


def test_rollback_dry_run_shows_the_plan(world, project, capsys, clock):
    deployed(world, project, capsys, clock)
    code, out, _ = fab(capsys, "--dry", "rollback", "--env", "staging")
    assert code == 0
    assert out.startswith("DRY RUN - roll back staging to acme-app:latest-previous; nothing will be changed.")
    assert f"1. retag: move acme-app:latest sha256:{world.new_digest[7:19]} -> sha256:{world.old_digest[7:19]}" in out
    assert world.digest_of("latest") == world.new_digest


# --- Ctrl-C -------------------------------------------------------------------------------------------
def test_interrupt_during_restart_says_what_changed_and_releases_the_lock(world, project, capsys, clock):
    def interrupt(seconds: float) -> None:
        if any(d["id"] != before[n] for n, d in ((n, world.service(n).deployments[0]) for n in before)):
            raise KeyboardInterrupt

    before = world.deployment_ids()
    clock.on_sleep.append(interrupt)
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 130
    assert err == ("interrupted: stopped by Ctrl-C during restart; see above for what changed and what still runs "
                   "in ECS\n")
    assert "==> stopped by Ctrl-C during restart; nothing was put back. State now:" in out
    assert (f"  release tag: acme-app:latest = sha256:{world.new_digest[7:19]} (was "
            f"sha256:{world.old_digest[7:19]}); latest-previous = sha256:{world.old_digest[7:19]}") in out
    assert (f"  service web: IN_PROGRESS 0/2 running - the rollout continues in ECS; 2 tasks on "
            f"sha256:{world.old_digest[7:19]} (the image it ran before)") in out
    assert "  to follow what still runs: fab status --env staging" in out
    assert "  not started: notify" in out
    assert "  or, all at once: fab rollback --env staging" in out
    assert lock_value(world) is None
    assert world.digest_of("latest") == world.new_digest


def test_rollback_registers_the_previous_images_commit_with_sleuth(world, project, capsys, clock, monkeypatch):
    import responses
    from responses import matchers

    deployed(world, project, capsys, clock)
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    endpoint = "https://app.sleuth.io/api/1/deployments/acme/acme-app/register_deploy"
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(endpoint, body="Success", match=[matchers.json_params_matcher(
            {"sha": "aaaaaaa", "environment": "staging"}, strict_match=False)])
        code, out, err = fab(capsys, "rollback", "--env", "staging")
    assert (code, err) == (0, "")
    assert "Sleuth" in out.rstrip().splitlines()[-1] and FAKE_SLEUTH_TOKEN not in out


def test_interrupt_during_the_migration_names_the_task_still_running(world, project, capsys, clock):
    def interrupt(seconds: float) -> None:
        if world.migration_tasks():
            raise KeyboardInterrupt

    clock.on_sleep.append(interrupt)
    before = world.deployment_ids()
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 130
    task_id = world.migration_tasks()[0].id
    assert (f"  migration task {task_id} is still running in ECS; watch it in the console or stop it: aws ecs "
            f"stop-task --cluster acme-staging --task {task_id}") in out
    assert "  not started: restart, notify" in out
    assert world.deployment_ids() == before and lock_value(world) is None


def test_a_lock_that_cannot_be_released_is_a_warning_and_the_first_failure_stays_the_last_line(
        world, project, capsys, monkeypatch):
    from moto.core.exceptions import JsonRESTError
    from moto.ssm.models import ssm_backends

    def gone(*args, **kwargs):
        raise JsonRESTError("AccessDeniedException", "not allowed to delete")

    monkeypatch.setattr(ssm_backends["123456789012"]["us-east-1"], "delete_parameter", gone)
    world.emulator.migration_exit_code = 2
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert err.startswith("error: migrate failed: task ") and err.count("\n") == 1
    holder = lock_value(world)["token"]
    assert out.rstrip().splitlines()[-1] == (
        f"warning: the deploy lock {LOCK} is still held: releasing it failed (access denied: the credentials in use "
        "lack ssm:DeleteParameter (not allowed to delete); grant it to the role or user (docs/iam.md lists what the "
        f"tasks need)); once AWS answers, free it with: fab unlock --env staging --holder {holder}")


@pytest.mark.parametrize(("name", "status"), [("SIGHUP", 129), ("SIGTERM", 143)])
def test_a_signal_during_the_restart_reports_what_runs_releases_the_lock_and_exits_128_plus_its_number(
        world, project, capsys, clock, name, status):
    """A closed terminal (SIGHUP) or a cancelled CI job (SIGTERM): handled like Ctrl-C, nothing put back."""
    import os
    import signal

    def hang_up(seconds: float) -> None:
        if any(d["id"] != before[n] for n, d in ((n, world.service(n).deployments[0]) for n in before)):
            os.kill(os.getpid(), getattr(signal, name))

    before = world.deployment_ids()
    handler = signal.getsignal(getattr(signal, name))
    clock.on_sleep.append(hang_up)
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == status
    assert err == (f"interrupted: stopped by {name} during restart; see above for what changed and what still runs "
                   "in ECS\n")
    assert f"==> stopped by {name} during restart; nothing was put back. State now:" in out
    assert "  service web: IN_PROGRESS 0/2 running - the rollout continues in ECS" in out
    assert lock_value(world) is None
    assert world.digest_of("latest") == world.new_digest  # nothing put back: the operator chose to stop
    assert signal.getsignal(getattr(signal, name)) == handler  # the task's handlers are gone with it

"""The command line against emulated AWS: bad input is one line with no change, dry runs change nothing, a deploy
ends with its summary, a failed one with what failed and the state."""

from __future__ import annotations

import pytest
from conftest import NEW_SHA, NEW_TAG, fab


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["deploy", "--sha", NEW_SHA, "--env", "prod"], "error: unknown environment 'prod': known environments are "
                                                        "production, staging (deploy.environments in fabric.yaml)"),
        (["deploy", "--sha", "nothex!", "--env", "staging"], "error: malformed --sha 'nothex!': give the git commit "
                                                             "id, 7 to 40 hex characters"),
        (["deploy", "--sha", NEW_SHA, "--env", "staging", "--tag", "bad tag"], "error: malformed --tag 'bad tag'"),
        (["deploy", "--sha", NEW_SHA, "--env", "staging", "--timeout", "soon"], "error: malformed --timeout 'soon'"),
        (["restart", "--env", "staging", "--service", "api"], "error: unknown service api for environment 'staging'"),
        (["migrate", "--env", "production"], "error: no migration command for environment 'production': pass "
                                             "--command or set migrate.command"),
        (["deploy", "--sha", NEW_SHA, "--env", "staging", "--tag", "1234567"], "error: image acme-app:1234567 not "
                                                                              "found in ECR"),
    ],
)
def test_bad_input_is_one_line_exit_1_no_traceback_no_change(world, project, capsys, argv, expected):
    before = world.deployment_ids()
    code, out, err = fab(capsys, *argv)
    assert code == 1
    assert err.startswith(expected) and err.count("\n") == 1
    assert "Traceback" not in out + err
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before


def test_missing_config_says_what_to_add(world, project, capsys):
    (project / "fabric.yaml").unlink()
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--env", "staging")
    assert code == 1
    assert err == ("error: no environments configured: add deploy.environments to fabric.yaml next to fabfile.py "
                   "(see the README's configuration section)\n")


def test_environment_variables_override_scalar_settings(world, project, capsys, monkeypatch):
    monkeypatch.setenv("FABRIC_DEPLOY_REPOSITORY", "other-repo")
    code, _, err = fab(capsys, "--dry", "retag", "--tag", NEW_TAG, "--env", "staging")
    assert code == 1 and err.startswith("error: ECR repository 'other-repo' not found")


def test_dry_deploy_prints_the_plan_and_changes_nothing(world, project, capsys):
    before = world.deployment_ids()
    code, out, err = fab(capsys, "--dry", "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert (code, err) == (0, "")
    assert out.startswith(f"DRY RUN - deploy {NEW_SHA} (acme-app:{NEW_TAG}) to staging; nothing will be changed.")
    assert "  3. restart: force a new deployment of web" in out
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    assert world.migration_tasks() == []


@pytest.mark.parametrize(
    "argv",
    [["retag", "--tag", NEW_TAG, "--env", "staging"], ["migrate", "--env", "staging"],
     ["restart", "--env", "staging", "--service", "worker"]],
)
def test_dry_run_of_every_task_changes_nothing(world, project, capsys, argv):
    before = world.deployment_ids()
    code, out, _ = fab(capsys, "--dry", *argv)
    assert code == 0 and out.startswith("DRY RUN - ")
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    assert world.migration_tasks() == []


def test_deploy_through_fab_ends_with_the_summary(world, project, capsys, clock):
    world.emulator.migration_lines = ("Applying orders.0042... OK",)
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 0, err
    assert world.digest_of("latest") == world.new_digest
    assert "    | Applying orders.0042... OK" in out
    assert f"deployed {NEW_SHA} to staging in 35.0s: acme-app:latest = {world.new_digest}" in out
    assert out.count("Sleuth is not configured") == 1
    assert out.rstrip().splitlines()[-1].startswith("WARNING: register it later with: fab notify --sha ")


def test_failed_deploy_exits_1_with_what_failed_and_the_state(world, project, capsys, clock):
    world.emulator.migration_exit_code = 1
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert err.startswith("error: migrate failed: task ") and "exited with code 1" in err
    assert "    acme-app:latest restored to" in out
    assert world.digest_of("latest") == world.old_digest


def test_missing_credentials_are_one_line(world, project, capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = fab(capsys, "--dry", "retag", "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert err.startswith("error: no AWS credentials found for ecr:DescribeRepositories: set AWS_PROFILE")

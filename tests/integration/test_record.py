"""The deploy record (`--record FILE`) through the real `fab` program, in-process against moto and the ECS
emulator: what an auditor or a CI artifact reader checks in it after a good, a failed, a refused and an
interrupted run, and that a record that cannot be written never turns a deploy red.
"""

from __future__ import annotations

import json

from conftest import NEW_SHA, NEW_TAG, fab


def _deploy(capsys, record, *extra):
    return fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging", "--record", str(record),
               *extra)


def test_a_good_deploy_records_its_steps_digests_who_and_outcome(world, project, capsys, monkeypatch):
    monkeypatch.setenv("CIRCLE_BUILD_URL", "https://app.circleci.com/pipelines/gh/acme/app/7/workflows/w/jobs/42")
    monkeypatch.setenv("CIRCLE_USERNAME", "ada")
    path = project / "out" / "record.json"  # its folder does not exist yet
    code, out, err = _deploy(capsys, path)
    assert code == 0, out + err
    record = json.loads(path.read_text())
    assert (record["task"], record["environment"], record["sha"], record["tag"]) == ("deploy", "staging", NEW_SHA,
                                                                                    NEW_TAG)
    assert (record["result"], record["exit_status"], record["error"]) == ("succeeded", 0, None)
    assert record["release_tag"] == {"tag": "latest", "digest": world.new_digest}
    assert record["release_tag_before"] == {"tag": "latest", "digest": world.old_digest}
    assert [(s["name"], s["outcome"]) for s in record["steps"]] == [
        ("retag", "done"), ("migrate", "done"), ("restart", "done"), ("notify", "done")]
    restart = record["steps"][2]
    assert restart["seconds"] >= 20 and restart["started_at"].startswith("2026-11-26T")  # the emulated rollout
    assert record["put_back"]["outcome"] is None and record["put_back"]["steps"] == []
    assert (record["who"], record["where"]) == ("ada", record["ci_job_url"])
    assert record["ci_job_url"].endswith("/jobs/42")
    assert f"record: deploy of {NEW_SHA} to staging succeeded (exit 0); written to {path}" in out


def test_the_record_shares_its_field_names_with_fab_status_json(world, project, capsys, tmp_path):
    path = tmp_path / "record.json"
    assert _deploy(capsys, path)[0] == 0
    record = json.loads(path.read_text())
    code, out, _ = fab(capsys, "status", "--env", "staging", "--json")
    status = json.loads(out)
    for key in ("environment", "repository", "cluster"):
        assert record[key] == status[key]
    assert record["release_tag"]["digest"] == status["release_tag"]["digest"]
    assert record["release_tag"]["tag"] == status["release_tag"]["tag"]


def test_a_failed_deploy_records_the_step_that_failed_and_what_was_put_back(world, project, capsys, tmp_path):
    world.emulator.outcomes["web"] = "fail"
    path = tmp_path / "record.json"
    code, out, err = _deploy(capsys, path)
    assert code == 1
    record = json.loads(path.read_text())
    assert (record["result"], record["exit_status"]) == ("failed", 1)
    assert record["error"] == err.strip().removeprefix("error: ")
    assert [(s["name"], s["outcome"]) for s in record["steps"]] == [
        ("retag", "done"), ("migrate", "done"), ("restart", "failed"), ("notify", "not started")]
    assert "web" in record["steps"][2]["error"]
    assert record["put_back"]["outcome"] == "complete"
    assert [(s["name"], s["outcome"]) for s in record["put_back"]["steps"]] == [
        ("retag", "put back"), ("migrate", "nothing to put back"), ("restart", "put back")]
    assert record["release_tag"]["digest"] == record["release_tag_before"]["digest"] == world.old_digest
    assert "record: deploy of " + NEW_SHA + " to staging failed (exit 1) at restart; put-back complete" in out


def test_a_put_back_that_fails_is_recorded_as_incomplete(world, project, capsys, tmp_path, monkeypatch):
    from tasks.core.errors import DeployError
    from tasks.core.steps.restart import Restart

    world.emulator.outcomes["web"] = "fail"

    def cannot(self, target):
        raise DeployError("ecs:UpdateService was denied")

    monkeypatch.setattr(Restart, "put_back", cannot)
    path = tmp_path / "record.json"
    assert _deploy(capsys, path)[0] == 1
    put_back = json.loads(path.read_text())["put_back"]
    assert put_back["outcome"] == "incomplete"
    assert put_back["steps"][-1] == {"name": "restart", "outcome": "failed", "error": "ecs:UpdateService was denied"}


def test_a_deploy_refused_before_any_change_still_leaves_a_record(world, project, capsys, tmp_path):
    path = tmp_path / "record.json"
    code, _, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", "no-such-tag", "--env", "staging",
                       "--record", str(path))
    assert code == 1
    record = json.loads(path.read_text())
    assert (record["result"], record["exit_status"], record["steps"]) == ("refused", 1, [])
    assert "no-such-tag" in record["error"]


def test_an_unwritable_record_is_a_warning_and_the_deploy_stays_green(world, project, capsys, tmp_path):
    (tmp_path / "a-file").write_text("")
    path = tmp_path / "a-file" / "record.json"  # its folder is a file
    code, out, err = _deploy(capsys, path)
    assert code == 0, out + err
    warning = next(line for line in out.splitlines() if line.startswith("warning: the deploy record"))
    assert str(path) in warning and warning.endswith("here it is:")
    printed = json.loads(out.splitlines()[out.splitlines().index(warning) + 1])
    assert printed["result"] == "succeeded"


def test_every_changing_task_takes_record(world, project, capsys, tmp_path):
    assert _deploy(capsys, tmp_path / "deploy.json")[0] == 0
    runs = {
        "retag": ("retag", "--tag", NEW_TAG, "--env", "staging"),
        "restart": ("restart", "--env", "staging"),
        "migrate": ("migrate", "--env", "staging"),
        "rollback": ("rollback", "--env", "staging"),
    }
    for task, argv in runs.items():
        path = tmp_path / f"{task}.json"
        code, out, err = fab(capsys, *argv, "--record", str(path))
        assert code == 0, out + err
        record = json.loads(path.read_text())
        assert (record["task"], record["result"]) == (task, "succeeded")
        assert record["steps"] and all(s["outcome"] == "done" for s in record["steps"])
    rollback = json.loads((tmp_path / "rollback.json").read_text())
    assert rollback["release_tag"]["digest"] == world.old_digest


def test_a_dry_run_writes_no_record(world, project, capsys, tmp_path):
    path = tmp_path / "record.json"
    assert fab(capsys, "--dry", "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging",
               "--record", str(path))[0] == 0
    assert not path.exists()

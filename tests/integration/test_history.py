"""`fab history` and the history each run adds to, through the real `fab` program in-process against moto (its
SSM keeps parameter versions as Parameter Store does): newest first, a failed and put-back deploy shown as such,
and a history that cannot be written never turns a deploy red.
"""

from __future__ import annotations

import json

import pytest
from conftest import NEW_SHA, NEW_TAG, fab

from tasks.core.ecr import short
from tasks.core.history import VALUE_LIMIT, compact, encode

HISTORY = "/fab-deploy/acme-staging/staging/history"


def _deploy(capsys, *extra):
    return fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging", *extra)


class _Answer:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict[str, str] = {}


@pytest.fixture
def history_fails(monkeypatch):
    """`history_fails(code)`: SSM answers every write of the history parameter with that error code (the deploy
    lock's own writes go through)."""
    import tasks.core.history

    seen: list[str] = []
    original = tasks.core.history.History.__init__

    def arm(code: str, status: int = 400):
        def fail(params, **_):
            if HISTORY in str(params.get("body")):
                seen.append(code)
                return _Answer(status), {"Error": {"Code": code, "Message": f"{code} (injected)"}}
            return None

        def init(self, client, *args, **kwargs):
            client.meta.events.register("before-call.ssm.PutParameter", fail)
            original(self, client, *args, **kwargs)

        monkeypatch.setattr(tasks.core.history.History, "__init__", init)
        return seen

    return arm


def test_history_lists_a_good_and_a_failed_put_back_deploy_newest_first(world, project, capsys):
    world.emulator.outcomes["web"] = "fail"
    assert _deploy(capsys)[0] == 1
    world.emulator.outcomes.pop("web")
    assert _deploy(capsys)[0] == 0

    code, out, err = fab(capsys, "history", "--env", "staging")
    assert code == 0, err
    heading, columns, good, failed = out.splitlines()
    assert heading == f"staging: the last 2 runs, newest first (SSM parameter {HISTORY})"
    assert columns.split() == ["STARTED", "TASK", "RESULT", "SHA", "TAG", "RELEASE", "TAG", "TOOK", "BY"]
    assert " deploy " in failed and " FAILED at restart, put-back complete " in failed and NEW_SHA in failed
    assert " deploy " in good and " ok " in good and NEW_SHA in good
    assert f"{short(world.old_digest)} -> {short(world.new_digest)}" in good

    code, out, _ = fab(capsys, "history", "--env", "staging", "--json", "--limit", "1")
    (run,) = json.loads(out)
    assert (run["result"], run["version"], run["digest"]) == ("succeeded", 2, world.new_digest)
    code, out, _ = fab(capsys, "history", "--env", "staging", "--json")
    failed_run = json.loads(out)[1]
    assert (failed_run["result"], failed_run["failed_step"], failed_run["put_back"], failed_run["exit_status"]) == (
        "failed", "restart", "complete", 1)
    assert failed_run["digest"] == failed_run["digest_before"] == world.old_digest  # put back: the tag is where it was
    assert failed_run["at"] and "web" in failed_run["error"]


def test_every_changing_task_adds_to_the_history_and_a_refused_one_does_not(world, project, capsys):
    assert _deploy(capsys)[0] == 0
    assert fab(capsys, "restart", "--env", "staging")[0] == 0
    assert fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", "no-such-tag", "--env", "staging")[0] == 1  # refused
    assert fab(capsys, "rollback", "--env", "staging")[0] == 0
    code, out, _ = fab(capsys, "history", "--env", "staging", "--json")
    assert [(r["task"], r["result"]) for r in json.loads(out)] == [
        ("rollback", "succeeded"), ("restart", "succeeded"), ("deploy", "succeeded")]


def test_no_history_yet_says_so(world, project, capsys):
    code, out, _ = fab(capsys, "history", "--env", "staging")
    assert (code, out.strip()) == (0, f"staging: no runs recorded yet in SSM parameter {HISTORY}")
    assert fab(capsys, "history", "--env", "staging", "--json")[1].strip() == "[]"


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-3"])
def test_a_bad_limit_is_one_line_and_reads_nothing(world, project, capsys, limit):
    code, out, err = fab(capsys, "history", "--env", "staging", "--limit", limit)
    assert code == 1 and out == ""
    assert err.strip() == (f"error: malformed --limit {limit!r}: give a whole number from 1 to 100 (SSM keeps the last "
                           "100 runs)")


def test_history_reads_back_all_hundred_versions_ssm_keeps(world, project, capsys):
    for number in range(105):
        world.ssm.put_parameter(Name=HISTORY, Value=json.dumps({"task": "deploy", "result": "succeeded",
                                                                "sha": f"{number:07d}"}),
                                Type="String", Overwrite=True)
    code, out, _ = fab(capsys, "history", "--env", "staging", "--json", "--limit", "100")
    runs = json.loads(out)
    assert len(runs) == 100 and runs[0]["sha"] == "0000104" and runs[-1]["sha"] == "0000005"


def test_a_throttled_history_write_is_a_warning_and_the_deploy_stays_green(world, project, capsys, history_fails):
    seen = history_fails("ThrottlingException")
    code, out, err = _deploy(capsys)
    assert code == 0, out + err
    assert len(seen) > 1  # tried again before giving up
    warning = [line for line in out.splitlines() if line.startswith("warning: this run is not in the history")]
    assert len(warning) == 1 and "ThrottlingException" in warning[0]
    assert world.digest_of("latest") == world.new_digest
    assert fab(capsys, "status", "--env", "staging")[1].count("lock: free") == 1  # the lock was released


def test_a_denied_history_write_is_a_warning_that_names_the_action(world, project, capsys, history_fails, tmp_path):
    history_fails("AccessDeniedException")
    path = tmp_path / "record.json"
    code, out, err = _deploy(capsys, "--record", str(path))
    assert code == 0, out + err
    (warning,) = [line for line in out.splitlines() if line.startswith("warning: this run is not in the history")]
    assert "ssm:PutParameter" in warning
    record = json.loads(path.read_text())
    assert record["result"] == "succeeded" and record["history"]["version"] is None


def test_the_record_file_names_the_history_version_it_was_written_as(world, project, capsys, tmp_path):
    path = tmp_path / "record.json"
    assert _deploy(capsys, "--record", str(path))[0] == 0
    assert json.loads(path.read_text())["history"] == {"parameter": HISTORY, "version": 1}


def test_a_summary_fits_a_standard_parameter_whatever_the_error_says():
    record = {
        "task": "deploy", "result": "failed", "exit_status": 1, "sha": "a" * 40, "tag": "t" * 128,
        "release_tag_before": {"digest": "sha256:" + "1" * 64}, "release_tag": {"digest": "sha256:" + "2" * 64},
        "started_at": "2026-11-26T06:00:00+00:00", "seconds": 12.5,
        "steps": [{"name": "restart", "outcome": "failed"}], "error": "é" * 10_000,
        "put_back": {"outcome": "incomplete"}, "who": "w" * 3000, "where": "https://" + "x" * 3000,
    }
    text = encode(compact(record))
    assert len(text.encode()) <= VALUE_LIMIT
    summary = json.loads(text)
    assert (summary["result"], summary["failed_step"], summary["put_back"]) == ("failed", "restart", "incomplete")

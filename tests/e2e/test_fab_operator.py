"""End to end: the single steps and the operator tasks, through the real `fab` against one sandbox.

The order is an operator's evening: the steps CI runs one by one (retag, migrate, restart, notify), then a
rollback, with `fab status` read as a script would (`--json`) and as a person would (the table), and the
sandbox's own view checked in between. Pace and polling as in e2e/deploys.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import issued_credentials

from e2e.deploys import PACE, POLL_INTERVAL
from sandbox import Options, Sandbox, settings
from sandbox.fab import FabRun, fab_executable, run_fab, stream

ENV = settings.ENVIRONMENT
PREVIOUS = settings.RELEASE_TAG + "-previous"


class Operator:
    def __init__(self, sandbox: Sandbox, config: Path) -> None:
        self.sandbox = sandbox
        self.config = config

    def fab(self, *arguments: str) -> FabRun:
        return run_fab(self.sandbox, self.config, arguments, timeout=60)

    def status(self) -> dict[str, Any]:
        run = self.fab("status", "--env", ENV, "--json")
        assert run.exit_code == 0, run.output
        return json.loads(run.output)


@pytest.fixture(scope="module")
def operator() -> Iterator[Operator]:
    with Sandbox(Options(scenario="success", **PACE)) as sandbox, \
            tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=15)
        yield Operator(sandbox, config)


def test_the_steps_one_by_one_then_a_rollback(operator: Operator) -> None:
    sandbox, world = operator.sandbox, operator.sandbox.world
    assert world is not None
    before = operator.status()

    retag = operator.fab("retag", "--tag", world.new_sha, "--env", ENV)
    assert retag.exit_code == 0, retag.output
    tags = sandbox.image_tags()
    assert (tags["latest"], tags[PREVIOUS]) == (tags[world.new_sha], before["release_tag"]["digest"])
    assert [d["id"] for s in sandbox.services().values() for d in s["deployments"]] == \
        [d["id"] for s in before["services"] for d in s["deployments"]]  # a retag restarts nothing
    # the tasks still run what their deployment resolved, and the table flags it
    assert sandbox.running_images() == {s["name"]: {world.current_digest: s["desired"]} for s in before["services"]}
    table = operator.fab("status", "--env", ENV)
    assert "DRIFT: web runs latest-previous, not latest" in table.output
    assert "DRIFT: worker runs latest-previous, not latest" in table.output

    migrate = operator.fab("migrate", "--env", ENV)
    assert migrate.exit_code == 0, migrate.output
    assert migrate.lines[-1].startswith(f"migrated {ENV} on ")
    assert any(line.strip().startswith("| ") for line in migrate.lines)

    restart = operator.fab("restart", "--env", ENV, "--service", "web")
    assert restart.exit_code == 0, restart.output
    new = world.new_digest[: len("sha256:") + 12]
    assert restart.lines[-2].startswith(f"restarted {ENV} in ") and restart.lines[-2].endswith("; every task checked")
    assert restart.lines[-1].split()[:3] == ["web", "COMPLETED", "2/2"]
    assert restart.lines[-1].endswith(f", 2 tasks on {new}")
    after_restart = operator.status()
    web, worker = (next(s for s in after_restart["services"] if s["name"] == n) for n in ("web", "worker"))
    assert web["deployments"][0]["id"] != before["services"][0]["deployments"][0]["id"]
    assert worker["deployments"] == next(s for s in before["services"] if s["name"] == "worker")["deployments"]
    assert (web["runs"], web["drift"]) == ([{"digest": world.new_digest, "tasks": 2, "tag": "latest"}], None)
    assert worker["drift"] == "runs latest-previous, not latest"

    notify = operator.fab("notify", "--sha", world.new_sha, "--env", ENV)
    assert notify.exit_code == 0, notify.output
    assert [r.body["sha"] for r in sandbox.registrations] == [world.new_sha]

    rollback = operator.fab("rollback", "--env", ENV)
    assert rollback.exit_code == 0, rollback.output
    after = operator.status()
    assert after["release_tag"]["digest"] == before["release_tag"]["digest"]
    assert after["previous"]["digest"] == before["release_tag"]["digest"]
    assert all(s["deployments"][0]["rollout_state"] == "COMPLETED" for s in after["services"])
    assert all(s["runs"][0]["digest"] == world.current_digest and s["drift"] is None for s in after["services"])
    assert [r.body["sha"] for r in sandbox.registrations] == [world.new_sha, world.current_sha]
    assert after["lock"] is None


def test_debug_status_with_a_web_identity_shows_no_credential(operator: Operator, tmp_path: Path) -> None:
    """CI's OIDC path through the real `fab` as a subprocess: botocore assumes the role at the sandbox's STS."""
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmcvYWNtZS9wcm9qZWN0In0.c2FuZGJveC1zaWduYXR1cmU"
    (tmp_path / "oidc-token").write_text(token)
    environment = operator.sandbox.process_environment()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # static keys would win over the web identity
        environment.pop(name)
    environment.update(AWS_ROLE_ARN="arn:aws:iam::123456789012:role/circleci-deploy",
                       AWS_WEB_IDENTITY_TOKEN_FILE=str(tmp_path / "oidc-token"))
    code, output = stream([fab_executable(), "-f", str(operator.config), "--debug", "status", "--env", ENV],
                          environment, timeout=60)
    issued = issued_credentials()
    assert code == 0, output[-2000:]
    assert issued and "AssumeRoleWithWebIdentity" in output
    leaked = [s[:6] + "..." for s in (*issued, token, settings.FAKE_SLEUTH_API_TOKEN) if s in output]
    assert not leaked, f"secret(s) in the output: {leaked}"


@pytest.mark.parametrize(("signal_name", "status"), [("SIGTERM", 143)])
def test_a_signal_during_the_migration_reports_the_task_and_frees_the_lock(signal_name: str, status: int) -> None:
    """What a cancelled CI job does (SIGTERM, to the real process): the report Ctrl-C gets, the lock released,
    exit 128 + the signal's number; the next run is not refused. SIGHUP: tests/integration/test_operator.py."""
    import signal
    import subprocess

    options = Options(scenario="success", migration_seconds=30, rollout_seconds=0.5)
    with Sandbox(options) as sandbox, tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        world = sandbox.world
        assert world is not None
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=60)
        command = [fab_executable(), "-f", str(config), "deploy", "--sha", world.new_sha, "--env", ENV]
        process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2], text=True,
                                   env={**sandbox.process_environment(), "PYTHONUNBUFFERED": "1"},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # until the migration task runs
            lines.append(line)
            if ": RUNNING" in line:
                break
        process.send_signal(getattr(signal, signal_name))
        lines += process.stdout.readlines()
        code = process.wait(timeout=30)
        output = "".join(lines)
        (task_arn,) = sandbox.emulator.one_off_tasks
        task_id = task_arn.rsplit("/", 1)[-1]
        assert code == status, output
        assert f"==> stopped by {signal_name} during migrate; nothing was put back. State now:" in output
        assert f"  migration task {task_id} is still running in ECS; watch it in the console or stop it: aws ecs " \
               f"stop-task --cluster {world.cluster} --task {task_id}" in output
        assert output.rstrip().splitlines()[-1] == (f"interrupted: stopped by {signal_name} during migrate; see above "
                                                    "for what changed and what still runs in ECS")
        assert "Traceback" not in output
        again = run_fab(sandbox, config, ["retag", "--tag", world.current_sha, "--env", ENV])  # a held lock refuses
        assert again.exit_code == 0, again.output

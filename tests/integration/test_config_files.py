"""A fractional timeout from the environment is taken, through a real deploy against emulated AWS."""

from __future__ import annotations

import yaml
from conftest import CONFIG, NEW_SHA, NEW_TAG, fab


def without_timeout() -> str:
    return yaml.safe_dump({"deploy": {k: v for k, v in CONFIG.items() if k != "timeout"}})


def test_a_fractional_timeout_from_the_environment_is_taken(world, project, capsys, monkeypatch):
    """With no timeout in the file, the variable overrides the declared default (1800 s): a rollout that never ends
    is given up after the variable's 90.5 s, not half an hour, and the deploy is put back."""
    (project / "fabric.yaml").write_text(without_timeout())
    monkeypatch.setenv("FABRIC_DEPLOY_TIMEOUT", "90.5")
    monkeypatch.setenv("FABRIC_DEPLOY_SLEUTH_TAGS", "backend,hot fix")
    code, out, err = fab(capsys, "--dry", "restart", "--env", "staging")
    assert (code, err) == (0, "") and out.startswith("DRY RUN - restart web, worker in staging")
    world.emulator.outcomes["web"] = "hang"
    code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert code == 1
    assert "==> restart failed after 1m30s\n" in out
    assert err == "error: restart failed: web TIMED_OUT - still in progress after 1m30s\n"
    assert world.digest_of("latest") == world.old_digest

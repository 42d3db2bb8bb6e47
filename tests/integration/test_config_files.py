"""A fractional timeout from the environment is taken, through a real deploy against emulated AWS."""

from __future__ import annotations

import yaml
from conftest import CONFIG, fab


def without_timeout() -> str:
    return yaml.safe_dump({"deploy": {k: v for k, v in CONFIG.items() if k != "timeout"}})


def test_a_fractional_timeout_from_the_environment_is_taken(world, project, capsys, monkeypatch):
    """With no timeout in the file, the variable overrides the declared default (None): any number is fine."""
    (project / "fabric.yaml").write_text(without_timeout())
    monkeypatch.setenv("FABRIC_DEPLOY_TIMEOUT", "90.5")
    monkeypatch.setenv("FABRIC_DEPLOY_SLEUTH_TAGS", "backend,hot fix")
    code, out, err = fab(capsys, "--dry", "restart", "--env", "staging")
    assert (code, err) == (0, "") and out.startswith("DRY RUN - restart web, worker in staging")

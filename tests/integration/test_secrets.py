"""Secret hygiene for the whole project: no path of the real `fab` program prints a secret.

Every path (success, each failure, `--dry`, Fabric's `--debug`, which logs every AWS request with its headers)
runs in-process with known fake secrets in the environment: the Sleuth token and AWS keys, including a session
token as CI's OIDC credentials have one. stdout and stderr (file-descriptor level) must contain none of them.
moto's `mock_aws` swaps in its own fake keys when it starts, so ours are set again after it, and are the ones
botocore really signs with. With a web identity (CI's OIDC path), botocore itself calls STS
`AssumeRoleWithWebIdentity` (moto serves it) with the token from the file, and the credentials STS issues
(read back from moto) must not appear either.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable

import pytest
import responses
import yaml
from conftest import (
    CONFIG,
    FAKE_ACCESS_KEY,
    FAKE_SECRET_KEY,
    FAKE_SLEUTH_TOKEN,
    NEW_SHA,
    NEW_TAG,
    fab,
    issued_credentials,
)

FAKE_SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKESESSIONTOKEN0123456789abcdefDoNotPrint=="

SECRETS = (FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SLEUTH_TOKEN, FAKE_SESSION_TOKEN)

ENDPOINT = "https://app.sleuth.io/api/1/deployments/acme/acme-app/register_deploy"

DEPLOY = ["deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging"]


def _succeed(world):
    world.emulator.migration_lines = ("Applying orders.0042... OK",)


def _fail_migration(world):
    world.emulator.migration_lines = ("OperationalError: no such table",)
    world.emulator.migration_exit_code = 1


def _fail_rollout(world):
    world.emulator.outcomes.update(web="fail", worker="fail")


def _nothing(world):
    pass


# (name, argv, how ECS behaves (scripts the emulator), Sleuth's answer or None for no call expected, exit status)
PATHS: list[tuple[str, list[str], Callable, tuple[int, str] | None, int]] = [
    ("deploy-success", DEPLOY, _succeed, (200, "Success"), 0),
    ("deploy-sleuth-401", DEPLOY, _succeed, (401, "Invalid access token"), 0),
    ("deploy-sleuth-503", DEPLOY, _succeed, (503, "maintenance"), 0),
    ("deploy-bad-sha", ["deploy", "--sha", "nothex!", "--env", "staging"], _nothing, None, 1),
    ("deploy-unknown-env", ["deploy", "--sha", NEW_SHA, "--env", "prod"], _nothing, None, 1),
    ("deploy-missing-image", ["deploy", "--sha", NEW_SHA, "--tag", "not-pushed", "--env", "staging"], _nothing,
     None, 1),
    ("deploy-migration-fails", DEPLOY, _fail_migration, None, 1),
    ("deploy-rollout-fails", DEPLOY, _fail_rollout, None, 1),
    ("deploy-dry", ["--dry", *DEPLOY], _nothing, None, 0),
    ("notify-success", ["notify", "--sha", NEW_SHA, "--env", "staging", "--tag", NEW_TAG], _nothing,
     (200, "Success"), 0),
    ("notify-401", ["notify", "--sha", NEW_SHA, "--env", "staging"], _nothing, (401, "Invalid access token"), 1),
    ("notify-503", ["notify", "--sha", NEW_SHA, "--env", "staging"], _nothing, (503, "down"), 1),
    ("notify-dry", ["--dry", "notify", "--sha", NEW_SHA, "--env", "staging"], _nothing, None, 0),
    ("retag", ["retag", "--tag", NEW_TAG, "--env", "staging"], _nothing, None, 0),
    ("retag-dry", ["--dry", "retag", "--tag", NEW_TAG, "--env", "staging"], _nothing, None, 0),
    ("migrate", ["migrate", "--env", "staging"], _succeed, None, 0),
    ("restart", ["restart", "--env", "staging"], _succeed, None, 0),
    ("restart-dry", ["--dry", "restart", "--env", "staging"], _nothing, None, 0),
]


@pytest.fixture
def secrets_set(world, monkeypatch):
    """Our fake secrets in the environment, set after moto's own (see the module docstring)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    return world


def debug_logging(monkeypatch) -> None:
    """Let `fab --debug` set up logging as it does outside pytest: without pytest's own handlers on the root
    logger, which pytest adds when the test itself starts (so this is called from the test, not a fixture)."""
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)


def run(world, clock, capfd, argv, ecs, answer):
    ecs(world)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as sleuth_api:
        if answer is not None:
            sleuth_api.post(ENDPOINT, status=answer[0], body=answer[1])
        code, out, err = fab(capfd, *argv)
        calls = len(sleuth_api.calls)
    return code, out + err, calls


def assert_clean(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"secret(s) in the output: {[s[:6] + '...' for s in leaked]}"


@pytest.mark.parametrize(("argv", "ecs", "answer", "status"), [p[1:] for p in PATHS], ids=[p[0] for p in PATHS])
def test_no_secret_in_any_output_debug_included(
    secrets_set, project, clock, capfd, monkeypatch, argv, ecs, answer, status
):
    """With `--debug`, the output is what a run prints anyway plus every log record (botocore's request headers,
    Invoke's config): one run checks both."""
    debug_logging(monkeypatch)
    code, text, calls = run(secrets_set, clock, capfd, ["--debug", *argv], ecs, answer)
    assert code == status, text[-2000:]
    assert "invoke.config" in text  # the debug output is there
    assert_clean(text)
    if answer is not None:
        assert calls >= 1  # the path really reached Sleuth, with the token in its header


@pytest.mark.parametrize("argv", [["status", "--env", "staging"], ["check", "--env", "staging"],
                                  ["--dry", "rollback", "--env", "staging"]], ids=["status", "check", "rollback-dry"])
def test_no_secret_in_the_other_tasks_output(secrets_set, project, clock, capfd, monkeypatch, argv):
    debug_logging(monkeypatch)
    code, text, _ = run(secrets_set, clock, capfd, ["--debug", *argv], _nothing, (200, "Success"))
    # a rollback has nowhere to go in this world (no -previous yet): refused in one line, like any other
    assert code == (1 if "rollback" in argv else 0), text[-2000:]
    assert_clean(text)


def test_no_secret_when_sleuth_is_unconfigured_or_the_token_is_malformed(secrets_set, project, clock, capfd,
                                                                        monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", f"{FAKE_SLEUTH_TOKEN}\n")  # a trailing newline is only trimmed
    code, text, calls = run(secrets_set, clock, capfd, DEPLOY, _succeed, (200, "Success"))
    assert (code, calls) == (0, 1)
    assert_clean(text)
    monkeypatch.setenv("SLEUTH_API_TOKEN", f"{FAKE_SLEUTH_TOKEN} {FAKE_SLEUTH_TOKEN}")
    code, text, calls = run(secrets_set, clock, capfd, ["notify", "--sha", NEW_SHA, "--env", "staging"], _nothing,
                            (200, "Success"))
    assert (code, calls) == (1, 0)
    assert "SLEUTH_API_TOKEN contains spaces or control characters" in text
    assert_clean(text)


# --- temporary credentials from a web identity, SSO, containers and instances ----------------------------
def fake_jwt(subject: str = "org/acme/project/app") -> str:
    """A token shaped like CircleCI's OIDC token (moto's STS does not check the signature)."""
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': subject, 'aud': 'sts'})}.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def web_identity(world, project, monkeypatch):
    """CI's OIDC set-up: a token file and a role to assume, no static keys (they would win), the Sleuth token."""
    token = fake_jwt()
    (project / "oidc-token").write_text(token)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/circleci-deploy")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(project / "oidc-token"))
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)
    return token


@pytest.mark.parametrize("argv", [["status", "--env", "staging"], DEPLOY], ids=["status", "deploy"])
def test_debug_with_a_web_identity_shows_no_issued_credential_nor_the_token(
    web_identity, world, clock, capfd, monkeypatch, argv
):
    debug_logging(monkeypatch)
    code, text, calls = run(world, clock, capfd, ["--debug", *argv], _succeed, (200, "Success"))
    issued = issued_credentials()
    assert code == 0, text[-2000:]
    assert len(issued) >= 3 and "AssumeRoleWithWebIdentity" in text  # the run did use the web identity
    assert "<SessionToken>****</SessionToken>" in text and "'WebIdentityToken': '****'" in text
    leaked = [s[:6] + "..." for s in (*issued, web_identity, FAKE_SLEUTH_TOKEN) if s in text]
    assert not leaked, f"secret(s) in the output: {leaked}"
    assert calls == (1 if argv == DEPLOY else 0)


def test_several_tasks_in_one_fab_command_assume_the_role_once_and_another_role_anew(
    web_identity, world, clock, capfd, monkeypatch
):
    """A session keeps the credentials it was given: `fab check ... status ...` asks STS once. A changed
    variable (another role) is a new session, which asks STS again, for that role."""
    from moto.sts.models import sts_backends

    def assumed() -> list[str]:
        return [role.role_arn for account in sts_backends.values() for backend in account.values()
                for role in backend.assumed_roles]

    deploy_role, plan_role = (f"arn:aws:iam::123456789012:role/circleci-{name}" for name in ("deploy", "plan"))
    code, text, _ = run(world, clock, capfd, ["check", "--env", "staging", "status", "--env", "staging"],
                        _nothing, None)
    assert code == 0, text[-2000:]
    assert "staging is ready to deploy" in text and "  lock: free" in text  # check, then status, both ran
    assert "assumed-role/circleci-deploy/" in text
    assert assumed() == [deploy_role]
    monkeypatch.setenv("AWS_ROLE_ARN", plan_role)
    code, text, _ = run(world, clock, capfd, ["status", "--env", "staging"], _nothing, None)
    assert code == 0, text[-2000:]
    assert assumed() == [deploy_role, plan_role]


def test_debug_keeps_secret_header_values_of_the_config_files_out(secrets_set, project, clock, capfd, monkeypatch):
    """Invoke logs each config file's contents under --debug before any task starts; a smoke check's headers
    may carry a credential."""
    staging = {**CONFIG["environments"]["staging"],
               "smoke": {"url": "https://staging.example.com/health",
                         "headers": {"Authorization": "Bearer smoke-credential-0123456789", "X-Api-Key": "k3y-0123"}}}
    (project / "fabric.yaml").write_text(yaml.safe_dump(
        {"deploy": {**CONFIG, "environments": {**CONFIG["environments"], "staging": staging}}}))
    debug_logging(monkeypatch)
    code, text, _ = run(secrets_set, clock, capfd, ["--debug", "status", "--env", "staging"], _nothing, None)
    assert code == 0, text[-2000:]
    assert "Per-project config file" in text and "'Authorization': '****', 'X-Api-Key': '****'" in text
    assert "smoke-credential-0123456789" not in text and "k3y-0123" not in text

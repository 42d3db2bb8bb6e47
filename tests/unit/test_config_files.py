"""Bad config through the real `fab`: one line naming the file and the key, exit 1, no traceback, no AWS call.

Invoke reads the project's fabric.yaml and the `-f` file itself, before any task runs; these tests prove the
errors are caught there too. "No AWS call" is checked directly: AWS_ENDPOINT_URL points at a socket this test
listens on, and no connection may arrive.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest
import yaml
from conftest import CONFIG, NEW_SHA, fab

from tasks.core.config_files import read_file
from tasks.core.errors import DeployError

DEPLOY = ["deploy", "--sha", NEW_SHA, "--env", "staging"]


@pytest.fixture
def aws(monkeypatch) -> Iterator[socket.socket]:
    """Where every AWS call would go: a listening socket that records whether anyone connected."""
    listener = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    yield listener
    listener.close()


def no_aws_call(listener: socket.socket) -> bool:
    return not select.select([listener], [], [], 0)[0]


def config_with(**deploy) -> str:
    tree = {**CONFIG, **deploy}
    return yaml.safe_dump({"deploy": tree})


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 1, out + err
    assert "Traceback" not in out + err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err.rstrip("\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deploy:\n  repository: [acme-app\n", "error: fabric.yaml: malformed YAML at line 3, column 1: expected ',' "
                                               "or ']', but got '<stream end>'"),
        ("deploy: 5\n", "error: fabric.yaml: deploy must be a mapping of settings, not 5"),
        ("deploy:\n  environments: [x]\n", 'error: fabric.yaml: deploy.environments must be a mapping of settings, '
                                           'not a list (["x"])'),
        ("deploy:\n  sleuth:\n", "error: fabric.yaml: deploy.sleuth must be a mapping of settings, not nothing"),
        ("- deploy\n", 'error: fabric.yaml: the file must hold a mapping (deploy: ...), not a list (["deploy"])'),
        ("deplyo:\n  repository: acme-app\n", "error: fabric.yaml: unknown key deplyo: did you mean deploy?"),
        (config_with(poll_intervall=5), "error: fabric.yaml: unknown key deploy.poll_intervall: did you mean "
                                        "poll_interval?"),
        (config_with(canary={"steps": 3}), "error: fabric.yaml: unknown key deploy.canary: this version knows "
                                           "repository, region, timeout, poll_interval, parallel, environments, "
                                           "sleuth, notify"),
    ],
    ids=["malformed-yaml", "deploy-5", "environments-list", "empty-sleuth", "not-a-mapping", "top-level-typo",
         "key-typo", "unknown-section"],
)
def test_a_bad_project_file_is_one_line_before_any_task(project, capsys, aws, text, expected):
    (project / "fabric.yaml").write_text(text)
    for argv in (DEPLOY, ["--list"]):  # caught while fab loads the fabfile: even --list says it
        assert one_line_error(*fab(capsys, *argv)) == expected
    assert no_aws_call(aws)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"poll_interval": float("nan")}, "error: fabric.yaml: malformed deploy.poll_interval nan: give a positive "
                                          "number of seconds"),
        ({"environments": {**CONFIG["environments"], "staging": {**CONFIG["environments"]["staging"],
                                                                 "migrate": {"command": ""}}}},
         "error: fabric.yaml: empty deploy.environments.staging.migrate.command: give the migration command, e.g. "
         "[python, manage.py, migrate], or remove deploy.environments.staging.migrate to deploy without a migration"),
    ],
    ids=["nan-poll-interval", "empty-migrate-command"],
)
def test_a_bad_value_is_one_line_naming_the_file_and_key(project, capsys, aws, changes, expected):
    (project / "fabric.yaml").write_text(config_with(**changes))
    assert one_line_error(*fab(capsys, *DEPLOY)) == expected
    assert no_aws_call(aws)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "1e999"])
def test_timeout_nan_or_inf_calls_no_aws_at_all(project, capsys, aws, value):
    assert one_line_error(*fab(capsys, *DEPLOY, "--timeout", value)) == (
        f"error: malformed --timeout '{value}': give a positive number of seconds"
    )
    assert no_aws_call(aws)


def test_a_runtime_file_is_checked_and_named_and_wins_over_the_project_file(project, capsys, aws):
    (project / "staging.yaml").write_text("deploy:\n  environments:\n    staging:\n      poll_interval: -1\n")
    assert one_line_error(*fab(capsys, "-f", "staging.yaml", *DEPLOY)) == (
        "error: staging.yaml: malformed deploy.environments.staging.poll_interval -1: give a positive number of "
        "seconds"
    )
    (project / "staging.yaml").write_text("deploy: 5\n")
    assert one_line_error(*fab(capsys, "-f", "staging.yaml", *DEPLOY)) == (
        "error: staging.yaml: deploy must be a mapping of settings, not 5"
    )
    assert no_aws_call(aws)


def test_a_missing_runtime_file_is_refused_not_ignored(project, capsys, aws):
    assert one_line_error(*fab(capsys, "-f", "stagign.yaml", *DEPLOY)) == (
        "error: config file stagign.yaml does not exist: check the path given to fab -f"
    )
    assert no_aws_call(aws)


def without_timeout() -> str:
    return yaml.safe_dump({"deploy": {k: v for k, v in CONFIG.items() if k != "timeout"}})


def test_a_bad_environment_variable_is_named(project, capsys, aws, monkeypatch):
    (project / "fabric.yaml").write_text(without_timeout())
    monkeypatch.setenv("FABRIC_DEPLOY_TIMEOUT", "nan")
    assert one_line_error(*fab(capsys, *DEPLOY)) == (
        "error: environment variable FABRIC_DEPLOY_TIMEOUT: malformed deploy.timeout 'nan': give a positive number "
        "of seconds"
    )
    assert no_aws_call(aws)


def test_a_variable_invoke_cannot_cast_is_one_line(project, capsys, aws, monkeypatch):
    # fabric.yaml says timeout: 600, an int, and Invoke casts the variable with int()
    monkeypatch.setenv("FABRIC_DEPLOY_TIMEOUT", "nan")
    assert one_line_error(*fab(capsys, *DEPLOY)) == (
        "error: environment variable FABRIC_DEPLOY_TIMEOUT: malformed deploy.timeout 'nan': give a whole number, as "
        "the 600 it overrides in the config file is"
    )
    monkeypatch.setenv("FABRIC_DEPLOY_ENVIRONMENTS_STAGING_SERVICES", "web")
    monkeypatch.delenv("FABRIC_DEPLOY_TIMEOUT")
    assert one_line_error(*fab(capsys, *DEPLOY)) == (
        "error: environment variable FABRIC_DEPLOY_ENVIRONMENTS_STAGING_SERVICES cannot set "
        "deploy.environments.staging.services, a list in the config file: set it in the file (or a file given with "
        "fab -f)"
    )
    assert no_aws_call(aws)


def test_read_file_names_line_and_column(tmp_path):
    (tmp_path / "bad.json").write_text('{"deploy": 5,}')
    with pytest.raises(DeployError, match=r"^bad.json: malformed JSON at line 1, column 14: Expecting property name"):
        read_file(str(tmp_path / "bad.json"), yaml, "bad.json")
    (tmp_path / "x.toml").write_text("")
    with pytest.raises(DeployError, match=r"^config file x.toml: fab reads only .yaml, .yml, .json or .py"):
        read_file(str(tmp_path / "x.toml"), yaml, "x.toml")


def test_the_user_file_is_checked_and_named(project, capsys, aws, monkeypatch, tmp_path_factory):
    """`~/.fabric.yaml`, read by Invoke before the fabfile, is read again here: its errors name it too."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    (home / ".fabric.yaml").write_text("deploy: 5\n")
    assert one_line_error(*fab(capsys, "--list")) == (
        f"error: {home / '.fabric.yaml'}: deploy must be a mapping of settings, not 5")
    (home / ".fabric.yaml").write_text("deploy:\n  environments:\n    staging:\n      poll_interval: -1\n")
    assert one_line_error(*fab(capsys, *DEPLOY)) == (
        f"error: {home / '.fabric.yaml'}: malformed deploy.environments.staging.poll_interval -1: give a positive "
        "number of seconds")
    assert no_aws_call(aws)


def test_a_runtime_file_named_by_invoke_runtime_config_is_checked(project, capsys, aws, monkeypatch):
    monkeypatch.setenv("INVOKE_RUNTIME_CONFIG", "stagign.yaml")
    assert one_line_error(*fab(capsys, *DEPLOY)) == (
        "error: config file stagign.yaml does not exist: check the path given to fab -f")
    (project / "staging.yaml").write_text("deploy:\n  timeout: 0\n")
    monkeypatch.setenv("INVOKE_RUNTIME_CONFIG", "staging.yaml")
    monkeypatch.setenv("FABRIC_DEPLOY_TIMEOUT", "900")  # the runtime file wins over the variable, and is named
    assert one_line_error(*fab(capsys, *DEPLOY)).startswith("error: staging.yaml: malformed deploy.timeout 0")
    assert no_aws_call(aws)


def test_a_fabfile_package_has_its_project_file_checked_beside_its_folder(project, capsys, aws):
    (project / "fabfile.py").rename(project / "fabfile_module.txt")
    (project / "fabfile").mkdir()
    (project / "fabfile_module.txt").rename(project / "fabfile" / "__init__.py")
    (project / "fabric.yaml").write_text("deploy: 5\n")
    assert one_line_error(*fab(capsys, "--list")) == "error: fabric.yaml: deploy must be a mapping of settings, not 5"
    assert no_aws_call(aws)


def test_importing_the_collection_checks_nothing(project):
    """Only the fabfile's call checks: importing `ns` (a test, another program) reads no file."""
    (project / "fabric.yaml").write_text("deploy: 5\n")
    from tasks import ns

    assert "deploy" in ns.task_names


def test_without_the_fabfiles_check_a_missing_runtime_file_is_still_refused_before_any_aws_call(project, capsys, aws):
    """A fabfile that only imports `ns` (or `-f` after the task's name): the task refuses the file Invoke ignored."""
    (project / "fabfile.py").write_text("from tasks import ns  # noqa: F401\n")
    for argv in (["-f", "stagign.yaml", *DEPLOY], [*DEPLOY, "-f", "stagign.yaml"]):
        assert one_line_error(*fab(capsys, *argv)) == (
            "error: config file stagign.yaml does not exist: check the path given to fab -f")
    assert no_aws_call(aws)

"""Configuration: every bad setting is refused with a one-line error before any AWS call."""

from __future__ import annotations

import copy

import pytest
from conftest import CONFIG

from tasks.core.config import (
    SmokeSettings,
    check_release_source,
    check_sha,
    check_tag,
    load_settings,
    parse_command,
)
from tasks.core.errors import DeployError


def config(**changes):
    tree = copy.deepcopy(CONFIG)
    for path, value in changes.items():
        node = tree
        *parents, leaf = path.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return tree


def refused(tree) -> str:
    with pytest.raises(DeployError) as caught:
        load_settings(tree)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_full_example_loads_with_defaults_and_overrides():
    tree = config(environments__production__timeout=60, environments__production__region="eu-west-1")
    settings = load_settings(tree)
    staging, production = settings.environment("staging"), settings.environment("production")
    assert staging.repository == "acme-app" and staging.region == "us-east-1"
    assert staging.services == ("web", "worker") and staging.release_tag == "latest"
    assert staging.previous_tag == "latest-previous"
    assert staging.migrate.command == ("python", "manage.py", "migrate")
    assert staging.migrate.task_definition == "acme-migrate" and staging.migrate.container is None
    assert staging.timeout == 600 and staging.poll_interval == 5
    assert production.timeout == 60 and production.region == "eu-west-1" and production.migrate is None
    assert staging.sleuth_environment == "staging"
    assert settings.sleuth.url == "https://app.sleuth.io" and settings.sleuth.org == "acme"


def test_values_from_environment_variables_arrive_as_strings_and_are_coerced():
    settings = load_settings(config(timeout="90", poll_interval="0.5", environments__staging__services="web, worker"))
    staging = settings.environment("staging")
    assert (staging.timeout, staging.poll_interval, staging.services) == (90.0, 0.5, ("web", "worker"))


def test_unknown_environment_lists_the_known_ones():
    with pytest.raises(DeployError) as caught:
        load_settings(CONFIG).environment("prod")
    assert str(caught.value) == (
        "unknown environment 'prod': known environments are production, staging (deploy.environments in fabric.yaml)"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"environments": {}}, "no environments configured: add deploy.environments to fabric.yaml"),
        ({"environments__staging__cluster": None}, "missing cluster for environment 'staging': set "),
        ({"environments__staging__services": []}, "missing services for environment 'staging'"),
        ({"repository": None}, "missing repository for environment 'staging': set deploy.repository"),
        ({"repository": "123.dkr.ecr.us-east-1.amazonaws.com/acme"}, "malformed repository"),
        ({"environments__staging__release_tag": "-bad"}, "malformed deploy.environments.staging.release_tag '-bad'"),
        ({"timeout": "soon"}, "malformed deploy.timeout 'soon': give a number of seconds"),
        ({"poll_interval": 0}, "give a positive number of seconds"),
        ({"environments__staging__account": "1234"}, "give the 12-digit AWS account id"),
        ({"environments__staging__services": ["web", "web"]}, "lists a service twice"),
    ],
)
def test_bad_settings_are_refused_with_what_to_do(changes, expected):
    assert expected in refused(config(**changes))


def test_two_environments_moving_the_same_release_tag_are_refused():
    message = refused(config(environments__production__release_tag="latest"))
    assert message.startswith("environments 'staging' and 'production' both move acme-app:latest")


def test_same_release_tag_in_different_repositories_is_fine():
    load_settings(config(environments__production__release_tag="latest", environments__production__repository="other"))


@pytest.mark.parametrize("sha", ["abc123", "xyz1234", "a" * 41, "", "abc1234; rm -rf /"])
def test_malformed_sha_is_refused(sha):
    with pytest.raises(DeployError, match="malformed --sha .*: give the git commit id, 7 to 40 hex characters"):
        check_sha(sha)


def test_sha_is_normalised():
    assert check_sha(" ABCDEF1 ") == "abcdef1"


@pytest.mark.parametrize("tag", ["", ".hidden", "-x", "a/b", "x" * 129, "tag with space"])
def test_tag_ecr_would_refuse_is_refused(tag):
    with pytest.raises(DeployError, match="malformed --tag"):
        check_tag(tag)


def test_deploying_a_moving_tag_is_refused():
    staging = load_settings(CONFIG).environment("staging")
    for tag in ("latest", "latest-previous"):
        with pytest.raises(DeployError, match="is a moving tag of environment 'staging'"):
            check_release_source(tag, staging)
    assert check_release_source("20261126.060512-abc1234", staging) == "20261126.060512-abc1234"


def test_command_as_string_or_list():
    assert parse_command("python manage.py migrate --noinput") == ("python", "manage.py", "migrate", "--noinput")
    assert parse_command(["sh", "-c", "echo hi"]) == ("sh", "-c", "echo hi")
    with pytest.raises(DeployError, match="malformed --command"):
        parse_command("echo 'unbalanced")


# --- wrong types, unknown keys, non-finite numbers, an empty migration: each one line naming the key ------
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"poll_interval": float("nan")}, "malformed deploy.poll_interval nan: give a positive number of seconds"),
        ({"timeout": float("inf")}, "malformed deploy.timeout inf: give a positive number of seconds"),
        ({"timeout": "nan"}, "malformed deploy.timeout 'nan': give a positive number of seconds"),
        ({"environments__staging__timeout": -5}, "malformed deploy.environments.staging.timeout -5: give a positive"),
        ({"timeout": True}, "malformed deploy.timeout True: give a number of seconds"),
        ({"environments": ["x"]}, 'deploy.environments must be a mapping of settings, not a list (["x"])'),
        ({"environments__staging__services": 5}, "malformed deploy.environments.staging.services 5: give a list of "
                                                 "service names, e.g. [web, worker]"),
        ({"environments__staging__cluster": ["a"]}, "deploy.environments.staging.cluster must be a single value, "
                                                    'not a list (["a"])'),
        ({"region": False}, "malformed deploy.region False: give text (in YAML, quote it)"),
        ({"poll_intervall": 5}, "unknown key deploy.poll_intervall: did you mean poll_interval?"),
        ({"environments__staging__clustr": "x"}, "unknown key deploy.environments.staging.clustr: did you mean "
                                                 "cluster?"),
        ({"sleuth__orgg": "acme"}, "unknown key deploy.sleuth.orgg: did you mean org?"),
        ({"canary": {"steps": 3}}, "unknown key deploy.canary: this version knows repository, region, timeout, "
                                   "poll_interval, parallel, environments, sleuth"),
        ({"environments__staging__migrate__command": ""}, "empty deploy.environments.staging.migrate.command: give "
                                                          "the migration command, e.g. [python, manage.py, migrate], "
                                                          "or remove deploy.environments.staging.migrate to deploy "
                                                          "without a migration"),
        ({"environments__staging__migrate__command": []}, "empty deploy.environments.staging.migrate.command"),
        ({"environments__staging__migrate__command": None}, "missing deploy.environments.staging.migrate.command"),
        ({"environments__staging__account": 12345}, 'give the 12-digit AWS account id (quote it: account: '
                                                    '"012345678901")'),
        ({"environments__staging__on_failure": "restor"}, "malformed deploy.environments.staging.on_failure "
                                                          "'restor': give put-back or leave"),
        ({"sleuth__url": "app.sleuth.io"}, "malformed deploy.sleuth.url 'app.sleuth.io': give an http:// or https://"),
    ],
)
def test_wrong_values_are_one_line_naming_the_key(changes, expected):
    assert expected in refused(config(**changes))


def test_the_deploy_section_itself_must_be_a_mapping():
    assert refused(5) == "deploy must be a mapping of settings, not 5"


def test_errors_name_the_file_or_variable_that_set_the_key():
    origins = {("deploy", "poll_interval"): "staging.yaml", ("deploy", "environments", "staging"): "fabric.yaml"}

    def where(path):
        return origins.get(path) or origins.get(path[:3])

    with pytest.raises(DeployError) as caught:
        load_settings(config(poll_interval=0), where)
    assert str(caught.value) == "staging.yaml: malformed deploy.poll_interval 0: give a positive number of seconds"
    with pytest.raises(DeployError) as caught:
        load_settings(config(environments__staging__cluster=None), where)
    assert str(caught.value).startswith("fabric.yaml: missing cluster for environment 'staging'")


def test_on_failure_puts_back_unless_the_environment_says_leave():
    settings = load_settings(config(environments__production__on_failure="leave"))
    assert settings.environment("staging").on_failure == "put-back"
    assert settings.environment("production").on_failure == "leave"


def test_on_failure_takes_its_old_spelling_restore():
    settings = load_settings(config(environments__production__on_failure="restore",
                                    environments__staging__on_failure="Put-Back"))
    assert settings.environment("production").on_failure == "put-back"
    assert settings.environment("staging").on_failure == "put-back"


def test_smoke_settings_with_their_defaults_and_in_full():
    settings = load_settings(config(
        environments__staging__smoke={"url": "https://staging.example.com/health"},
        environments__production__smoke={"url": "http://10.0.0.1:8080/up", "expect": 204, "timeout": 30,
                                         "headers": {"Host": "www.example.com", "X-Check": 1}},
    ))
    assert settings.environment("staging").smoke == SmokeSettings(url="https://staging.example.com/health",
                                                                  expect=200, timeout=120.0, headers={})
    production = settings.environment("production").smoke
    assert (production.url, production.expect, production.timeout) == ("http://10.0.0.1:8080/up", 204, 30.0)
    assert dict(production.headers) == {"Host": "www.example.com", "X-Check": "1"}
    assert load_settings(CONFIG).environment("staging").smoke is None


@pytest.mark.parametrize(
    ("smoke", "expected"),
    [
        ({"expect": 200}, "missing deploy.environments.staging.smoke.url: give the URL to check after a deploy"),
        ({"url": "ftp://example.com"}, "malformed deploy.environments.staging.smoke.url 'ftp://example.com': give "
                                       "an http:// or https:// URL"),
        ({"url": "https://"}, "give an http:// or https:// URL"),
        ({"url": "https://x", "expect": 99}, "malformed deploy.environments.staging.smoke.expect 99: give an HTTP "
                                             "status"),
        ({"url": "https://x", "expect": True}, "malformed deploy.environments.staging.smoke.expect True"),
        ({"url": "https://x", "timeout": float("nan")}, "malformed deploy.environments.staging.smoke.timeout nan"),
        ({"url": "https://x", "headers": {"Bad Name": "v"}}, "malformed header name 'Bad Name'"),
        ({"url": "https://x", "headers": ["a"]}, "deploy.environments.staging.smoke.headers must be a mapping"),
        ({"url": "https://x", "retries": 3}, "unknown key deploy.environments.staging.smoke.retries: this version "
                                             "knows url, expect, timeout, headers"),
    ],
)
def test_bad_smoke_settings_are_refused(smoke, expected):
    assert expected in refused(config(environments__staging__smoke=smoke))


def test_a_header_value_is_never_shown_in_an_error():
    secret = "Bearer smoke-secret-0123456789\r\nX-Injected: 1"
    message = refused(config(environments__staging__smoke={"url": "https://x", "headers": {"Authorization": secret}}))
    assert message == ("deploy.environments.staging.smoke.headers.Authorization holds a line break or a control "
                       "character: give it on one line")


# A value each kind of key refuses, as a user might write it (schema.KINDS).
_BAD = {"text": True, "repository": "Acme/App:1", "tag": "-x", "account": "1234", "variable": "https://hooks.example",
        "header": "a\nb", "seconds": "soon", "count": "0", "list": 5, "choice": "nope", "url": "ftp://x",
        "status": 99, "bool": "maybe", "command": ""}


def _every_key():
    from tasks.core.schema import rows

    return [pytest.param(path, kind, id=path) for path, kind, _, _ in rows() if kind != "mapping"]


def test_a_bad_value_is_known_for_every_kind():
    from tasks.core.schema import KINDS

    assert set(_BAD) == set(KINDS)


@pytest.mark.parametrize(("path", "kind"), _every_key())
def test_every_key_the_schema_declares_is_read_and_a_bad_value_is_refused_naming_it(path, kind):
    from tasks.core.schema import KINDS

    tree = config(environments__staging__smoke={"url": "https://staging.example.com/health"})
    words = path.replace("<environment>", "staging").replace("<header>", "X-Check").split(".")[1:]
    node = tree
    for word in words[:-1]:
        node = node.setdefault(word, {})
    node[words[-1]] = _BAD[kind if kind in KINDS else "choice"]
    shown = ".".join(["deploy", *words])
    assert shown in refused(tree)


def test_the_settings_hold_exactly_the_schema_s_keys():
    """Code reads typed settings; their fields are the schema's keys, so a key declared there reaches the code."""
    from dataclasses import fields

    from tasks.core.config import Environment, MigrateSettings, SleuthSettings
    from tasks.core.schema import ENVIRONMENT, MIGRATE, SLEUTH, SMOKE

    for settings, section, extra in ((Environment, ENVIRONMENT, {"name"}), (MigrateSettings, MIGRATE, set()),
                                     (SmokeSettings, SMOKE, set()), (SleuthSettings, SLEUTH, set())):
        assert {f.name for f in fields(settings)} == set(section.keys) | extra, settings.__name__

"""Configuration: every bad setting is refused with a one-line error before any AWS call."""

from __future__ import annotations

import copy

import pytest
from conftest import CONFIG

from tasks.core.config import check_release_source, check_sha, check_tag, load_settings, parse_command
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
        ({"timeout": "soon"}, "malformed deploy.environments.staging.timeout or deploy.timeout 'soon'"),
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

"""Deploy settings: one frozen object, built and validated in one place before any AWS call.

Assumptions: the input is the `deploy` subtree of Fabric's merged config (the project's fabric.yaml,
`fab -f FILE`, `FABRIC_DEPLOY_*` variables), as plain dicts and lists. Every environment is validated
when the config loads, not only the one asked for, so a typo in production's block is caught by a
staging deploy too. Values from environment variables arrive as strings and are coerced here.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .defaults import DEFAULTS
from .errors import DeployError

DEFAULT_RELEASE_TAG = "latest"
PREVIOUS_SUFFIX = "-previous"

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
# Docker's tag grammar, which ECR enforces: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class MigrateSettings:
    command: tuple[str, ...]
    task_definition: str | None = None
    container: str | None = None
    subnets: tuple[str, ...] | None = None
    security_groups: tuple[str, ...] | None = None
    assign_public_ip: bool | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    repository: str
    region: str | None
    cluster: str
    services: tuple[str, ...]
    release_tag: str
    timeout: float
    poll_interval: float
    migrate: MigrateSettings | None
    sleuth_environment: str
    account: str | None = None
    lock_parameter: str | None = None

    @property
    def previous_tag(self) -> str:
        """Where the release tag's digest is recorded before it moves, for rollbacks from any machine."""
        return self.release_tag + PREVIOUS_SUFFIX


@dataclass(frozen=True)
class SleuthSettings:
    url: str
    org: str | None
    deployment: str | None
    tags: tuple[str, ...]
    email: str | None = None
    auth: str = "bearer"  # the Authorization scheme: "bearer" (an access token) or "apikey" (the organization key)


@dataclass(frozen=True)
class Settings:
    environments: Mapping[str, Environment]
    sleuth: SleuthSettings

    def environment(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments)) or "none"
            raise DeployError(
                f"unknown environment {name!r}: known environments are {known} "
                "(deploy.environments in fabric.yaml)"
            ) from None


def check_sha(sha: str) -> str:
    """A git commit id, 7 to 40 hex characters; returned lower-case."""
    value = (sha or "").strip().lower()
    if not _SHA.match(value):
        raise DeployError(f"malformed --sha {sha!r}: give the git commit id, 7 to 40 hex characters")
    return value


def check_tag(tag: str, what: str = "--tag") -> str:
    """An image tag ECR accepts."""
    if not isinstance(tag, str) or not _TAG.match(tag):
        raise DeployError(
            f"malformed {what} {tag!r}: an image tag is 1-128 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    return tag


def check_release_source(tag: str, env: Environment) -> str:
    """The tag a deploy moves the release tag to: a real image tag, not one of the moving tags."""
    check_tag(tag)
    if tag in (env.release_tag, env.previous_tag):
        raise DeployError(
            f"--tag {tag!r} is a moving tag of environment {env.name!r}: pass the immutable tag CI pushed "
            "(for example the commit sha)"
        )
    return tag


def load_settings(tree: Mapping[str, Any] | None) -> Settings:
    """Build and validate `Settings` from the `deploy` config subtree; raise `DeployError` on any problem."""
    tree = _plain(tree or {})
    if not isinstance(tree, dict):
        raise DeployError("the 'deploy' config must be a mapping: see the README's configuration section")
    raw_envs = tree.get("environments") or {}
    if not isinstance(raw_envs, dict) or not raw_envs:
        raise DeployError(
            "no environments configured: add deploy.environments to fabric.yaml next to fabfile.py "
            "(see the README's configuration section)"
        )
    environments = {str(name): _environment(str(name), raw or {}, tree) for name, raw in raw_envs.items()}
    _check_release_tags_unique(environments)
    return Settings(environments=environments, sleuth=_sleuth(tree.get("sleuth") or {}))


def _environment(name: str, raw: Any, top: dict[str, Any]) -> Environment:
    where = f"deploy.environments.{name}"
    if not isinstance(raw, dict):
        raise DeployError(f"{where} must be a mapping with cluster and services")

    def pick(key: str) -> Any:
        return raw[key] if raw.get(key) not in (None, "") else top.get(key)

    repository = pick("repository")
    if not repository:
        raise DeployError(f"missing repository for environment {name!r}: set deploy.repository or {where}.repository")
    repository = str(repository)
    if not _REPOSITORY.match(repository) or ".dkr.ecr." in repository:
        raise DeployError(f"malformed repository {repository!r} in {where}: give the ECR repository name, not its URI")
    cluster = raw.get("cluster")
    if not cluster:
        raise DeployError(f"missing cluster for environment {name!r}: set {where}.cluster")
    services = raw.get("services")
    if isinstance(services, str):
        services = services.split(",")
    services = tuple(str(s).strip() for s in services or () if str(s).strip())
    if not services:
        raise DeployError(f"missing services for environment {name!r}: set {where}.services, e.g. [web, worker]")
    if len(set(services)) != len(services):
        raise DeployError(f"{where}.services lists a service twice: {', '.join(services)}")
    release_tag = check_tag(str(raw.get("release_tag") or DEFAULT_RELEASE_TAG), f"{where}.release_tag")
    account = raw.get("account")
    if account not in (None, ""):
        account = str(account)
        if not _ACCOUNT.match(account):
            raise DeployError(f"malformed {where}.account {account!r}: give the 12-digit AWS account id")
    else:
        account = None
    region = pick("region")
    return Environment(
        name=name,
        repository=repository,
        region=str(region) if region else None,
        cluster=str(cluster),
        services=services,
        release_tag=release_tag,
        timeout=parse_seconds(pick("timeout"), f"{where}.timeout or deploy.timeout") or float(DEFAULTS["timeout"]),
        poll_interval=parse_seconds(pick("poll_interval"), f"{where}.poll_interval or deploy.poll_interval")
        or float(DEFAULTS["poll_interval"]),
        migrate=_migrate(raw.get("migrate"), where),
        sleuth_environment=str(raw.get("sleuth_environment") or name),
        account=account,
        lock_parameter=str(raw["lock_parameter"]) if raw.get("lock_parameter") else None,
    )


def _migrate(raw: Any, where: str) -> MigrateSettings | None:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise DeployError(f"{where}.migrate must be a mapping with at least 'command'")
    command = raw.get("command")
    if not command:
        return None
    command = parse_command(command, f"{where}.migrate.command")

    def optional_list(key: str) -> tuple[str, ...] | None:
        value = raw.get(key)
        if value in (None, "", []):
            return None
        if isinstance(value, str):
            value = value.split(",")
        return tuple(str(v).strip() for v in value)

    public_ip = raw.get("assign_public_ip")
    return MigrateSettings(
        command=command,
        task_definition=str(raw["task_definition"]) if raw.get("task_definition") else None,
        container=str(raw["container"]) if raw.get("container") else None,
        subnets=optional_list("subnets"),
        security_groups=optional_list("security_groups"),
        assign_public_ip=None if public_ip is None else _boolean(public_ip, f"{where}.migrate.assign_public_ip"),
    )


def parse_command(command: Any, what: str = "--command") -> tuple[str, ...]:
    """A command as a list of words: a YAML list as is, a string split the way a shell would."""
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError as err:
            raise DeployError(f"malformed {what} {command!r}: {err}") from None
    elif isinstance(command, (list, tuple)):
        words = [str(w) for w in command]
    else:
        raise DeployError(f"malformed {what}: give a list of words or a string")
    if not words:
        raise DeployError(f"empty {what}: give the migration command, e.g. python manage.py migrate")
    return tuple(words)


def _sleuth(raw: Any) -> SleuthSettings:
    if not isinstance(raw, dict):
        raise DeployError("deploy.sleuth must be a mapping with org and deployment")
    tags = raw.get("tags") or ()
    if isinstance(tags, str):
        tags = tags.split(",")
    return SleuthSettings(
        url=str(raw.get("url") or DEFAULTS["sleuth"]["url"]).rstrip("/"),
        org=str(raw["org"]) if raw.get("org") else None,
        deployment=str(raw["deployment"]) if raw.get("deployment") else None,
        tags=tuple(str(t).strip() for t in tags if str(t).strip()),
        email=str(raw["email"]).strip() if raw.get("email") else None,
        auth=_choice(raw.get("auth") or "bearer", ("bearer", "apikey"), "deploy.sleuth.auth"),
    )


def _check_release_tags_unique(environments: Mapping[str, Environment]) -> None:
    seen: dict[tuple[str | None, str, str], str] = {}
    for env in environments.values():
        key = (env.region, env.repository, env.release_tag)
        if key in seen:
            raise DeployError(
                f"environments {seen[key]!r} and {env.name!r} both move {env.repository}:{env.release_tag}: "
                "deploying one would change what the other runs at its next restart; give each its own release_tag"
            )
        seen[key] = env.name


def parse_seconds(value: Any, what: str = "--timeout") -> float | None:
    """A positive number of seconds, None when not given; a `DeployError` naming `what` otherwise."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DeployError(f"malformed {what} {value!r}: give a number of seconds") from None
    if number <= 0:
        raise DeployError(f"malformed {what} {value!r}: give a positive number of seconds")
    return number


def _choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise DeployError(f"malformed {what} {value!r}: give {' or '.join(choices)}")
    return text


def _boolean(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "enabled"):
        return True
    if text in ("false", "no", "0", "disabled"):
        return False
    raise DeployError(f"malformed {what} {value!r}: give true or false")


def _plain(value: Any) -> Any:
    """Invoke's DataProxy objects (and any mapping) to plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "_config"):
        return {str(k): _plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

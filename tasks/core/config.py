"""Deploy settings: one frozen object, built and validated in one place before any AWS call.

Assumptions: the input is the `deploy` subtree of Fabric's merged config (the project's fabric.yaml,
`fab -f FILE`, `FABRIC_DEPLOY_*` variables), as plain dicts and lists. Every environment is validated
when the config loads, not only the one asked for, so a typo in production's block is caught by a
staging deploy too. Values from environment variables arrive as strings and are coerced here. Each error
names the key (`deploy.environments.staging.poll_interval`) and, through the caller's `where`, the file or
variable that set it. Numbers must be finite and positive, and a migrate section must hold a command: a
silent skip of the migration is worse than an error.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config_files import check_shape
from .errors import DeployError
from .schema import DEPLOY, ENVIRONMENT, SLEUTH, SMOKE, TOP_LEVEL, Key

PREVIOUS_SUFFIX = "-previous"

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
# Docker's tag grammar, which ECR enforces: 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)
# `${NAME}` in a smoke header's value: the value of environment variable NAME, read when a task uses it.
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

def _default(key: object) -> Any:
    assert isinstance(key, Key)
    return key.default


TIMEOUT, POLL_INTERVAL, PARALLEL = (_default(TOP_LEVEL[k]) for k in ("timeout", "poll_interval", "parallel"))
DEFAULT_RELEASE_TAG = _default(ENVIRONMENT.keys["release_tag"])
ON_FAILURE: Key = ENVIRONMENT.keys["on_failure"]  # type: ignore[assignment]
SMOKE_TIMEOUT, SMOKE_EXPECT = _default(SMOKE.keys["timeout"]), _default(SMOKE.keys["expect"])
SLEUTH_URL = _default(SLEUTH.keys["url"])
SLEUTH_AUTH: Key = SLEUTH.keys["auth"]  # type: ignore[assignment]


@dataclass(frozen=True)
class MigrateSettings:
    command: tuple[str, ...]
    task_definition: str | None = None
    container: str | None = None
    subnets: tuple[str, ...] | None = None
    security_groups: tuple[str, ...] | None = None
    assign_public_ip: bool | None = None


@dataclass(frozen=True)
class SmokeSettings:
    """A request made after a deploy to check the application answers: `url` must answer `expect`.

    Header values are kept as written: a `${NAME}` in one is read from the environment only by the task that
    makes the request (smoke.py), so a variable that only production's CI sets does not break a staging run.
    """

    url: str  # http:// or https://
    expect: int = SMOKE_EXPECT
    timeout: float = SMOKE_TIMEOUT  # seconds
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def variables(self) -> tuple[str, ...]:
        """The environment variables the header values name, in order, each once."""
        return tuple(dict.fromkeys(name for value in self.headers.values() for name in VARIABLE.findall(value)))


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
    on_failure: str = ON_FAILURE.default  # after a failed deploy: "put-back" the previous image, or "leave" it
    smoke: SmokeSettings | None = None
    parallel: int = PARALLEL  # new deployments started (and reads made) at once; 1: one after another
    # who else is told how a deploy or rollback ended: notifier kind (slack, webhook) -> the variable with its URL
    notify: Mapping[str, str] = field(default_factory=dict)

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


def is_repository_name(name: str) -> bool:
    """An ECR repository's name (`acme-app`, `team/acme-app`), not its URI."""
    return bool(_REPOSITORY.match(name)) and ".dkr.ecr." not in name


def check_repository(name: str, what: str = "--repository") -> str:
    if not isinstance(name, str) or not is_repository_name(name):
        raise DeployError(f"malformed {what} {name!r}: give the ECR repository name (acme-app), not its URI")
    return name


def check_release_source(tag: str, env: Environment) -> str:
    """The tag a deploy moves the release tag to: a real image tag, not one of the moving tags."""
    check_tag(tag)
    if tag in (env.release_tag, env.previous_tag):
        raise DeployError(
            f"--tag {tag!r} is a moving tag of environment {env.name!r}: pass the immutable tag CI pushed "
            "(for example the commit sha)"
        )
    return tag


Where = Callable[[tuple[str, ...]], "str | None"]  # where a key's value came from: a file, a variable


class _Problems:
    """Errors that name the key and, given `where`, the file (or environment variable) that set it."""

    def __init__(self, where: Where | None) -> None:
        self.where = where

    def __call__(self, path: tuple[str, ...], problem: str) -> DeployError:
        origin = self.where(path) if self.where else None
        return DeployError(f"{origin}: {problem}" if origin else problem)


def load_settings(tree: Mapping[str, Any] | None, where: Where | None = None) -> Settings:
    """Build and validate `Settings` from the `deploy` config subtree; raise `DeployError` on any problem.

    `where(path)` names the file or variable a key path (`("deploy", "timeout")`) was set in, for the errors.
    """
    problem = _Problems(where)
    tree = _plain(tree or {})
    check_shape(tree, DEPLOY, ("deploy",), lambda path, text: str(problem(path, text)))
    raw_envs = tree.get("environments") or {}
    if not raw_envs:
        raise problem(
            ("deploy", "environments"),
            "no environments configured: add deploy.environments to fabric.yaml next to fabfile.py "
            "(see the README's configuration section)",
        )
    environments = {str(name): _environment(str(name), raw, tree, problem) for name, raw in raw_envs.items()}
    _check_release_tags_unique(environments, problem)
    return Settings(environments=environments, sleuth=_sleuth(tree.get("sleuth") or {}, problem))


def _environment(name: str, raw: dict[str, Any], top: dict[str, Any], problem: _Problems) -> Environment:
    where = f"deploy.environments.{name}"
    here = ("deploy", "environments", name)

    def pick(key: str) -> tuple[Any, tuple[str, ...]]:
        """The environment's own value, else the top-level one, with the path it came from."""
        if raw.get(key) not in (None, ""):
            return raw[key], (*here, key)
        return top.get(key), ("deploy", key)

    repository, path = pick("repository")
    repository = _text(repository, path, problem)
    if not repository:
        raise problem(path, f"missing repository for environment {name!r}: set deploy.repository or {where}.repository")
    if not is_repository_name(repository):
        raise problem(path, f"malformed repository {repository!r} in {_key(path)}: give the ECR repository name, "
                            "not its URI")
    cluster = _text(raw.get("cluster"), (*here, "cluster"), problem)
    if not cluster:
        raise problem((*here, "cluster"), f"missing cluster for environment {name!r}: set {where}.cluster")
    services = _words(raw.get("services"), (*here, "services"), problem, "service names, e.g. [web, worker]")
    if not services:
        raise problem((*here, "services"),
                      f"missing services for environment {name!r}: set {where}.services, e.g. [web, worker]")
    if len(set(services)) != len(services):
        raise problem((*here, "services"), f"{where}.services lists a service twice: {', '.join(services)}")
    release_tag = _named(problem, (*here, "release_tag"), check_tag,
                         _text(raw.get("release_tag"), (*here, "release_tag"), problem) or DEFAULT_RELEASE_TAG,
                         f"{where}.release_tag")
    account = raw.get("account")
    if account not in (None, ""):
        account = _text(account, (*here, "account"), problem)
        if not _ACCOUNT.match(account or ""):
            hint = ' (quote it: account: "012345678901")' if isinstance(raw.get("account"), int) else ""
            raise problem((*here, "account"),
                          f"malformed {where}.account {account!r}: give the 12-digit AWS account id{hint}")
    else:
        account = None
    region, region_path = pick("region")
    timeout, timeout_path = pick("timeout")
    interval, interval_path = pick("poll_interval")
    parallel, parallel_path = pick("parallel")
    return Environment(
        name=name,
        repository=repository,
        region=_text(region, region_path, problem),
        cluster=cluster,
        services=services,
        release_tag=release_tag,
        timeout=_seconds(timeout, timeout_path, problem) or TIMEOUT,
        poll_interval=_seconds(interval, interval_path, problem) or POLL_INTERVAL,
        migrate=_migrate(raw.get("migrate"), (*here, "migrate"), problem),
        sleuth_environment=_text(raw.get("sleuth_environment"), (*here, "sleuth_environment"), problem) or name,
        account=account,
        lock_parameter=_text(raw.get("lock_parameter"), (*here, "lock_parameter"), problem),
        on_failure=_choice(raw.get("on_failure"), ON_FAILURE, (*here, "on_failure"), problem),
        smoke=_smoke(raw.get("smoke"), (*here, "smoke"), problem),
        parallel=_count(parallel, parallel_path, problem) or PARALLEL,
        notify=_notify(raw.get("notify"), top.get("notify"), here, problem),
    )


def _notify(own: Any, top: Any, here: tuple[str, ...], problem: _Problems) -> dict[str, str]:
    """deploy.notify, overridden key by key by the environment's own: kind -> the environment variable's name.

    The value is the variable's name, not the URL: a URL written here is refused without being shown, since
    whoever has a webhook's URL can post to it.
    """
    chosen: dict[str, str] = {}
    for raw, path in ((top, ("deploy", "notify")), (own, (*here, "notify"))):
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise problem(path, f"{_key(path)} must be a mapping: slack, webhook")
        for kind, value in raw.items():
            where = (*path, str(kind))
            if value in (None, ""):
                continue
            text = value if isinstance(value, str) else None
            if text is not None and ("://" in text or "/" in text):
                raise problem(where, f"{_key(where)} holds a URL: give the name of the environment variable that "
                                     "holds it (a webhook's URL is a secret: keep it out of config files)")
            if text is None or not _VARIABLE_NAME.match(text.strip()):
                raise problem(where, f"malformed {_key(where)}: give the name of an environment variable (letters, "
                                     "digits and '_', not starting with a digit), e.g. SLACK_WEBHOOK_URL")
            chosen[str(kind)] = text.strip()
    return chosen


def _migrate(raw: Any, path: tuple[str, ...], problem: _Problems) -> MigrateSettings | None:
    """None when the environment has no migrate section; a section without a command is a mistake, not a skip."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise problem(path, f"{_key(path)} must be a mapping with at least 'command'")
    command = raw.get("command")
    if command is None or (isinstance(command, (str, list, tuple)) and not "".join(map(str, command)).strip()):
        state = "missing" if command is None else "empty"
        raise problem((*path, "command"),
                      f"{state} {_key(path)}.command: give the migration command, e.g. [python, manage.py, "
                      f"migrate], or remove {_key(path)} to deploy without a migration")
    command = _named(problem, (*path, "command"), parse_command, command, f"{_key(path)}.command")

    def optional_list(key: str) -> tuple[str, ...] | None:
        return _words(raw.get(key), (*path, key), problem, "ids") or None

    public_ip = raw.get("assign_public_ip")
    return MigrateSettings(
        command=command,
        task_definition=_text(raw.get("task_definition"), (*path, "task_definition"), problem),
        container=_text(raw.get("container"), (*path, "container"), problem),
        subnets=optional_list("subnets"),
        security_groups=optional_list("security_groups"),
        assign_public_ip=None if public_ip is None else _named(problem, (*path, "assign_public_ip"), _boolean,
                                                               public_ip, f"{_key(path)}.assign_public_ip"),
    )


def _smoke(raw: Any, path: tuple[str, ...], problem: _Problems) -> SmokeSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise problem(path, f"{_key(path)} must be a mapping with at least 'url'")
    url = _url(raw.get("url"), (*path, "url"), problem)
    if url is None:
        raise problem((*path, "url"), f"missing {_key(path)}.url: give the URL to check after a deploy, "
                                      "e.g. https://staging.example.com/health")
    if "${" in url:  # the URL is printed (plan, answers, errors): a token there would be shown
        raise problem((*path, "url"), f"{_key(path)}.url holds a ${{...}}: only header values read environment "
                                      "variables (the URL is printed); send a token in a header")
    expect = raw.get("expect", SMOKE_EXPECT)
    if isinstance(expect, str) and expect.strip().isdigit():
        expect = int(expect)
    if not isinstance(expect, int) or isinstance(expect, bool) or not 100 <= expect <= 599:
        raise problem((*path, "expect"), f"malformed {_key(path)}.expect {expect!r}: give an HTTP status, e.g. 200")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict):
        raise problem((*path, "headers"), f"{_key(path)}.headers must be a mapping of header names to values")
    checked: dict[str, str] = {}
    for header, value in headers.items():
        where = (*path, "headers", str(header))
        if not _HEADER_NAME.match(str(header)):
            raise problem(where, f"malformed header name {str(header)!r} in {_key(path)}.headers")
        if value is None or isinstance(value, (bool, dict, list, tuple)):
            raise problem(where, f"{_key(where)} must be text")
        if not str(value).isprintable():
            # the value may be a secret: say what is wrong without showing it
            raise problem(where, f"{_key(where)} holds a line break or a control character: give it on one line")
        if "${" in VARIABLE.sub("", str(value)):
            raise problem(where, f"{_key(where)} holds a malformed ${{...}}: write ${{NAME}} for the value of the "
                                 "environment variable NAME (letters, digits and '_', not starting with a digit)")
        checked[str(header)] = str(value)
    return SmokeSettings(
        url=url,
        expect=expect,
        timeout=_seconds(raw.get("timeout"), (*path, "timeout"), problem) or SMOKE_TIMEOUT,
        headers=checked,
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


def _sleuth(raw: Any, problem: _Problems) -> SleuthSettings:
    path = ("deploy", "sleuth")
    if not isinstance(raw, dict):
        raise problem(path, "deploy.sleuth must be a mapping with org and deployment")
    return SleuthSettings(
        url=(_url(raw.get("url"), (*path, "url"), problem) or SLEUTH_URL).rstrip("/"),
        org=_text(raw.get("org"), (*path, "org"), problem),
        deployment=_text(raw.get("deployment"), (*path, "deployment"), problem),
        tags=_words(raw.get("tags"), (*path, "tags"), problem, "tags"),
        email=_text(raw.get("email"), (*path, "email"), problem),
        auth=_choice(raw.get("auth"), SLEUTH_AUTH, (*path, "auth"), problem),
    )


def _check_release_tags_unique(environments: Mapping[str, Environment], problem: _Problems) -> None:
    seen: dict[tuple[str | None, str, str], str] = {}
    for env in environments.values():
        key = (env.region, env.repository, env.release_tag)
        if key in seen:
            raise problem(
                ("deploy", "environments", env.name, "release_tag"),
                f"environments {seen[key]!r} and {env.name!r} both move {env.repository}:{env.release_tag}: "
                "deploying one would change what the other runs at its next restart; give each its own release_tag",
            )
        seen[key] = env.name


def parse_seconds(value: Any, what: str = "--timeout") -> float | None:
    """A finite, positive number of seconds, None when not given; a `DeployError` naming `what` otherwise.

    Why finite: `nan` compares false with everything, so a wait with a `nan` timeout never ends, and `inf` never
    either; both are refused here, before any AWS call.
    """
    if value in (None, ""):
        return None
    try:
        if isinstance(value, bool):  # YAML's `yes`: a number to Python, not to a person
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise DeployError(f"malformed {what} {value!r}: give a number of seconds") from None
    if not math.isfinite(number) or number <= 0:
        raise DeployError(f"malformed {what} {value!r}: give a positive number of seconds")
    return number


def _seconds(value: Any, path: tuple[str, ...], problem: _Problems) -> float | None:
    return _named(problem, path, parse_seconds, value, _key(path))


def _count(value: Any, path: tuple[str, ...], problem: _Problems) -> int | None:
    """A whole number of 1 or more, None when not given."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(str(value).strip()) < 1:
        raise problem(path, f"malformed {_key(path)} {value!r}: give a whole number, 1 or more")
    return int(str(value).strip())


def _named(problem: _Problems, path: tuple[str, ...], check: Callable[..., Any], *args: Any) -> Any:
    """`check(*args)`, its error naming where `path` was set."""
    try:
        return check(*args)
    except DeployError as err:
        raise problem(path, str(err)) from None


def _text(value: Any, path: tuple[str, ...], problem: _Problems) -> str | None:
    """A name or other single word of text; ints are taken as written, YAML's booleans and floats are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # `region: no` is False and `release_tag: 1.10` is 1.1 to YAML: quoting keeps what was meant
        raise problem(path, f"malformed {_key(path)} {value!r}: give text (in YAML, quote it)")
    return str(value).strip()


def _words(value: Any, path: tuple[str, ...], problem: _Problems, what: str) -> tuple[str, ...]:
    """A list of words: a list, or a comma-separated string (what an environment variable can hold)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise problem(path, f"malformed {_key(path)} {value!r}: give a list of {what}")
    return tuple(word for item in value if (word := _text(item, path, problem)))


def _url(value: Any, path: tuple[str, ...], problem: _Problems) -> str | None:
    url = _text(value, path, problem)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url):
        raise problem(path, f"malformed {_key(path)} {url!r}: give an http:// or https:// URL")
    return url


def _choice(value: Any, key: Key, path: tuple[str, ...], problem: _Problems) -> str:
    """One of the key's choices (or an old spelling of one); its default when not given."""
    if value in (None, ""):
        return str(key.default)
    text = str(value).strip().lower()
    text = key.aliases.get(text, text)
    if text not in key.choices:
        raise problem(path, f"malformed {_key(path)} {value!r}: give {' or '.join(key.choices)}")
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


def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _plain(value: Any) -> Any:
    """Invoke's DataProxy objects (and any mapping) to plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "_config"):
        return {str(k): _plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

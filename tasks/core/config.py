"""Deploy settings: one frozen object, built and validated in one place before any AWS call.

The input is the `deploy` subtree of Fabric's merged config (the project's fabric.yaml, `fab -f FILE`,
`FABRIC_DEPLOY_*` variables), as plain dicts and lists. The keys, their kinds, defaults and what a missing
required one needs are schema.py's; this module walks that schema with one reader per kind (values from
environment variables arrive as text and are read like any other), and adds only what spans keys: a service
listed twice, two environments moving one tag. The dataclasses' fields are the schema's keys (a test keeps them
equal), so code reads typed settings. Every environment is validated when the config loads, not only the one
asked for, so a typo in production's block is caught by a staging deploy too. Each error names the key
(`deploy.environments.staging.poll_interval`) and, through the caller's `where`, the file or variable that set it.
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
from .schema import DEPLOY, ENVIRONMENT, MIGRATE, NOTIFY, SLEUTH, SMOKE, Each, Key, Section

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

def _default(section: Section, name: str) -> Any:
    key = section.keys[name]
    assert isinstance(key, Key)
    return key.default


# the dataclasses' own defaults, for code that builds settings without a config (the schema's, as loaded)
PARALLEL, ON_FAILURE = _default(ENVIRONMENT, "parallel"), _default(ENVIRONMENT, "on_failure")
SMOKE_TIMEOUT, SMOKE_EXPECT = _default(SMOKE, "timeout"), _default(SMOKE, "expect")


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
    on_failure: str = ON_FAILURE  # after a failed deploy: "put-back" the previous image, or "leave" it
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
    sleuth = _values(SLEUTH, tree.get("sleuth") or {}, ("deploy", "sleuth"), problem)
    return Settings(environments=environments, sleuth=SleuthSettings(**{**sleuth, "url": sleuth["url"].rstrip("/")}))


def _values(section: Section, raw: Mapping[str, Any], path: tuple[str, ...], problem: _Problems,
            top: Mapping[str, Any] | None = None, label: str = "") -> dict[str, Any]:
    """Every key of `section` read by its kind's reader: a value given, else (for a key an environment may set for
    itself) the top-level one, else the key's default; a required key not given is an error saying what to do.

    Sub-sections and `Each` mappings are left to the caller, which knows what their absence means.
    """
    values: dict[str, Any] = {}
    for name, key in section.keys.items():
        if not isinstance(key, Key):
            continue
        value, at = raw.get(name), (*path, name)
        if value in (None, "") and key.per_environment and top is not None:
            value, at = top.get(name), ("deploy", name)
        read = _READERS[key.kind](value, at, problem, key)
        if read in (None, ()):
            if key.required:
                what = f"{name} for {label}" if label else _key((*path, name))
                raise problem(at, f"missing {what}: {key.required.format(section=_key(path))}")
            read = key.default
        values[name] = read
    return values


def _environment(name: str, raw: dict[str, Any], top: dict[str, Any], problem: _Problems) -> Environment:
    here = ("deploy", "environments", name)
    values = _values(ENVIRONMENT, raw, here, problem, top, f"environment {name!r}")
    services = values["services"]
    if len(set(services)) != len(services):
        raise problem((*here, "services"), f"{_key(here)}.services lists a service twice: {', '.join(services)}")
    return Environment(
        name=name,
        **{**values, "sleuth_environment": values["sleuth_environment"] or name},
        migrate=_migrate(raw.get("migrate"), (*here, "migrate"), problem),
        smoke=_smoke(raw.get("smoke"), (*here, "smoke"), problem),
        notify=_notify(raw.get("notify"), top.get("notify"), here, problem),
    )


def _notify(own: Any, top: Any, here: tuple[str, ...], problem: _Problems) -> dict[str, str]:
    """deploy.notify, overridden key by key by the environment's own: kind -> the environment variable's name."""
    chosen: dict[str, str] = {}
    for raw, path in ((top, ("deploy", "notify")), (own, (*here, "notify"))):
        values = _values(NOTIFY, raw or {}, path, problem)
        chosen.update({kind: variable for kind, variable in values.items() if variable is not None})
    return chosen


def _migrate(raw: Any, path: tuple[str, ...], problem: _Problems) -> MigrateSettings | None:
    """None when the environment has no migrate section; a section without a command is a mistake, not a skip."""
    if raw is None:
        return None
    return MigrateSettings(**_values(MIGRATE, raw, path, problem))


def _smoke(raw: Any, path: tuple[str, ...], problem: _Problems) -> SmokeSettings | None:
    if raw is None:
        return None
    values = _values(SMOKE, raw, path, problem)
    headers: dict[str, str] = {}
    shape = SMOKE.keys["headers"]
    assert isinstance(shape, Each) and isinstance(shape.shape, Key)
    for header, value in (raw.get("headers") or {}).items():
        where = (*path, "headers", str(header))
        if not _HEADER_NAME.match(str(header)):
            raise problem(where, f"malformed header name {str(header)!r} in {_key(path)}.headers")
        headers[str(header)] = _READERS[shape.shape.kind](value, where, problem, shape.shape)
    return SmokeSettings(**values, headers=headers)


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


# One reader per kind of key (schema.KINDS): (value, key path, problems, key) -> the value, None when not given.
# Values from FABRIC_DEPLOY_* variables arrive as text, so every reader takes text too.
Reader = Callable[[Any, tuple[str, ...], _Problems, Key], Any]


def _named(problem: _Problems, path: tuple[str, ...], check: Callable[..., Any], *args: Any) -> Any:
    """`check(*args)`, its error naming where `path` was set."""
    try:
        return check(*args)
    except DeployError as err:
        raise problem(path, str(err)) from None


def _text(value: Any, path: tuple[str, ...], problem: _Problems, key: Key | None = None) -> str | None:
    """A name or other single word of text; ints are taken as written, YAML's booleans and floats are refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        # `region: no` is False and `release_tag: 1.10` is 1.1 to YAML: quoting keeps what was meant
        raise problem(path, f"malformed {_key(path)} {value!r}: give text (in YAML, quote it)")
    return str(value).strip()


def _repository(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    name = _text(value, path, problem)
    if name is not None and not is_repository_name(name):
        raise problem(path, f"malformed repository {name!r} in {_key(path)}: give the ECR repository name, "
                            "not its URI")
    return name


def _tag(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    tag = _text(value, path, problem)
    return None if tag is None else _named(problem, path, check_tag, tag, _key(path))


def _account(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    account = _text(value, path, problem)
    if account is not None and not _ACCOUNT.match(account):
        hint = ' (quote it: account: "012345678901")' if isinstance(value, int) else ""
        raise problem(path, f"malformed {_key(path)} {account!r}: give the 12-digit AWS account id{hint}")
    return account


def _variable(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    """The name of an environment variable holding a secret URL; a URL written here is refused without being shown,
    since whoever has a webhook's URL can post to it."""
    if value in (None, ""):
        return None
    text = value if isinstance(value, str) else None
    if text is not None and ("://" in text or "/" in text):
        raise problem(path, f"{_key(path)} holds a URL: give the name of the environment variable that holds it "
                            "(a webhook's URL is a secret: keep it out of config files)")
    if text is None or not _VARIABLE_NAME.match(text.strip()):
        raise problem(path, f"malformed {_key(path)}: give the name of an environment variable (letters, digits "
                            "and '_', not starting with a digit), e.g. SLACK_WEBHOOK_URL")
    return text.strip()


def _header(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str:
    """A header value, kept as written; it may be a secret, so no error shows it."""
    if value is None or isinstance(value, (bool, dict, list, tuple)):
        raise problem(path, f"{_key(path)} must be text")
    if not str(value).isprintable():
        raise problem(path, f"{_key(path)} holds a line break or a control character: give it on one line")
    if "${" in VARIABLE.sub("", str(value)):
        raise problem(path, f"{_key(path)} holds a malformed ${{...}}: write ${{NAME}} for the value of the "
                            "environment variable NAME (letters, digits and '_', not starting with a digit)")
    return str(value)


def _seconds(value: Any, path: tuple[str, ...], problem: _Problems, key: Key | None = None) -> float | None:
    return _named(problem, path, parse_seconds, value, _key(path))


def _count(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> int | None:
    """A whole number of 1 or more, None when not given."""
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(str(value).strip()) < 1:
        raise problem(path, f"malformed {_key(path)} {value!r}: give a whole number, 1 or more")
    return int(str(value).strip())


def _status(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> int | None:
    """An HTTP status, 100 to 599."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise problem(path, f"malformed {_key(path)} {value!r}: give an HTTP status, e.g. 200")
    return value


def _words(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> tuple[str, ...]:
    """A list of words: a list, or a comma-separated string (what an environment variable can hold)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise problem(path, f"malformed {_key(path)} {value!r}: give a list of {key.items}")
    return tuple(word for item in value if (word := _text(item, path, problem)))


def _command(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> tuple[str, ...] | None:
    """None when not given; an empty one is refused as such, since a silent skip of the migration is worse."""
    if value is None:
        return None
    if isinstance(value, (str, list, tuple)) and not "".join(map(str, value)).strip():
        raise problem(path, f"empty {_key(path)}: {key.required.format(section=_key(path[:-1]))}")
    return _named(problem, path, parse_command, value, _key(path))


def _url(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    """An http(s) URL. It is printed (plans, answers, errors), so it may not name a variable: a token there would
    be shown."""
    url = _text(value, path, problem)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url):
        raise problem(path, f"malformed {_key(path)} {url!r}: give an http:// or https:// URL")
    if "${" in url:
        raise problem(path, f"{_key(path)} holds a ${{...}}: only header values read environment variables (the "
                            "URL is printed); send a token in a header")
    return url


def _choice(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> str | None:
    """One of the key's choices (or an old spelling of one)."""
    if value in (None, ""):
        return None
    text = str(value).strip().lower()
    text = key.aliases.get(text, text)
    if text not in key.choices:
        raise problem(path, f"malformed {_key(path)} {value!r}: give {' or '.join(key.choices)}")
    return text


def _boolean(value: Any, path: tuple[str, ...], problem: _Problems, key: Key) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "enabled"):
        return True
    if text in ("false", "no", "0", "disabled"):
        return False
    raise problem(path, f"malformed {_key(path)} {value!r}: give true or false")


_READERS: dict[str, Reader] = {
    "text": _text, "repository": _repository, "tag": _tag, "account": _account, "variable": _variable,
    "header": _header, "seconds": _seconds, "count": _count, "list": _words, "choice": _choice, "url": _url,
    "status": _status, "bool": _boolean, "command": _command,
}


def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _plain(value: Any) -> Any:
    """Invoke's DataProxy objects (and any mapping) to plain dicts and lists."""
    if isinstance(value, Mapping) or callable(getattr(value, "keys", None)):  # Invoke's DataProxy is no Mapping
        return {str(k): _plain(value[k]) for k in value.keys()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value

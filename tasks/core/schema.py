"""The `deploy` config's keys, each declared once: its kind, its default and what it means.

Everything else is derived from here: the defaults declared to Fabric (`DEFAULTS`, through `ns.configure`, so
that `FABRIC_DEPLOY_*` variables can override them), the shape every config file is checked against
(config_files.py, with its did-you-mean), the defaults the validated settings fall back to (config.py), and the
table of keys in docs/configuration.md (a test keeps it equal to `rows()`). Kept free of imports beyond the
standard library: `fab --list` reads `DEFAULTS`.

Numbers and lists are declared to Fabric as None, their real defaults applied by config.py: Invoke casts an
environment variable to the type of the value it overrides, so `FABRIC_DEPLOY_TIMEOUT=90.5` against an int
default would end in a ValueError inside Invoke, and a list default refuses any variable. Declared as None, the
variable arrives as text, and config.py checks it like any other value, naming the variable when it is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("text", "seconds", "count", "list", "choice", "url", "status", "bool", "command")


@dataclass(frozen=True)
class Key:
    kind: str  # one of KINDS
    doc: str
    default: Any = None  # None: not set (a required key says so in its doc)
    choices: tuple[str, ...] = ()  # for "choice": the values taken, the default first
    aliases: Mapping[str, str] = field(default_factory=dict)  # for "choice": old spellings still taken
    per_environment: bool = False  # a top-level key an environment may set for itself

    @property
    def many(self) -> bool:
        """A list (a comma-separated string too, which is what an environment variable can hold)."""
        return self.kind in ("list", "command")


@dataclass(frozen=True)
class Section:
    """A mapping of known keys."""

    keys: Mapping[str, Node]
    doc: str = ""
    may_be_empty: bool = False  # `migrate:` with nothing under it; sections with a default mapping may not be


@dataclass(frozen=True)
class Each:
    """A mapping whose keys are the user's own (environment names, header names), each value of one shape."""

    shape: Node
    what: str
    doc: str = ""


Node = Key | Section | Each

TOP_LEVEL = {  # the keys an environment may also set for itself, and their defaults
    "repository": Key("text", "the ECR repository's name (not its URI); required here or in each environment",
                      per_environment=True),
    "region": Key("text", "the AWS region; default: boto3's own (AWS_DEFAULT_REGION, the profile's, else AWS_REGION)",
                  per_environment=True),
    "timeout": Key("seconds", "seconds a migration or a rollout may take; `--timeout` overrides it for one run",
                   1800.0, per_environment=True),
    "poll_interval": Key("seconds", "seconds between two status checks", 5.0, per_environment=True),
    "parallel": Key("count", "new deployments started, and reads made, at once; 1: one after another", 8,
                    per_environment=True),
}

MIGRATE = Section({
    "command": Key("command", "the migration command: a list, or a string split like a shell; required"),
    "task_definition": Key("text", "the task definition it runs on; default: the first service's"),
    "container": Key("text", "the container whose command it overrides; default: the first essential one"),
    "subnets": Key("list", "awsvpc subnets; default: the first service's network settings"),
    "security_groups": Key("list", "awsvpc security groups; default: the first service's"),
    "assign_public_ip": Key("bool", "awsvpc public IP; default: the first service's"),
}, "the one-off migration task; no section: no migration runs (with a notice)", may_be_empty=True)

SMOKE = Section({
    "url": Key("url", "GET after the rollouts, every poll_interval; a 3xx is the answer (not followed); required"),
    "expect": Key("status", "the HTTP status it must answer", 200),
    "timeout": Key("seconds", "seconds to keep asking before the deploy fails", 120.0),
    "headers": Each(Key("text", "a header value"), "header",
                    "name: value; `${NAME}` is environment variable NAME, read when a task uses it; never shown"),
}, "asks the application itself once the rollouts completed; no section: no smoke check", may_be_empty=True)

NOTIFY = Section({
    "slack": Key("text", "the environment variable holding a Slack incoming webhook's URL (a secret: never in this "
                         "file); told after a verified success and after a failure"),
    "webhook": Key("text", "the environment variable holding a URL that is POSTed the run's record as JSON (a "
                           "secret); told after a verified success and after a failure"),
}, "who else is told how a deploy or rollback ended (docs/notifications.md); an environment's own section wins "
   "key by key", may_be_empty=True)

ENVIRONMENT = Section({
    **TOP_LEVEL,
    "cluster": Key("text", "the ECS cluster; required"),
    "services": Key("list", "the ECS services it deploys; required"),
    "release_tag": Key("text", "the moving tag the services' task definitions run; `<release_tag>-previous` "
                               "records the image before its last move", "latest"),
    "account": Key("text", "the 12-digit AWS account id: every task refuses credentials of another account"),
    "lock_parameter": Key("text", "the SSM parameter of the deploy lock; default: /fab-deploy/<cluster>/<env>/lock"),
    "on_failure": Key("choice", "put-back: a failed deploy puts the release tag and every service back; leave: "
                                "nothing is put back, the output gives every command that would", "put-back",
                      choices=("put-back", "leave"), aliases={"restore": "put-back"}),
    "sleuth_environment": Key("text", "the environment's name in Sleuth; default: its name here"),
    "migrate": MIGRATE,
    "smoke": SMOKE,
    "notify": NOTIFY,
})

SLEUTH = Section({
    "url": Key("url", "Sleuth's address", "https://app.sleuth.io"),
    "org": Key("text", "the organization's slug"),
    "deployment": Key("text", "the deployment's slug (the code deployment in Sleuth)"),
    "tags": Key("list", "tags for every registration (`#lowercase-words`)"),
    "email": Key("text", "the author to register; default: the commit's author, where git knows the commit"),
    "auth": Key("choice", "bearer: an access token; apikey: the organization API key (token: SLEUTH_API_TOKEN)",
                "bearer", choices=("bearer", "apikey")),
}, "registering deploys with Sleuth (docs/sleuth.md)")

DEPLOY = Section({
    **TOP_LEVEL,
    "environments": Each(ENVIRONMENT, "environment", "each environment, by the name tasks take with --env"),
    "sleuth": SLEUTH,
    "notify": NOTIFY,
})


def _fabric_default(key: Key) -> Any:
    return None if key.kind in ("seconds", "count", "status") or key.many else key.default


DEFAULTS: dict[str, Any] = {
    **{name: _fabric_default(key) for name, key in TOP_LEVEL.items()},
    "environments": {},
    "sleuth": {name: _fabric_default(key) for name, key in SLEUTH.keys.items() if isinstance(key, Key)},
    "notify": {name: _fabric_default(key) for name, key in NOTIFY.keys.items() if isinstance(key, Key)},
}


def rows(node: Node = DEPLOY, path: str = "deploy") -> Iterator[tuple[str, str, str, str]]:
    """(key path, kind, default, meaning) for every key, as docs/configuration.md lists them."""
    if isinstance(node, Key):
        shown = "" if node.default is None else str(node.default)
        kind = " or ".join(node.choices) if node.kind == "choice" else node.kind
        yield path, kind, shown, node.doc
    elif isinstance(node, Each):
        if node.doc:
            yield f"{path}.<{node.what}>", "mapping", "", node.doc
        yield from rows(node.shape, f"{path}.<{node.what}>")
    else:
        if node.doc:
            yield path, "mapping", "", node.doc
        for name, inner in node.keys.items():
            yield from rows(inner, f"{path}.{name}")

"""The `deploy` config's keys, each declared once: its kind, its default and what it means.

Everything else is derived from here: the defaults declared to Fabric (`DEFAULTS`, through `ns.configure`, so
that `FABRIC_DEPLOY_*` variables can override them), the shape every config file is checked against
(config_files.py, with its did-you-mean), how each value is read and what a missing required one needs (config.py
walks this tree with one reader per kind), and the table of keys in docs/configuration.md (`make docs` writes it
from `table()`; a test keeps the two equal). Kept free of imports beyond the standard library: `fab --list`
reads `DEFAULTS`.

Numbers and lists are declared to Fabric as None, their real defaults applied by config.py: Invoke casts an
environment variable to the type of the value it overrides, so `FABRIC_DEPLOY_TIMEOUT=90.5` against an int
default would end in a ValueError inside Invoke, and a list default refuses any variable. Declared as None, the
variable arrives as text, and config.py checks it like any other value, naming the variable when it is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# How a value is read (config.py has one reader per kind): "text" a single word or name, "repository" an ECR
# repository's name, "tag" an image tag, "account" a 12-digit id, "variable" the name of an environment variable,
# "header" a header value that may name variables as `${NAME}`.
KINDS = ("text", "repository", "tag", "account", "variable", "header", "seconds", "count", "list", "choice", "url",
         "status", "bool", "command")


@dataclass(frozen=True)
class Key:
    kind: str  # one of KINDS
    doc: str
    default: Any = None  # None: not set
    choices: tuple[str, ...] = ()  # for "choice": the values taken, the default first
    aliases: Mapping[str, str] = field(default_factory=dict)  # for "choice": old spellings still taken
    per_environment: bool = False  # a top-level key an environment may set for itself
    required: str = ""  # for a key that must be set: what to do when it is not ({section} is the key's section)
    items: str = "ids"  # for "list": what it holds, as an error asks for it ("give a list of ...")

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
    "repository": Key("repository", "the ECR repository's name (not its URI)",
                      per_environment=True, required="set deploy.repository or {section}.repository"),
    "region": Key("text", "the AWS region; default: boto3's own (AWS_DEFAULT_REGION, the profile's, else AWS_REGION)",
                  per_environment=True),
    "timeout": Key("seconds", "seconds a migration or a rollout may take (a strategy's bake time comes on top); "
                              "`--timeout` overrides it for one run, and a put-back always gets at least this",
                   1800.0, per_environment=True),
    "poll_interval": Key("seconds", "seconds between two status checks", 5.0, per_environment=True),
    "parallel": Key("count", "new deployments started, and reads made, at once; 1: one after another", 8,
                    per_environment=True),
}

MIGRATE = Section({
    "command": Key("command", "the migration command: a list, or a string split like a shell",
                   required="give the migration command, e.g. [python, manage.py, migrate], or remove {section} to "
                            "deploy without a migration"),
    "task_definition": Key("text", "the task definition it runs on; default: the first service's"),
    "container": Key("text", "the container whose command it overrides; default: the first essential one"),
    "subnets": Key("list", "awsvpc subnets; default: the first service's network settings"),
    "security_groups": Key("list", "awsvpc security groups; default: the first service's"),
    "assign_public_ip": Key("bool", "awsvpc public IP; default: the first service's"),
}, "the one-off migration task; no section: no migration runs (with a notice)", may_be_empty=True)

SMOKE = Section({
    "url": Key("url", "GET after the rollouts, every poll_interval; a 3xx is the answer (not followed)",
               required="give the URL to check after a deploy, e.g. https://staging.example.com/health"),
    "expect": Key("status", "the HTTP status it must answer", 200),
    "timeout": Key("seconds", "seconds to keep asking before the deploy fails", 120.0),
    "headers": Each(Key("header", "a header value"), "header",
                    "name: value; `${NAME}` is environment variable NAME, read when a task uses it (unset or empty: "
                    "refused before any change); values are never shown"),
}, "asks the application itself once the rollouts completed; no section: no smoke check", may_be_empty=True)

NOTIFY = Section({
    "slack": Key("variable", "the environment variable holding a Slack incoming webhook's URL (a secret: never in this "
                         "file); told after a verified success and after a failure"),
    "webhook": Key("variable", "the environment variable holding a URL that is POSTed the run's record as JSON (a "
                           "secret); told after a verified success and after a failure"),
}, "who else is told how a deploy or rollback ended (docs/notifications.md); an environment's own section wins "
   "key by key", may_be_empty=True)

ENVIRONMENT = Section({
    **TOP_LEVEL,
    "cluster": Key("text", "the ECS cluster", required="set {section}.cluster"),
    "services": Key("list", "the ECS services it deploys, each once",
                    required="set {section}.services, e.g. [web, worker]", items="service names, e.g. [web, worker]"),
    "release_tag": Key("tag", "the moving tag the services' task definitions run; `<release_tag>-previous` "
                               "records the image before its last move", "latest"),
    "account": Key("account", "the 12-digit AWS account id: every task refuses credentials of another account"),
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
    "tags": Key("list", "tags for every registration (`#lowercase-words`)", (), items="tags"),
    "email": Key("text", "the author to register; default: the commit's author, where git knows the commit"),
    "auth": Key("choice", "bearer: an access token; apikey: the organization API key; the token itself is only ever "
                         "read from SLEUTH_API_TOKEN",
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
    """(key path, kind, default, meaning) for every key, as docs/configuration.md lists them.

    A key an environment may also set (`timeout`, `notify`) is listed once, at the top level, where its doc says so.
    """
    if isinstance(node, Key):
        default = node.default
        if isinstance(default, float) and default.is_integer():
            default = int(default)
        shown = "required" if node.required else "" if default in (None, ()) else str(default)
        kind = " or ".join(node.choices) if node.kind == "choice" else node.kind
        doc = node.doc + "".join(f" (`{old}`: the old spelling of `{new}`)" for old, new in node.aliases.items())
        yield path, kind, shown, f"{doc}; an environment may set its own" if node.per_environment else doc
    elif isinstance(node, Each):
        if node.doc:
            yield path, "mapping", "", node.doc
        yield from rows(node.shape, f"{path}.<{node.what}>")
    else:
        if node.doc:
            yield path, "mapping", "", node.doc
        for name, inner in node.keys.items():
            if path == "deploy" or DEPLOY.keys.get(name) is not inner:
                yield from rows(inner, f"{path}.{name}")


def table() -> str:
    """The keys as a Markdown table: docs/configuration.md holds this text (`make docs` writes it there)."""
    lines = ["| key | kind | default | meaning |", "| --- | --- | --- | --- |"]
    for path, kind, default, doc in rows():
        shown = f"`{default}`" if default and default != "required" else default
        meaning = doc.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- keys: begin -->\n", "<!-- keys: end -->\n"


def with_table(text: str) -> str:
    """`text` (docs/configuration.md) with what stands between its two markers replaced by `table()`."""
    head, found, rest = text.partition(BEGIN)
    _, ended, tail = rest.partition(END)
    if not (found and ended):
        raise ValueError(f"no {BEGIN.strip()} ... {END.strip()} markers to write the table of keys between")
    return head + BEGIN + table() + END + tail


def write_table(name: str) -> None:
    """`make docs`: the table of keys written into the file `name`, between its markers."""
    with open(name) as handle:
        text = handle.read()
    with open(name, "w") as handle:
        handle.write(with_table(text))

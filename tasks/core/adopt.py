"""`fab init`: read a running ECS cluster and write the `fabric.yaml` that deploys it. Reads only; changes nothing.

Assumptions: what this tool deploys is a service whose task definition runs a moving tag of an ECR repository in
the account and region of the credentials, with the ECS controller's rolling deployments (the same rules as the
preflight, checks.py, so that `fab check` passes on what is written). One environment moves one tag of one
repository: the pair most services run is chosen, and every other service is left out with the reason. What AWS
cannot tell (the migration command, the smoke check's URL, Sleuth's names) is written as commented-out lines
saying so; what was guessed (the environment's name, the migration's task definition and container) carries a
comment saying it was guessed. Every key written is looked up in the schema (schema.py), and the whole file is
parsed back and validated as `fab` will load it before anything is written.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .aws import AwsError
from .checks import not_deployable
from .commits import BUILD_TAG
from .config import load_settings
from .config_files import check_file
from .ecr import Registry
from .ecs import Cluster, Service, TaskDefinition, arn_name
from .errors import DeployError
from .fanout import fan_out
from .identity import Accounts
from .logs import Logs
from .schema import DEPLOY, Each, Node, Section

# `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY[:TAG][@DIGEST]` (amazonaws.com.cn in China)
_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$")
_ONE_BUILD = (re.compile(r"^[0-9a-f]{7,40}$"), BUILD_TAG, re.compile(r"^v?\d+(\.\d+){1,3}([-+.].*)?$"))
# Environment names a cluster's name often ends with, to guess the environment's name from.
_ENVIRONMENT_WORDS = ("production", "prod", "staging", "stage", "qa", "test", "dev", "development", "demo", "sandbox")
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


@dataclass(frozen=True)
class Image:
    """What a container runs, where it is an image in ECR."""

    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None


def ecr_image(reference: str) -> Image | None:
    match = _ECR_IMAGE.match(reference)
    if not match:
        return None
    return Image(match["account"], match["region"], match["repository"], match["tag"], match["digest"])


@dataclass(frozen=True)
class Found:
    """One service as `fab init` read and judged it."""

    name: str
    task_definition: str  # family:revision
    container: str | None = None  # the container that runs the release image
    image: Image | None = None
    reason: str | None = None  # why it cannot be deployed this way; None: it can
    notes: tuple[str, ...] = ()
    network: dict[str, Any] | None = None

    @property
    def pair(self) -> tuple[str, str] | None:
        return (self.image.repository, self.image.tag or "") if self.image and not self.reason else None


@dataclass
class Survey:
    cluster: str
    region: str
    account: str
    services: list[Found]
    repository: str = ""
    release_tag: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def deployable(self) -> list[Found]:
        return [s for s in self.services if s.reason is None]

    @property
    def left_out(self) -> list[Found]:
        return [s for s in self.services if s.reason is not None]


def survey(cluster: Cluster, accounts: Accounts, registry_for: Callable[[str], Registry], logs: Logs, region: str,
           services: Sequence[str] = (), parallel: int = 8) -> Survey:
    """Read the cluster's services (or the named ones), judge each, and choose the environment's repository and tag.

    `registry_for(repository)` gives the ECR gateway of a repository. A `DeployError` when nothing there can be
    deployed this way, naming every service and why.
    """
    identity = accounts.caller()
    names = cluster.service_names()
    if not names:
        raise DeployError(f"ECS cluster {cluster.name!r} has no services: create them first (fab init reads what "
                          "runs; it creates nothing)")
    if services:
        unknown = [n for n in services if n not in names]
        if unknown:
            raise DeployError(f"no service {', '.join(unknown)} in cluster {cluster.name!r} (it has "
                              f"{', '.join(names)}): check --services")
        if len(set(services)) != len(services):
            raise DeployError(f"--services lists a service twice: {', '.join(services)}")
        names = list(services)
    read = cluster.services(names)
    definitions = dict(zip(names, fan_out(lambda n: cluster.task_definition(read[n].task_definition), names,
                                          parallel), strict=True))
    found = [_judge(read[n], definitions[n], identity.account, region) for n in names]
    result = Survey(cluster=cluster.name, region=region, account=identity.account, services=found)
    _choose_release(result, registry_for)
    if not result.deployable:
        raise DeployError(f"no service of cluster {cluster.name!r} can be deployed this way: "
                          + "; ".join(f"{s.name}: {s.reason}" for s in result.left_out))
    groups = sorted({c.log.group for s in result.deployable for c in definitions[s.name].containers if c.log})
    missing = [g for g in groups if not logs.group_exists(g)]
    if missing:
        result.warnings.append(f"log group(s) {', '.join(missing)} do not exist: fab check fails until they do "
                               "(create them, or fix the task definitions)")
    return result


def _judge(service: Service, definition: TaskDefinition, account: str, region: str) -> Found:
    base = Found(name=service.name, task_definition=definition.label, network=service.network_configuration)
    refusal = not_deployable(service)
    if refusal:
        return _with(base, reason=refusal.removeprefix(f"{service.name} "))
    in_ecr = [(c, ecr_image(c.image)) for c in definition.containers]
    in_ecr = [(c, image) for c, image in in_ecr if image is not None]
    if not in_ecr:
        runs = ", ".join(c.image for c in definition.containers) or "no container"
        return _with(base, reason=f"runs {runs}, no image in ECR: this tool moves a tag in an ECR repository")
    container, image = next(((c, i) for c, i in in_ecr if c.essential), in_ecr[0])
    shown = arn_name(container.image)
    base = _with(base, container=container.name, image=image)
    if (image.account, image.region) != (account, region):
        return _with(base, reason=f"runs {shown} from account {image.account} in {image.region}, not the account "
                                  f"{account} in {region} these credentials deploy to")
    if image.digest:
        return _with(base, reason=f"runs {shown}, pinned to a digest: moving a tag changes nothing there; make its "
                                  "task definition run a moving tag (repository:latest)")
    if not image.tag:
        return _with(base, reason=f"runs {shown} with no tag: name a moving tag in its task definition "
                                  f"({image.repository}:latest)")
    if any(pattern.match(image.tag) for pattern in _ONE_BUILD):
        return _with(base, reason=f"runs {shown}, the tag of one build, not a moving tag: make its task definition "
                                  f"run a tag that each release moves ({image.repository}:latest)")
    others = sorted({c.image for c, i in in_ecr if i.repository == image.repository and i.tag != image.tag})
    if others:
        return _with(base, reason=f"runs {shown} and {', '.join(arn_name(o) for o in others)}: one service runs "
                                  "one tag of a repository")
    notes = []
    if not service.circuit_breaker:
        notes.append("no circuit breaker: a failing rollout runs until the timeout")
    if container.log is None:
        notes.append(f"container {container.name} logs no awslogs: a migration's output cannot be shown")
    return _with(base, notes=tuple(notes))


def _with(found: Found, **changes: Any) -> Found:
    return Found(**{**found.__dict__, **changes})


def _choose_release(result: Survey, registry_for: Callable[[str], Registry]) -> None:
    """The (repository, tag) most deployable services run; the others are left out with the reason. The tag must
    be able to move there."""
    pairs = Counter(s.pair for s in result.services if s.pair)
    if not pairs:
        return
    (repository, tag), _ = pairs.most_common(1)[0]
    try:
        movable = registry_for(repository).tag_is_mutable(tag)
        problem = None if movable else f"{tag} is an immutable tag in {repository}: it cannot move"
    except AwsError:
        raise
    except DeployError:  # no such repository
        problem = f"no ECR repository {repository} in account {result.account}, {result.region}"
    for index, s in enumerate(result.services):
        if s.pair is None:
            continue
        if problem:
            result.services[index] = _with(s, reason=f"runs {repository}:{tag}, but {problem}")
        elif s.pair != (repository, tag):
            result.services[index] = _with(
                s, reason=f"runs {s.pair[0]}:{s.pair[1]}, while the others run {repository}:{tag}: an environment "
                          "moves one tag of one repository (give it its own environment with --env and --services)")
    if not problem:
        result.repository, result.release_tag = repository, tag


def guess_environment(cluster: str) -> str:
    """The environment's name: the cluster name's last word where that names an environment, else the cluster's."""
    last = re.split(r"[-_]", cluster)[-1].lower()
    return last if last in _ENVIRONMENT_WORDS else cluster


# --- writing -----------------------------------------------------------------------------------------------


def _schema_key(path: Sequence[str]) -> Node:
    """The schema node of `deploy.<path>`: a key not declared there is a bug here, never written."""
    node: Node = DEPLOY
    for part in path:
        if isinstance(node, Each):
            node = node.shape
            continue
        if not isinstance(node, Section) or part not in node.keys:
            raise KeyError(f"deploy.{'.'.join(path)} is not a key of the config schema")
        node = node.keys[part]
    return node


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def key(self, indent: int, path: Sequence[str], value: Any = None, comment: str = "", *,
            commented: bool = False) -> None:
        """`name: value  # comment` at `indent`, for the schema key `deploy.<path>` (the last part is the name)."""
        _schema_key([p for p in path if p])
        text = f"{path[-1]}:" + ("" if value is None else f" {scalar(value)}")
        self.raw(indent, text, comment, commented=commented)

    def raw(self, indent: int, text: str, comment: str = "", *, commented: bool = False) -> None:
        line = " " * indent + ("# " if commented else "") + text
        if comment:
            line = f"{line.ljust(max(len(line) + 2, 40))}# {comment}"
        self.lines.append(line.rstrip())


def environment_lines(result: Survey, env: str | None, *, with_repository: bool) -> list[str]:
    """The environment's block, indented for `deploy.environments`; `env` None: named after the cluster."""
    out = _Lines()
    name = env or guess_environment(result.cluster)
    at = ("environments", name)
    out.raw(4, f"{name}:", "the name tasks take with --env" if env else "guessed from the cluster's name: "
                           "the name tasks take with --env")
    out.key(6, (*at, "cluster"), result.cluster)
    deployable = result.deployable
    out.key(6, (*at, "services"), [s.name for s in deployable],
            "read: " + "; ".join(f"{s.name} {s.task_definition}, rolling" + "".join(f", {n}" for n in s.notes)
                                 for s in deployable))
    for s in result.left_out:
        out.raw(8, f"left out: {s.name}: {s.reason}", commented=True)
    if with_repository:
        out.key(6, (*at, "repository"), result.repository, "read: the ECR repository the services run")
        out.key(6, (*at, "region"), result.region, "read: the region of the credentials fab init ran with")
    out.key(6, (*at, "release_tag"), result.release_tag, "read: the moving tag the task definitions run")
    out.key(6, (*at, "account"), result.account, "read: the account of the credentials fab init ran with")
    first = deployable[0]
    out.key(6, (*at, "migrate"), None, "not known: AWS does not say what migrates the database; uncomment "
                                       "with your command (no migrate section: no migration)", commented=True)
    out.key(8, (*at, "migrate", "command"), ["python", "manage.py", "migrate"], "an example: give your own",
            commented=True)
    out.key(8, (*at, "migrate", "task_definition"), first.task_definition.split(":")[0],
            f"guessed: {first.name}'s, which is the default; a family of its own is better", commented=True)
    out.key(8, (*at, "migrate", "container"), first.container,
            f"guessed: the one that runs {result.repository}:{result.release_tag}", commented=True)
    vpc = (first.network or {}).get("awsvpcConfiguration") or {}
    if vpc:
        out.raw(8, f"network: {first.name}'s (the default): subnets {', '.join(vpc.get('subnets') or [])}; security "
                   f"groups {', '.join(vpc.get('securityGroups') or []) or 'none'}; public IP "
                   f"{vpc.get('assignPublicIp', 'DISABLED')}", commented=True)
    out.key(6, (*at, "smoke"), None, "not known: the URL that says the application answers, checked after "
                                     "the rollouts", commented=True)
    out.key(8, (*at, "smoke", "url"), "https://example.com/healthz", "an example: give your own", commented=True)
    return out.lines


def new_file(result: Survey, env: str | None) -> str:
    out = _Lines()
    out.raw(0, f"# Written by `fab init --cluster {result.cluster}` from what runs in account {result.account}, "
               f"{result.region}.")
    name = env or guess_environment(result.cluster)
    out.raw(0, f"# Check it against AWS with `fab check --env {name}`; docs/configuration.md lists every key.")
    out.raw(0, "deploy:")
    out.key(2, ("repository",), result.repository, "read: the ECR repository the services run")
    out.key(2, ("region",), result.region, "read: the region of the credentials fab init ran with")
    out.key(2, ("sleuth",), None, "not known: Sleuth's slugs; uncomment to register deploys (token: "
                                  "SLEUTH_API_TOKEN)", commented=True)
    out.key(4, ("sleuth", "org"), "your-org", "your organization's slug", commented=True)
    out.key(4, ("sleuth", "deployment"), result.repository, "guessed: the code deployment's slug",
            commented=True)
    out.key(2, ("environments",))
    return "\n".join([*out.lines, *environment_lines(result, env, with_repository=False)]) + "\n"


def added_environment(text: str, data: Any, result: Survey, env: str, shown: str) -> str:
    """`text` (the existing file, parsed as `data`) with the environment added at the end of its environments."""
    deploy = (data or {}).get("deploy") if isinstance(data, dict) else None
    if not isinstance(deploy, dict):
        raise DeployError(f"{shown} has no deploy section to add environment {env!r} to: replace it with --force")
    environments = deploy.get("environments") or {}
    if env in environments:
        raise DeployError(f"{shown} already has environment {env!r}: choose another --env, or replace the whole "
                          "file with --force")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^  environments:\s*(#.*)?$", line)), None)
    if start is None:
        raise DeployError(f"{shown}: deploy.environments is not a block mapping fab init can add to (written "
                          f"as `  environments:` on its own line): add environment {env!r} by hand, or use --force")
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith("   ")):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    same = deploy.get("repository") == result.repository and deploy.get("region", result.region) == result.region
    block = environment_lines(result, env, with_repository=not same)
    return "\n".join([*lines[:end], *block, *lines[end:]]) + "\n"


def validate(text: str, shown: str, yaml: Any) -> None:
    """The file as `fab` will read it: its shape, and every environment's settings; a `DeployError` otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:  # a bug here: what is written must parse
        raise DeployError(f"fab init made a file that does not parse ({err}): nothing written") from None
    check_file(data, shown)
    load_settings(data["deploy"], lambda path: shown)


def summary(result: Survey, env: str) -> list[str]:
    """What was found, as `fab init` prints it before saying where it wrote the file."""
    lines = [f"cluster {result.cluster} (account {result.account}, {result.region}): environment {env} deploys "
             f"{', '.join(s.name for s in result.deployable)} by moving {result.repository}:{result.release_tag}"]
    lines += [f"  left out: {s.name}: {s.reason}" for s in result.left_out]
    lines += [f"  warning: {w}" for w in result.warnings]
    return lines


"""`fab init`: write `fabric.yaml` from what a cluster runs; reads AWS, changes nothing there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from invoke import task

from ._runtime import boundary, is_dry, say
from .core.errors import DeployError

CONFIG_NAMES = ("fabric.yaml", "fabric.yml", "fabric.json", "fabric.py")  # what fab reads beside the fabfile


def project_folder() -> Path:
    """Where `fab` reads the project's config file: the folder of the fabfile it loaded (else this one)."""
    fabfile = getattr(sys.modules.get("fabfile"), "__file__", None)
    return Path(fabfile).resolve().parent if fabfile else Path.cwd()


@task(help={
    "cluster": "the ECS cluster to read",
    "services": "the services to deploy, comma-separated (default: every service of the cluster that can be)",
    "env": "the environment's name; with an existing fabric.yaml, the environment added to it "
           "(default: named after the cluster)",
    "force": "replace an existing fabric.yaml",
})
def init(c, cluster, services="", env="", force=False):
    """Write fabric.yaml from what an ECS cluster runs (reads AWS only; --dry: print it); then fab check."""
    with boundary():
        from invoke.util import yaml

        from .core import adopt
        from .core.aws import clients_for
        from .core.ecr import Registry
        from .core.ecs import Cluster
        from .core.identity import Accounts
        from .core.logs import Logs

        folder = project_folder()
        existing = next((folder / n for n in CONFIG_NAMES if (folder / n).exists()), None)
        shown = os.path.relpath(existing or folder / CONFIG_NAMES[0])
        if existing is not None and not force and not env:
            raise DeployError(f"{shown} exists: add an environment to it with --env NAME, or replace it with --force")
        if existing is not None and not force and existing.suffix not in (".yaml", ".yml"):
            raise DeployError(f"{shown} is not YAML: add environment {env!r} to it by hand, or replace it with --force")
        wanted = tuple(s.strip() for s in services.split(",") if s.strip())
        if services and not wanted:
            raise DeployError(f"--services {services!r} names no service: give names, e.g. --services web,worker")
        clients = clients_for(None)
        region = clients.session.region_name
        if not region:
            raise DeployError("no AWS region: set AWS_DEFAULT_REGION (or the profile's region) and run again")
        result = adopt.survey(Cluster(clients.ecs, cluster), Accounts(clients.sts),
                              lambda repository: Registry(clients.ecr, repository), Logs(clients.logs), region,
                              wanted)
        name = env or adopt.guess_environment(cluster)
        if existing is not None and not force:
            text = existing.read_text()
            text = adopt.added_environment(text, yaml.safe_load(text), result, name, shown)
        else:
            text = adopt.new_file(result, env or None)
        try:
            adopt.validate(text, shown, yaml)
        except DeployError as err:
            raise DeployError(f"{err}: nothing written") from None
        for line in adopt.summary(result, name):
            say(line)
        if is_dry(c):  # `fab --dry init`: the file it would write, and nothing written
            say(f"would write {shown}:")
            for line in text.splitlines():
                say(f"  {line}")
            return
        target = existing if existing is not None and not force else folder / CONFIG_NAMES[0]
        if existing is not None and existing != target:
            existing.unlink()  # --force: the new file replaces it, and only one is read
        target.write_text(text)
        verb = "added environment " + name + " to" if existing is not None and not force else "wrote"
        say(f"{verb} {os.path.relpath(target)}: fill in what it marks `not known` (the migration command first), "
            f"then run: fab check --env {name}")

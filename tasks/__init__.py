"""Fabric tasks for releasing a CI-built image to ECS Fargate: `fab --list` shows them.

Assumptions: this package is imported by `fab` on every run, `fab --list` included, so nothing here (or
in the task modules) imports boto3 or requests at import time; task bodies import the core lazily.
Defaults are declared with `ns.configure` so `FABRIC_DEPLOY_*` environment variables can override them.
"""

from invoke import Collection

from . import check, deploy, image_tag, migrate, notify, restart, retag, rollback, status
from .core.defaults import DEFAULTS

ns = Collection()
ns.add_task(deploy.deploy)
ns.add_task(retag.retag)
ns.add_task(migrate.migrate)
ns.add_task(restart.restart)
ns.add_task(notify.notify)
ns.add_task(rollback.rollback)
ns.add_task(status.status)
ns.add_task(check.check)
ns.add_task(image_tag.image_tag)
ns.configure({"deploy": DEFAULTS})

"""Fabric tasks for releasing a CI-built image to ECS Fargate: `fab --list` shows them.

Assumptions: this package is imported by `fab` on every run, `fab --list` included, so nothing here (or
in the task modules) imports boto3 or requests at import time; task bodies import the core lazily.
Defaults are declared with `ns.configure` so `FABRIC_DEPLOY_*` environment variables can override them.
The fabfile's one line, `from tasks import ns`, is served by `__getattr__` below: each time `fab` loads the
fabfile it first checks the config files it is about to read (`_invoke_files`), because a bad one would
otherwise end in a traceback inside Invoke, before any task runs; and it keeps secrets out of the log records
from then on (`_secrets`), because with `--debug` Invoke logs those files' contents.
Installed (`pip install`), this folder is the package `fab_ecs_release`; inside its own repository it is
`tasks`. The same files loaded under both names in one process would be two copies of every class and of the
settings tests replace, so the second import is refused.
"""

import os
import sys
from typing import Any

from invoke import Collection

from . import (
    check,
    continue_,
    deploy,
    history,
    image_tag,
    init,
    migrate,
    notify,
    restart,
    retag,
    rollback,
    status,
    unlock,
)
from .core.schema import DEFAULTS


def _refuse_a_second_copy() -> None:
    here = os.path.realpath(__file__)
    for name, module in list(sys.modules.items()):
        if name != __name__ and "." not in name and os.path.realpath(getattr(module, "__file__", None) or "") == here:
            raise ImportError(f"{here} is already imported as {name!r}: import it under one name only "
                              f"(an application: `from fab_ecs_release import ns`; this repository: `from tasks "
                              f"import ns`)")


_refuse_a_second_copy()

__all__ = ["ns"]

collection = Collection()
collection.add_task(deploy.deploy)
collection.add_task(retag.retag)
collection.add_task(migrate.migrate)
collection.add_task(restart.restart)
collection.add_task(notify.notify)
collection.add_task(rollback.rollback)
collection.add_task(status.status)
collection.add_task(history.history)
collection.add_task(check.check)
collection.add_task(init.init)
collection.add_task(image_tag.image_tag)
collection.add_task(unlock.unlock)
collection.add_task(continue_.continue_)
collection.configure({"deploy": DEFAULTS})


def __getattr__(name: str) -> Any:
    if name == "ns":
        from ._invoke_files import check_config_files
        from ._secrets import redact_logs

        redact_logs()  # now: under --debug, Invoke logs the config files' contents (smoke headers) next
        check_config_files()
        return collection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

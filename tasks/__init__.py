"""Fabric tasks for releasing a CI-built image to ECS Fargate: `fab --list` shows them.

Assumptions: this package is imported by `fab` on every run, `fab --list` included, so nothing here (or
in the task modules) imports boto3 or requests at import time; task bodies import the core lazily.
Defaults are declared with `ns.configure` so `FABRIC_DEPLOY_*` environment variables can override them.
Importing this package has no side effect beyond that. The fabfile imports `ns` and calls
`check_config_files(__file__)`: fab reads the config files right after it, and a bad one would otherwise end in
a traceback inside Invoke before any task runs (`_invoke_files`); the call also keeps secrets out of the log
records from then on (`_secrets`), because with `--debug` Invoke logs those files' contents.
Installed (`pip install`), this folder is the package `fab_ecs_release`; inside its own repository it is
`tasks`. The same files loaded under both names in one process would be two copies of every class and of the
settings tests replace, so the second import is refused.
"""

import os
import sys

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

__all__ = ["check_config_files", "ns"]

ns = Collection(
    deploy.deploy, retag.retag, migrate.migrate, restart.restart, notify.notify, rollback.rollback, status.status,
    history.history, check.check, init.init, image_tag.image_tag, unlock.unlock, continue_.continue_,
)
ns.configure({"deploy": DEFAULTS})


def check_config_files(fabfile: str) -> None:
    """What the fabfile calls with its `__file__`: the config files fab reads next checked, a bad one one line
    and exit 1 (`invoke.Exit`); see `_invoke_files`."""
    from ._invoke_files import check_config_files as check

    check(fabfile)


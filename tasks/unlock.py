"""`fab unlock`: free an environment's deploy lock left by a run that was killed (SIGKILL, a lost CI runner).

It takes the holder's id on the command line (`fab status` and the "is locked" error show it), so it frees
that run's lock and never a newer one. It takes no lock itself; `--dry` says what it would free.
"""

from invoke import task

from ._runtime import boundary, environment_named, is_dry, open_target, say
from .core.errors import DeployError


@task(
    help={
        "env": "environment whose deploy lock to free",
        "holder": "id of the lock's holder, as fab status shows it; without it, the holder and its id are shown",
    }
)
def unlock(c, env, holder=None):
    """Free a deploy lock whose run is dead, given its holder id (fab status shows it)."""
    with boundary():
        environment = environment_named(c, env)

        target = open_target(environment)
        lock = target.lock
        if not holder:
            current = lock.holder()
            if current is None:
                say(f"environment {environment.name!r} is not locked: nothing to free")
                return
            raise DeployError(f"environment {environment.name!r} is locked by {lock.locked_by(current)}; if that run "
                              f"is dead, free it: fab unlock --env {environment.name} --holder {current.id}")
        freed = lock.free(holder, delete=not is_dry(c))
        if freed is None:
            say(f"environment {environment.name!r} is not locked: nothing to free")
        elif is_dry(c):
            say(f"DRY RUN - would free the deploy lock of {environment.name!r} held by {lock.locked_by(freed)}")
        else:
            say(f"freed the deploy lock of {environment.name!r}, held by {lock.locked_by(freed)}")

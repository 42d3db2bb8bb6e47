"""`fab continue`: decide a deployment that waits at a PAUSE lifecycle hook, to go on or to roll back.

A deploy waiting on such a hook says so, with this command; it takes no deploy lock, since that deploy holds it.
"""

from invoke import task

from ._runtime import boundary, environment_named, is_dry, open_target, say


@task(
    name="continue",
    iterable=["service"],
    help={
        "env": "environment whose paused deployment to decide",
        "service": "decide only this service's (repeatable; default: every service's that waits)",
        "rollback": "roll the deployment back instead of letting it go on",
    },
)
def continue_(c, env, service=None, rollback=False):
    """Let a deployment paused at a PAUSE hook go on (or --rollback it)."""
    with boundary():
        environment = environment_named(c, env)
        from .core.pauses import decide

        for line in decide(open_target(environment), service or (), rollback=rollback, dry=is_dry(c)):
            say(line)

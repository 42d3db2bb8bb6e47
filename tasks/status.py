"""`fab status`: what an environment runs now, who holds its deploy lock; reads only."""

from invoke import task

from ._runtime import boundary, open_target, say, settings
from .core.errors import DeployError


@task(
    help={
        "env": "environment to show",
        "all": "show every configured environment",
        "json": "print JSON for scripts instead of a table",
    }
)
def status(c, env=None, all=False, json_=False):
    """Show the release tag, the previous image, what each service runs, its deployments and events, and the lock."""
    with boundary():
        config = settings(c)
        if all == bool(env):
            raise DeployError("give either --env ENV or --all")
        names = sorted(config.environments) if all else [config.environment(env).name]
        from .core.status import collect, render

        results = [collect(open_target(config.environment(name))) for name in names]
        if json_:
            import json

            say(json.dumps(results if all else results[0], indent=2))
            return
        for number, result in enumerate(results):
            if number:
                say()
            for line in render(result):
                say(line)

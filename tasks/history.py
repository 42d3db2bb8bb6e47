"""`fab history`: the last runs of an environment, newest first, from the SSM parameter beside its deploy lock;
reads only."""

from invoke import task

from ._runtime import boundary, open_target, say, settings


@task(
    help={
        "env": "environment whose runs to show",
        "limit": "how many runs, newest first (default 20; SSM keeps the last 100)",
        "json": "print JSON for scripts instead of a table",
    }
)
def history(c, env, limit=None, json_=False):
    """Show the last deploys, rollbacks, restarts, retags and migrations of an environment and how each ended."""
    with boundary():
        from .core.history import DEFAULT_LIMIT, check_limit, render

        count = check_limit(limit or DEFAULT_LIMIT)
        environment = settings(c).environment(env)
        runs = open_target(environment).history.read(count)
        if json_:
            import json

            say(json.dumps(runs, indent=2))
            return
        for line in render(environment, runs):
            say(line)

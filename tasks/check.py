"""`fab check`: the preflight checklist on its own, and one request to the smoke check's URL; changes nothing,
exit 1 on any failure."""

from invoke import task

from ._runtime import boundary, open_target, say, settings
from .core.errors import DeployError


@task(help={"env": "environment to check"})
def check(c, env):
    """Check credentials, account, repository, services and how they deploy, logs, smoke URL and Sleuth settings."""
    with boundary():
        config = settings(c)
        environment = config.environment(env)
        from .core.checks import run_checks

        preflight = run_checks(open_target(environment), config.sleuth, smoke=True)
        say(f"Preflight for {environment.name}:")
        for line in preflight.lines():
            say(line)
        failed = [item.name for item in preflight.checks if not item.ok]
        if failed:
            raise DeployError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        say(f"{environment.name} is ready to deploy")

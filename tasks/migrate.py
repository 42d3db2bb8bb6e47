"""`fab migrate`: run the migration task on the image the release tag names now."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, RECORD_HELP, boundary, changing, environment_named, run_plan, say, seconds
from .core.errors import DeployError


@task(
    help={
        "env": "environment whose database to migrate",
        "command": 'command to run instead of migrate.command, e.g. "python manage.py migrate"',
        "timeout": "seconds the task may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
        "record": RECORD_HELP,
    }
)
def migrate(c, env, command=None, timeout=None, break_lock=False, record=None):
    """Run the database migration as a one-off Fargate task on the current release image."""
    with boundary():
        from .core.config import parse_command
        environment = environment_named(c, env)
        words = parse_command(command) if command else (environment.migrate.command if environment.migrate else None)
        if not words:
            raise DeployError(
                f"no migration command for environment {environment.name!r}: pass --command or set migrate.command"
            )
        limit = seconds(timeout)
        from .core import planner
        from .core.steps.migrate import Migrate

        with changing(c, environment, task="migrate", record=record, timeout=limit, break_lock=break_lock) as target:
            plan = planner.migrate(target, words)
            if run_plan(c, target, plan) is None:
                return
            release = f"{environment.repository}:{environment.release_tag}"
            say(f"migrated {environment.name} on {release} ({plan.step(Migrate).image.short_digest})")

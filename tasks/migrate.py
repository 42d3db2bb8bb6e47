"""`fab migrate`: run the migration task on the image the release tag names now."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, boundary, changing, environment, is_dry, say, seconds, show_plan
from .core.errors import DeployError


@task(
    help={
        "env": "environment whose database to migrate",
        "command": 'command to run instead of migrate.command, e.g. "python manage.py migrate"',
        "timeout": "seconds the task may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
    }
)
def migrate(c, env, command=None, timeout=None, break_lock=False):
    """Run the database migration as a one-off Fargate task on the current release image."""
    with boundary():
        from .core.config import parse_command
        environ = environment(c, env)
        words = parse_command(command) if command else (environ.migrate.command if environ.migrate else None)
        if not words:
            raise DeployError(
                f"no migration command for environment {environ.name!r}: pass --command or set migrate.command"
            )
        limit = seconds(timeout)
        from .core.release import Plan, prepare_migrate, release_image

        with changing(c, environ, task="migrate", timeout=limit, break_lock=break_lock) as ctx:
            image = release_image(ctx)
            step = prepare_migrate(ctx, ctx.cluster.services(environ.services[:1]), words)
            plan = Plan(
                title=f"migrate {environ.name}",
                steps=[step],
                facts=[f"image: {environ.repository}:{environ.release_tag} = {image.digest}"],
            )
            if is_dry(c):
                show_plan(plan.render())
                return
            plan.execute(ctx)
            say(f"migrated {environ.name} on {environ.repository}:{environ.release_tag} ({image.short_digest})")

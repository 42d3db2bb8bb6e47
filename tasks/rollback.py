"""`fab rollback`: move the release tag back to the previous image and restart; no migration."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, boundary, changing, is_dry, say, seconds, settings, show_plan


@task(
    help={
        "env": "environment to roll back",
        "timeout": "seconds the rollout may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
    }
)
def rollback(c, env, timeout=None, break_lock=False):
    """Put the release tag back on <release_tag>-previous, restart the services and wait; runs no migration."""
    with boundary():
        config = settings(c)
        environ = config.environment(env)
        limit = seconds(timeout)
        from .core import release
        from .core.checks import run_checks

        with changing(c, environ, task="rollback", timeout=limit, break_lock=break_lock) as ctx:
            preflight = run_checks(ctx)
            plan = release.prepare_rollback(ctx, preflight=preflight)
            if is_dry(c):
                show_plan(plan.render())
                return
            say(f"Rolling back {environ.name}; no migration runs (reversing one is the application's own job)")
            plan.execute(ctx)
            retag = plan.steps[0]
            say(f"rolled back {environ.name}: {environ.repository}:{environ.release_tag} = {retag.source.digest}; "
                f"{plan.steps[1].states()}")

"""`fab rollback`: move the release tag back to the previous image, restart, and tell Sleuth; no migration."""

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
        from .core.sleuth import Notify

        # the rollout, and after a failure the rollout back
        with changing(c, environ, task="rollback", timeout=limit, break_lock=break_lock, waits=2) as ctx:
            plan = release.prepare_rollback(ctx, preflight=run_checks(ctx))
            retag, restart = plan.steps
            commit = release.commit_of(ctx, retag.source)
            notify = None
            if commit is not None:
                notify = Notify.prepare(environ, config.sleuth, sha=commit[0], tag=commit[1], ecr=ctx.registry.client)
                plan.steps.append(notify)
            if is_dry(c):
                show_plan(plan.render())
                return
            say(f"Rolling back {environ.name}; no migration runs (reversing one is the application's own job)")
            plan.execute(ctx)
            say(f"rolled back {environ.name}: {environ.repository}:{environ.release_tag} = {retag.source.digest}; "
                f"{restart.states()}")
            if notify is None:
                say(f"warning: Sleuth was not told: the previous image {retag.source.short_digest} carries no tag with "
                    "its commit sha")
            else:
                for line in notify.report():
                    say(line)

"""`fab rollback`: move the release tag back to the previous image, restart, and tell Sleuth; no migration."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, RECORD_HELP, boundary, changing, run_plan, say, seconds, settings


@task(
    help={
        "env": "environment to roll back",
        "timeout": "seconds the rollout may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
        "record": RECORD_HELP,
    }
)
def rollback(c, env, timeout=None, break_lock=False, record=None):
    """Put the release tag back on <release_tag>-previous, restart the services and wait; runs no migration."""
    with boundary():
        config = settings(c)
        environment = config.environment(env)
        limit = seconds(timeout)
        from .core import planner
        from .core.checks import run_checks
        from .core.steps.notify import Notify
        from .core.steps.retag import Retag

        # the rollout and the smoke check, and after a failure the rollout back
        with changing(c, environment, task="rollback", record=record, timeout=limit, break_lock=break_lock,
                      put_back=True, smoke=True, notify=True) as target:
            plan = planner.rollback(target, preflight=run_checks(target), sleuth=config.sleuth)
            move = plan.step(Retag)
            notify = next((step for step in plan.steps if isinstance(step, Notify)), None)
            intro = [f"Rolling back {environment.name}; no migration runs (reversing one is the application's own job)"]
            took = run_plan(c, target, plan, intro)
            if took is None:
                return
            for line in planner.summary(target, plan, took, what=f"rolled back {environment.name}"):
                say(line)
            if notify is None:
                say(f"warning: Sleuth was not told: the previous image {move.source.short_digest} carries no tag with "
                    "its commit sha")
            else:
                for line in notify.report():
                    say(line)

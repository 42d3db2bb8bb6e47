"""`fab restart`: a rolling restart of the environment's services, waiting until each has really finished."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, boundary, changing, environment, is_dry, say, seconds, show_plan


@task(
    iterable=["service"],
    help={
        "env": "environment whose services to restart",
        "service": "restart only this service (repeatable; default: all of the environment's services)",
        "timeout": "seconds the rollout may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
    },
)
def restart(c, env, service=None, timeout=None, break_lock=False):
    """Force a new deployment of the services and wait until every rollout completes."""
    with boundary():
        environ = environment(c, env)
        limit = seconds(timeout)
        from .core.release import Plan, prepare_restart

        with changing(c, environ, task="restart", timeout=limit, break_lock=break_lock) as ctx:
            step = prepare_restart(ctx, service or ())
            plan = Plan(title=f"restart {', '.join(step.services)} in {environ.name}", steps=[step])
            if is_dry(c):
                show_plan(plan.render())
                return
            plan.execute(ctx)
            say(f"restarted {environ.name}: {step.states()}")

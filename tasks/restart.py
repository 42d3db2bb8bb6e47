"""`fab restart`: a rolling restart of the environment's services, waiting until each has really finished."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, RECORD_HELP, boundary, changing, environment_named, run_plan, say, seconds


@task(
    iterable=["service"],
    help={
        "env": "environment whose services to restart",
        "service": "restart only this service (repeatable; default: all of the environment's services)",
        "timeout": "seconds the rollout may take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
        "record": RECORD_HELP,
    },
)
def restart(c, env, service=None, timeout=None, break_lock=False, record=None):
    """Force a new deployment of the services and wait until every rollout completes."""
    with boundary():
        environment = environment_named(c, env)
        limit = seconds(timeout)
        from .core import planner
        from .core.clock import duration
        from .core.steps.restart import Restart

        with changing(c, environment, task="restart", record=record, timeout=limit, break_lock=break_lock) as target:
            plan = planner.restart(target, service or ())
            step = plan.step(Restart)
            took = run_plan(c, target, plan, ["==> preflight", *plan.preflight])
            if took is None:
                return
            verdict = "every task checked" if step.verified else "NOT verified: see each service below"
            say(f"restarted {environment.name} in {duration(took)}; {verdict}")
            for line in step.report():
                say(line)

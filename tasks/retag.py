"""`fab retag`: move the environment's release tag to an image CI pushed, recording the previous one."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, RECORD_HELP, boundary, changing, environment_named, run_plan, say


@task(
    help={
        "tag": "image tag to point the release tag at (an immutable tag CI pushed)",
        "env": "environment whose release tag moves",
        "break-lock": BREAK_LOCK_HELP,
        "record": RECORD_HELP,
    }
)
def retag(c, tag, env, break_lock=False, record=None):
    """Move the environment's release tag (e.g. latest) to the image with TAG; no restart."""
    with boundary():
        from .core.config import check_release_source
        environment = environment_named(c, env)
        tag = check_release_source(tag, environment)
        from .core import planner
        from .core.steps.retag import Retag

        # it waits for nothing
        with changing(c, environment, task="retag", record=record, break_lock=break_lock, waits=0) as target:
            plan = planner.retag(target, tag)
            step = plan.step(Retag)
            release = f"{environment.repository}:{environment.release_tag}"
            if run_plan(c, target, plan) is None:
                return
            say(
                f"{release} = {step.source.digest} (tag {tag}); services pick it up at their next deployment: "
                f"fab restart --env {environment.name}"
            )

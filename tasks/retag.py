"""`fab retag`: move the environment's release tag to an image CI pushed, recording the previous one."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, boundary, changing, environment, run_plan, say


@task(
    help={
        "tag": "image tag to point the release tag at (an immutable tag CI pushed)",
        "env": "environment whose release tag moves",
        "break-lock": BREAK_LOCK_HELP,
    }
)
def retag(c, tag, env, break_lock=False):
    """Move the environment's release tag (e.g. latest) to the image with TAG; no restart."""
    with boundary():
        from .core.config import check_release_source
        environ = environment(c, env)
        tag = check_release_source(tag, environ)
        from .core import planner
        from .core.plan import Plan

        with changing(c, environ, task="retag", break_lock=break_lock, waits=0) as target:  # it waits for nothing
            step = planner.retag(target, tag)
            plan = Plan(title=f"retag {environ.repository}:{environ.release_tag} for {environ.name}", steps=[step])
            if run_plan(c, target, plan) is None:
                return
            say(
                f"{environ.repository}:{environ.release_tag} = {step.source.digest} (tag {tag}); services pick it "
                f"up at their next deployment: fab restart --env {environ.name}"
            )

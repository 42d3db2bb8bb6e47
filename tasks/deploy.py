"""`fab deploy`: the whole release - retag, migrate, restart and wait, then notify."""

from invoke import task

from ._runtime import boundary, connect, environment, is_dry, say, seconds, show_plan
from .core.config import check_release_source, check_sha


@task(
    help={
        "sha": "git commit id of the build (7-40 hex characters)",
        "env": "environment to deploy to, as named under deploy.environments",
        "tag": "image tag CI pushed to ECR (default: the sha)",
        "timeout": "seconds the migration and the rollout may each take (default: deploy.timeout)",
    }
)
def deploy(c, sha, env, tag=None, timeout=None):
    """Deploy a CI-built image: move the release tag, migrate, restart services and wait for them."""
    with boundary():
        environ = environment(c, env)
        sha = check_sha(sha)
        tag = check_release_source(tag or sha, environ)
        limit = seconds(timeout)
        from .core import release

        ctx = connect(environ, limit)
        plan = release.prepare_deploy(ctx, sha=sha, tag=tag)
        if is_dry(c):
            show_plan(plan.render())
            return
        say(f"Deploying {sha} ({environ.repository}:{tag}) to {environ.name}")
        plan.execute(ctx)
        say(release.summary(ctx, plan, sha=sha, tag=tag))

"""`fab deploy`: the whole release - preflight, retag, migrate, restart and wait, then notify."""

from invoke import task

from ._runtime import BREAK_LOCK_HELP, boundary, changing, is_dry, say, seconds, settings, show_plan


@task(
    help={
        "sha": "git commit id of the build (7-40 hex characters)",
        "env": "environment to deploy to, as named under deploy.environments",
        "tag": "image tag CI pushed to ECR (default: the sha)",
        "timeout": "seconds the migration and the rollout may each take (default: deploy.timeout)",
        "break-lock": BREAK_LOCK_HELP,
    }
)
def deploy(c, sha, env, tag=None, timeout=None, break_lock=False):
    """Deploy a CI-built image: move the release tag, migrate, restart services and wait for them."""
    with boundary():
        from .core.config import check_release_source, check_sha
        config = settings(c)
        environ = config.environment(env)
        sha = check_sha(sha)
        tag = check_release_source(tag or sha, environ)
        limit = seconds(timeout)
        from .core import release
        from .core.checks import run_checks
        from .core.commits import check_commit
        from .core.sleuth import Notify

        # it may wait for the migration, the rollout and, after a failure, the rollout back: three timeouts
        with changing(c, environ, task="deploy", sha=sha, timeout=limit, break_lock=break_lock, waits=3) as ctx:
            preflight = run_checks(ctx)
            preflight.require()
            # the sha is what Sleuth is told: the image's own tags must not say another commit
            detail = ctx.registry.describe(ctx.registry.require(tag).digest)
            notice = check_commit(sha, detail.tags if detail else ())
            notify = Notify.prepare(environ, config.sleuth, sha=sha, tag=tag, ecr=ctx.registry.client)
            plan = release.prepare_deploy(ctx, sha=sha, tag=tag, preflight=preflight, notify=notify)
            if is_dry(c):
                show_plan(plan.render() + ([notice] if notice else []))
                return
            say(f"Deploying {sha} ({environ.repository}:{tag}) to {environ.name}")
            if notice:
                say(notice)
            say("==> preflight")
            show_plan(preflight.lines())
            plan.execute(ctx)
            say(release.summary(ctx, plan, sha=sha, tag=tag))
            for line in notify.report():  # the last lines: the Sleuth registration, or the warning
                say(line)

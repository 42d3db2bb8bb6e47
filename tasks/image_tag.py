"""`fab image-tag`: the immutable tag CI pushes a commit's build under: a new one, or, with --find, the one ECR holds.

CI's build-image job captures the output of the first, and the deploy job after an approval the second, so the
tag is all that goes to stdout. The first needs no config and no AWS; --find asks ECR (with --env, the
environment's repository, region and account guard; with --repository, boto3's own region).
"""

from invoke import task

from . import _runtime
from ._runtime import boundary, environment_named, open_target, say
from .core.errors import DeployError


@task(
    auto_shortflags=False,  # -f would read as fab's own -f (a runtime config file) to a person
    help={
        "sha": "git commit id being built, or whose build to find (7-40 hex characters)",
        "find": "print the newest build tag on the image CI pushed under the full sha, read from ECR",
        "env": "with --find: look in this environment's repository (deploy.environments)",
        "repository": "with --find: look in this ECR repository (its name) instead",
    }
)
def image_tag(c, sha, find=False, env=None, repository=None):
    """Print the image tag for SHA built now (YYYYMMDD.HHMMSS-<short sha>, UTC); --find: the one ECR holds."""
    with boundary():
        from .core.config import check_sha

        if not find:
            if env or repository:
                raise DeployError("--env and --repository go with --find: fab image-tag --sha SHA --find --env ENV")
            from .core.build_tag import build_tag

            say(build_tag(sha, _runtime.make_clock().now()))
            return
        sha = check_sha(sha)
        if bool(env) == bool(repository):
            raise DeployError("fab image-tag --find needs one of --env ENV or --repository NAME: where to look")
        from .core.commits import find_build

        if env:
            registry = open_target(environment_named(c, env)).registry
        else:
            from .core.aws import clients_for
            from .core.config import check_repository
            from .core.ecr import Registry

            registry = Registry(clients_for(None).ecr, check_repository(repository))
        say(find_build(registry, sha))

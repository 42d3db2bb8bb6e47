"""`fab image-tag`: print the immutable tag CI pushes for a commit, built now (UTC).

CI's build-image job captures the output, so it is the tag alone on stdout. No config or AWS is needed.
"""

from invoke import task

from . import _runtime
from ._runtime import boundary, say


@task(help={"sha": "git commit id being built (7-40 hex characters)"})
def image_tag(c, sha):
    """Print the image tag for SHA built now: YYYYMMDD.HHMMSS-<short sha>, in UTC."""
    with boundary():
        from .core.build_tag import build_tag

        say(build_tag(sha, _runtime.make_clock().now()))

"""The immutable image tag CI pushes: `YYYYMMDD.HHMMSS-<short sha>`, e.g. `20261126.060512-abc1234`.

Computed here and nowhere else: CI's build-image job prints it with `fab image-tag --sha SHA` and hands
it to the deploy jobs through the workspace. Assumptions: the time is the build time in UTC (an aware
datetime; a naive one is a bug, not input), and the short sha is the first 7 hex digits, git's default.
Tags made this way sort by build time, so `describe-images` listings read as a history. commits.py's
`BUILD_TAG` reads them back (which commit an image was built from; `fab image-tag --find`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from .config import check_sha, check_tag

SHORT_SHA_LENGTH = 7
_FORMAT = "%Y%m%d.%H%M%S"


def build_tag(sha: str, built_at: datetime) -> str:
    """The release tag for commit `sha` built at `built_at`; `DeployError` for a malformed sha."""
    commit = check_sha(sha)
    if built_at.tzinfo is None or built_at.utcoffset() is None:
        raise ValueError(f"build time {built_at.isoformat()} has no time zone: pass an aware datetime")
    stamp = built_at.astimezone(timezone.utc).strftime(_FORMAT)
    return check_tag(f"{stamp}-{commit[:SHORT_SHA_LENGTH]}", "image tag")

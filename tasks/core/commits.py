"""Which commit an image was built from, read from the tags CI pushed it under; no AWS but through the
ECR gateway `find_build` is given.

Assumptions: CI pushes each build under immutable tags that name its commit: the full sha, a short sha
(7 or more hex digits), or the build tag `YYYYMMDD.HHMMSS-<sha7>` (`fab image-tag`). An image may carry
several (one digest built from two commits whose trees are equal, a re-pushed build), so a commit agrees
with the image when it matches any of them. A prefix match either way is a match: `--sha abc1234` names
the same commit as a tag `abc1234def...`, and a full `--sha` matches a short tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import DeployError

if TYPE_CHECKING:
    from .ecr import Registry

# The build tag CI pushes (`fab image-tag`, build_tag.py makes it): UTC build time, then the short sha.
BUILD_TAG = re.compile(r"^(?P<date>\d{8})\.(?P<time>\d{6})-(?P<sha>[0-9a-f]{7,40})$")
_SHA_TAG = re.compile(r"^[0-9a-f]{7,40}$")


def commits_named(tags: Iterable[str]) -> list[tuple[str, str]]:
    """Every (sha, tag) the tags name, the most telling first: the longest sha, then sha tags before build tags."""
    named = [(len(t), 1, t, t) for t in tags if _SHA_TAG.match(t)]
    named += [(len(m["sha"]), 0, m["sha"], t) for t in tags if (m := BUILD_TAG.match(t))]
    return [(sha, tag) for *_, sha, tag in sorted(named, reverse=True)]


def commit_from_tags(tags: Iterable[str]) -> tuple[str, str] | None:
    """(sha, tag) of the commit the tags name: the full sha tag wins, else a short-sha or build tag; None if none."""
    named = commits_named(tags)
    return named[0] if named else None


def same_commit(one: str, other: str) -> bool:
    """Two commit ids name the same commit when one is a prefix of the other (both at least 7 hex digits)."""
    one, other = one.lower(), other.lower()
    return one.startswith(other) or other.startswith(one)


def check_commit(sha: str, tags: Iterable[str]) -> str | None:
    """Refuse a `--sha` that the image's own tags contradict; a notice when they name no commit, else None.

    Why: the sha is what Sleuth is told was deployed; a wrong one puts the change on the wrong commit.
    """
    tags = tuple(tags)
    named = commits_named(tags)
    if not named:
        shown = ", ".join(tags) or "none"
        return (f"note: the image's tags ({shown}) name no commit, so --sha {sha} cannot be checked against it; "
                f"it is deployed and registered as {sha}")
    if any(same_commit(sha, commit) for commit, _ in named):
        return None
    commit, tag = named[0]
    raise DeployError(
        f"--sha {sha} contradicts the image: its tag {tag} says it was built from commit {commit}; pass "
        f"--sha {commit}, or the --tag of the build of {sha}"
    )


def builds_of(sha: str, tags: Iterable[str]) -> list[str]:
    """The build tags among `tags` that name commit `sha`, oldest first (they sort by build time)."""
    return sorted(t for t in tags if (m := BUILD_TAG.match(t)) and same_commit(sha, m["sha"]))


def find_build(registry: Registry, sha: str) -> str:
    """The newest build tag on the image CI pushed under the full `sha`: what a deploy job passes as --tag.

    Why by the sha tag: a deploy held at an approval for up to 90 days outlives the CI workspace that carried
    the build tag (15 days), while the image keeps both tags, so ECR still knows which build it was.
    """
    image = f"{registry.repository}:{sha}"
    detail = registry.describe_tag(sha)
    if detail is None:
        raise DeployError(f"no image {image} in ECR: build-image pushes each main commit under its full sha; "
                          "re-run build-image for this commit (a new pipeline on it), then this job")
    builds = builds_of(sha, detail.tags)
    if not builds:
        raise DeployError(f"{image} has no build tag YYYYMMDD.HHMMSS-{sha[:7]} on the same image (its tags: "
                          f"{', '.join(detail.tags) or 'none'}): push this commit with build-image again")
    return builds[-1]

"""The retag step: move the release tag to the new image, recording where it pointed as `<release_tag>-previous`.

Assumptions: services run `repository:release_tag`, and ECS resolves that tag to a digest when it creates a
deployment, so moving the tag changes nothing that runs until the restart. `-previous` is written before the
release tag moves (a failure half-way must still be put back), and only when the tag really moves, so a re-run
keeps the true previous. Its put-back returns both tags where they were, or removes them where they did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import Environment
from ..ecr import Image, delete_command, put_command, short
from . import Step

if TYPE_CHECKING:
    from ..target import Target


@dataclass
class Retag(Step):
    env: Environment
    source: Image
    current: Image | None  # where the release tag points before this run (None: first deploy)
    previous: Image | None = None  # where `-previous` pointed before this run
    record_previous: bool = True  # a rollback moves back to -previous and leaves it as it is
    name: str = "retag"
    moved: bool = False  # set before each write: a failure half-way must still be put back
    recorded: bool = False
    landed: bool = False  # the release tag's move was confirmed by ECR
    release_restored: bool = False
    previous_restored: bool = False

    @property
    def unchanged(self) -> bool:
        return self.current is not None and self.current.digest == self.source.digest

    @property
    def _release(self) -> str:
        return f"{self.env.repository}:{self.env.release_tag}"

    def describe(self) -> list[str]:
        tag, repo = self.env.release_tag, self.env.repository
        if self.unchanged:
            return [f"{repo}:{tag} already points at {self.source.short_digest} ({self.source.tag}): nothing to move"]
        lines = [f"move {repo}:{tag} {short(self.current and self.current.digest)} -> {self.source.short_digest} "
                 f"({self.source.tag})"]
        if self.current is None:
            lines.append(f"first deploy: {repo}:{tag} does not exist yet, so there is no previous image to record")
        elif self.record_previous:
            lines.append(f"record {self.current.short_digest} as {repo}:{self.env.previous_tag}")
        return lines

    def run(self, target: Target) -> None:
        for line in self.describe():
            target.say(f"    {line}")
        if self.unchanged:
            return
        if self.current is not None and self.record_previous:
            self.recorded = True
            target.registry.point(self.env.previous_tag, self.current)
        self.moved = True
        target.registry.point(self.env.release_tag, self.source)
        self.landed = True

    def put_back(self, target: Target) -> None:
        env = self.env
        if self.moved and not self.release_restored:
            self._return(target, env.release_tag, self.current, " (this was its first deploy)")
            self.release_restored = True
        if self.recorded and not self.previous_restored:
            self._return(target, env.previous_tag, self.previous)
            self.previous_restored = True

    def _return(self, target: Target, tag: str, image: Image | None, first: str = "") -> None:
        """`tag` on `image` again, or removed where there was none before."""
        if image is None:
            target.registry.remove(tag)
            target.say(f"    {self.env.repository}:{tag} removed again{first}")
        else:
            target.registry.point(tag, image)
            target.say(f"    {self.env.repository}:{tag} restored to {image.short_digest}")

    def by_hand(self, target: Target) -> list[str]:
        env, commands = self.env, []
        if self.moved and not self.release_restored:
            commands.append(put_command(env.repository, env.release_tag, self.current.digest) if self.current
                            else delete_command(env.repository, env.release_tag))
        if self.recorded and not self.previous_restored:
            commands.append(put_command(env.repository, env.previous_tag, self.previous.digest) if self.previous
                            else delete_command(env.repository, env.previous_tag))
        return commands

    def state(self, target: Target) -> list[str]:
        was = short(self.current.digest) if self.current else "no image (first deploy)"
        if self.unchanged:
            return [f"release tag: {self._release} = {self.source.short_digest}, unchanged"]
        if not self.moved:
            return [f"release tag: {self._release} not moved ({was})"]
        if self.release_restored:
            line = f"release tag: {self._release} = {was}, as before"
        elif not self.landed:
            line = f"release tag: {self._release} may have moved to {self.source.short_digest} (was {was})"
        else:
            line = f"release tag: {self._release} = {self.source.short_digest} (was {was})"
        if self.recorded and self.previous_restored:
            before = short(self.previous.digest) if self.previous else "none"
            line += f"; {self.env.previous_tag} = {before}, as before"
        elif self.recorded:
            line += f"; {self.env.previous_tag} = {short(self.current and self.current.digest)}"
        return [line]

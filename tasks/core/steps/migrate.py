"""The migrate step: the migration task on the new image, watched to the end (see migration.py).

Assumptions: a migration is never reversed by this tool (a down-migration is the application's own job), so
its put-back changes nothing; what the report says instead is the truth an operator needs: whether a migration
task is still running against the database, and that the restored image must work with a schema that was
migrated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import migration
from ..config import Environment
from ..ecr import Image, short
from ..ecs import Task
from . import Step

if TYPE_CHECKING:
    from ..target import Target


@dataclass
class Migrate(Step):
    env: Environment
    spec: migration.MigrationSpec | None  # None: no migration command for this environment
    name: str = "migrate"
    image: Image | None = None  # the release image it runs on, where the plan read it (fab migrate)
    task: Task | None = None
    result: migration.MigrationResult | None = None

    def describe(self) -> list[str]:
        if self.spec is None:
            return [f"skipped: no migrate.command configured for environment {self.env.name!r}"]
        return self.spec.describe()

    def run(self, target: Target) -> None:
        if self.spec is None:
            target.say(f"    {self.describe()[0]}")
            return
        target.say(f"    {self.spec.describe()[0]}")
        self.task = migration.start(self.spec, target.cluster, say=target.say)
        self.result = migration.follow(
            self.spec, self.task, target.cluster, target.logs.stream, target.clock,
            timeout=target.timeout, interval=target.interval, say=target.say, on_task=self._seen,
        )
        target.say(f"    migration exited 0 after {self.result.seconds:.0f}s{self._image()}")

    def _seen(self, task: Task) -> None:
        self.task = task

    def _image(self) -> str:
        container = self.task.container(self.spec.container) if self.task and self.spec else None
        return f", on {short(container.image_digest)}" if container and container.image_digest else ""

    def by_hand(self, target: Target) -> list[str]:
        if self.task is not None and self.task.last_status != "STOPPED":
            return [migration.stop_command(self.env.cluster, self.task.id) + "   # only if it must not finish"]
        return []

    def state(self, target: Target) -> list[str]:
        if self.task is None:
            return []
        if self.task.last_status != "STOPPED":
            return [f"migration task {self.task.id} is still running in ECS; watch it in the console or stop it: "
                    f"{migration.stop_command(self.env.cluster, self.task.id)}"]
        if self.result is not None:
            return [f"migration: ran to the end{self._image().replace(',', '')}; it is not reversed: the image put "
                    "back must work with the migrated schema"]
        return [f"migration: task {self.task.id} failed; whatever it changed before failing is not reversed"]

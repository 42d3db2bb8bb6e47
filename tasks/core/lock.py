"""The deploy lock: one run at a time changes an environment, from any laptop or CI job.

Assumptions: the lock is an SSM parameter created with `Overwrite=False`, which AWS creates atomically
(the loser gets ParameterAlreadyExists), so two machines cannot both hold it. Its value says who holds it,
from where, for which sha and since when, and carries a random token so a run only ever deletes its own
lock. A lock older than the environment's timeout may be broken, and only with an explicit flag. Reads
(status, check, --dry) take no lock.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import calling, error_code, translate
from .clock import Clock
from .config import Environment
from .errors import DeployError


def parameter_name(env: Environment) -> str:
    return env.lock_parameter or f"/fab-deploy/{env.cluster}/{env.name}/lock"


@dataclass(frozen=True)
class Holder:
    who: str
    where: str
    task: str
    sha: str
    since: str  # ISO 8601, UTC
    token: str

    def describe(self, now: datetime | None = None) -> str:
        age = ""
        if now is not None:
            seconds = self.age(now)
            age = f", {seconds / 60:.0f} min ago" if seconds is not None else ""
        sha = f" of {self.sha}" if self.sha else ""
        return f"{self.who} ({self.where}) running {self.task}{sha} since {self.since}{age}"

    def age(self, now: datetime) -> float | None:
        try:
            return (now - datetime.fromisoformat(self.since)).total_seconds()
        except ValueError:
            return None


def whoami() -> tuple[str, str]:
    """Who runs this and from where, as a person reading the lock would want it."""
    who = os.environ.get("CIRCLE_USERNAME") or os.environ.get("USER") or _login()
    where = os.environ.get("CIRCLE_BUILD_URL") or socket.gethostname()
    return who, where


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class DeployLock:
    """Take, inspect and release one environment's lock."""

    def __init__(self, client: Any, env: Environment, clock: Clock) -> None:
        self.client = client
        self.env = env
        self.clock = clock
        self.name = parameter_name(env)
        self.held: Holder | None = None

    def holder(self) -> Holder | None:
        try:
            response = self.client.get_parameter(Name=self.name)
        except ClientError as err:
            if error_code(err) == "ParameterNotFound":
                return None
            raise translate(err, "ssm:GetParameter") from err
        except BotoCoreError as err:
            raise translate(err, "ssm:GetParameter") from err
        try:
            raw = json.loads(response["Parameter"]["Value"])
            return Holder(**{k: str(raw.get(k, "")) for k in Holder.__dataclass_fields__})
        except (ValueError, TypeError):
            return Holder("unknown", "unknown", "unknown", "", "", "")

    def acquire(self, task: str, sha: str = "", *, break_stale: bool = False) -> Holder:
        who, where = whoami()
        mine = Holder(who, where, task, sha, self.clock.now().isoformat(timespec="seconds"), uuid.uuid4().hex)
        if self._create(mine):
            self.held = mine
            return mine
        other = self.holder()
        if other is None:  # released between our two calls: one more try
            if self._create(mine):
                self.held = mine
                return mine
            other = self.holder() or Holder("unknown", "unknown", "unknown", "", "", "")
        age = other.age(self.clock.now())
        stale = age is not None and age > self.env.timeout
        if break_stale and stale:
            with calling("ssm:DeleteParameter"):
                self.client.delete_parameter(Name=self.name)
            if self._create(mine):
                self.held = mine
                return mine
            other = self.holder() or other
        hint = (
            f"it is older than the timeout ({self.env.timeout:.0f}s): if that run is dead, run again with --break-lock"
            if stale
            else "wait for it to finish (fab status --env " + self.env.name + ")"
        )
        raise DeployError(f"environment {self.env.name!r} is locked by {other.describe(self.clock.now())}; {hint}")

    def release(self) -> str | None:
        """Delete the lock if it is still ours; return a warning when it is not."""
        if self.held is None:
            return None
        current = self.holder()
        held, self.held = self.held, None
        if current is None:
            return f"the deploy lock {self.name} was already gone (someone broke it)"
        if current.token != held.token:
            return f"the deploy lock is now held by {current.describe()}: left in place"
        with calling("ssm:DeleteParameter"):
            self.client.delete_parameter(Name=self.name)
        return None

    def _create(self, holder: Holder) -> bool:
        try:
            self.client.put_parameter(
                Name=self.name,
                Value=json.dumps(asdict(holder)),
                Type="String",
                Overwrite=False,
                Description="fab deploy lock: delete only if the run that holds it is dead",
            )
        except ClientError as err:
            if error_code(err) == "ParameterAlreadyExists":
                return False
            raise translate(err, "ssm:PutParameter") from err
        except BotoCoreError as err:
            raise translate(err, "ssm:PutParameter") from err
        return True

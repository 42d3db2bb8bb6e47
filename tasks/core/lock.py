"""The deploy lock: one run at a time changes an environment, from any laptop or CI job.

Assumptions: the lock is an SSM parameter created with `Overwrite=False`, which AWS creates atomically
(the loser gets ParameterAlreadyExists), so two machines cannot both hold it. Its value says who holds it,
from where, for which sha, since when and until when (its deadline: the start plus that run's own budget,
its waits each up to its timeout, plus a margin), and carries a random id so a run only ever deletes its
own lock. `--break-lock` takes a lock only once its holder's deadline has passed: a run that is still
within its budget may be alive, whatever the breaker's own timeout. A lock written by an older version
has no deadline; it is taken to last as long as this version's longest run at the environment's timeout
(`FALLBACK_WAITS` waits plus the margin), and the messages say so. `fab unlock` frees a lock whose holder
was killed, given that holder's id, so it never frees a newer lock. SSM has no conditional delete: between
reading the holder and deleting it lies one request, in which only another breaker could free and retake
the lock. Reads (status, check, --dry) take no lock.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .aws import AwsError, call
from .clock import Clock
from .config import Environment
from .errors import DeployError


def parameter_name(env: Environment) -> str:
    return env.lock_parameter or f"/fab-deploy/{env.cluster}/{env.name}/lock"


MARGIN = 300.0  # seconds beyond a run's waits: preflight reads, AWS retries, Sleuth's retry budget
FALLBACK_WAITS = 3  # a lock without a deadline: as long as a deploy (migration, rollout, put-back rollout)


def budget(timeout: float, waits: int) -> float:
    """How long a run may hold the lock: `waits` waits of up to `timeout` seconds each, plus the margin."""
    return waits * timeout + MARGIN


@dataclass(frozen=True)
class Holder:
    who: str
    where: str
    task: str
    sha: str
    since: str  # ISO 8601, UTC
    token: str  # the holder id: `fab unlock --holder` takes it
    deadline: str = ""  # ISO 8601, UTC; empty in a lock written by an older version

    @property
    def id(self) -> str:
        return self.token

    def describe(self, now: datetime | None = None) -> str:
        age = ""
        if now is not None:
            seconds = self.age(now)
            age = f", {seconds / 60:.0f} min ago" if seconds is not None else ""
        sha = f" of {self.sha}" if self.sha else ""
        return f"{self.who} ({self.where}) running {self.task}{sha} since {self.since}{age}"

    def age(self, now: datetime) -> float | None:
        started = _moment(self.since)
        return None if started is None else (now - started).total_seconds()


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
    """Take, inspect, release and free one environment's lock."""

    def __init__(self, client: Any, env: Environment, clock: Clock) -> None:
        self.client = client
        self.env = env
        self.clock = clock
        self.name = parameter_name(env)
        self.held: Holder | None = None
        self.taken: Holder | None = None  # the lock `acquire` took over with break_stale, if it did

    def holder(self) -> Holder | None:
        try:
            response = call("ssm:GetParameter", self.client.get_parameter, Name=self.name)
        except AwsError as err:
            if err.code == "ParameterNotFound":
                return None
            raise
        value = str(response["Parameter"]["Value"])
        # a value that is not ours, or is damaged, gets an id made from its content, so `fab unlock` frees
        # exactly that value and nothing written after it
        content_id = "x" + hashlib.sha256(value.encode()).hexdigest()[:11]
        try:
            raw = json.loads(value)
            holder = Holder(**{k: str(raw.get(k) or "") for k in Holder.__dataclass_fields__})
        except (ValueError, TypeError, AttributeError):
            return Holder("unknown", "unknown", "unknown", "", "", content_id)
        return holder if holder.token else replace(holder, token=content_id)

    def deadline(self, holder: Holder) -> tuple[datetime | None, str]:
        """When `holder`'s run is past its budget, and how that is known (said in messages)."""
        recorded = _moment(holder.deadline)
        if recorded is not None:
            return recorded, "its deadline"
        started = _moment(holder.since)
        if started is None:
            return None, "no deadline (the lock's value is unreadable)"
        assumed = started + timedelta(seconds=budget(self.env.timeout, FALLBACK_WAITS))
        return assumed, (f"a deadline assumed for a lock from an older version, which records none: its start plus "
                         f"{FALLBACK_WAITS} x the environment's timeout ({self.env.timeout:.0f}s) plus "
                         f"{MARGIN:.0f}s")

    def acquire(self, task: str, sha: str = "", *, hold: float, break_stale: bool = False) -> Holder:
        """Take the lock for `hold` seconds; with `break_stale`, take over a lock past its holder's deadline."""
        who, where = whoami()
        now = self.clock.now()
        mine = Holder(who, where, task, sha, _iso(now), uuid.uuid4().hex[:12], _iso(now + timedelta(seconds=hold)))
        if self._create(mine):
            self.held = mine
            return mine
        other = self.holder()
        if other is None:  # released between our two calls: one more try
            if self._create(mine):
                self.held = mine
                return mine
            other = self.holder() or Holder("unknown", "unknown", "unknown", "", "", "")
        deadline, known = self.deadline(other)
        past = deadline is not None and self.clock.now() > deadline
        if break_stale and past:
            call("ssm:DeleteParameter", self.client.delete_parameter, Name=self.name)
            if self._create(mine):
                self.held, self.taken = mine, other
                return mine
            other = self.holder() or other
            deadline, known = self.deadline(other)
        raise DeployError(f"environment {self.env.name!r} is locked by {self.locked_by(other)}; "
                          + self._advice(other, deadline, known, break_stale))

    def extend(self, seconds: float) -> None:
        """Push our lock's deadline `seconds` later (a plan whose rollouts bake longer than the timeout); a lock
        that is no longer ours is left alone."""
        if self.held is None or seconds <= 0:
            return
        current = self.holder()
        if current is None or current.token != self.held.token:
            return
        deadline = (_moment(self.held.deadline) or self.clock.now()) + timedelta(seconds=seconds)
        longer = replace(self.held, deadline=_iso(deadline))
        call("ssm:PutParameter", self.client.put_parameter, Name=self.name, Value=json.dumps(asdict(longer)),
             Type="String", Overwrite=True)
        self.held = longer

    def locked_by(self, holder: Holder) -> str:
        """Who holds the lock, since and until when, and its id: everything `fab unlock` asks for."""
        deadline, _ = self.deadline(holder)
        until = f", until {_iso(deadline)}" if deadline is not None and holder.deadline else ""
        return f"{holder.describe(self.clock.now())}{until} (holder id {holder.id or '?'})"

    def _advice(self, holder: Holder, deadline: datetime | None, known: str, break_stale: bool) -> str:
        unlock = f"fab unlock --env {self.env.name} --holder {holder.id}"
        if deadline is None:
            return f"it records no deadline, so --break-lock cannot judge it; if that run is dead: {unlock}"
        minutes = (deadline - self.clock.now()).total_seconds() / 60
        if minutes < 0:
            return (f"it is past {known} ({_iso(deadline)}, {-minutes:.0f} min ago): if that run is dead, run "
                    f"again with --break-lock, or free it: {unlock}")
        wait = f"wait for it to finish (fab status --env {self.env.name}); if that run was killed, free it: {unlock}"
        if break_stale:
            return (f"--break-lock takes a lock only after {known}, {_iso(deadline)} (in {minutes:.0f} min): that "
                    f"run may still be alive; {wait}")
        return wait

    def free(self, holder_id: str, *, delete: bool = True) -> Holder | None:
        """Free the lock of a run that is gone, when `holder_id` is its holder's: None when there is no lock.

        A different id means the lock now belongs to another run: refused, whatever the deadline says.
        """
        current = self.holder()
        if current is None:
            return None
        if not holder_id or holder_id != current.id:
            raise DeployError(
                f"the deploy lock of {self.env.name!r} is held by {self.locked_by(current)}, not by holder "
                f"{holder_id!r}: nothing freed. If that run is dead too: fab unlock --env {self.env.name} --holder "
                f"{current.id}"
            )
        if delete:
            call("ssm:DeleteParameter", self.client.delete_parameter, Name=self.name)
        return current

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
        call("ssm:DeleteParameter", self.client.delete_parameter, Name=self.name)
        return None

    def _create(self, holder: Holder) -> bool:
        try:
            call("ssm:PutParameter", self.client.put_parameter, Name=self.name, Value=json.dumps(asdict(holder)),
                 Type="String", Overwrite=False,
                 Description="fab deploy lock: free it with fab unlock only if the run that holds it is dead")
        except AwsError as err:
            if err.code == "ParameterAlreadyExists":
                return False
            if err.transient and err.applied is None:  # the answer was lost: the lock may be ours all the same
                try:
                    landed = self.holder()
                except AwsError:
                    landed = None
                if landed is not None and landed.token == holder.token:
                    return True
            raise
        return True


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _moment(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None

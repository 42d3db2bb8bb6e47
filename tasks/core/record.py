"""The deploy record: what one changing run did, as JSON, written at its end whatever its outcome.

Assumptions: the executor notes each step's start, duration and outcome, and each put-back's outcome, in the
run's `Journal` (timed with the run's injected clock); the task boundary (`tasks/_runtime.py`) builds the record
once the run is over: on success, on failure, on a refusal, and after Ctrl-C or SIGTERM. Its field names are
those of `fab status --json` where both say the same thing (`environment`, `repository`, `cluster`,
`release_tag` as `{tag, digest}`, and `who`/`where` as the deploy lock names its holder). A record holds no
secret: it is built from names, digests, messages the core wrote (already free of secrets) and CI's job URL.
Writing it is never what fails a run: a file that cannot be written is a warning, and the record is printed
instead so it is not lost.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock

if TYPE_CHECKING:
    from .plan import Plan
    from .target import Target

VERSION = 1
SUCCEEDED, FAILED, INTERRUPTED, REFUSED = "succeeded", "failed", "interrupted", "refused"
# what became of a put-back, as `put_back.outcome` says it (None: nothing failed, so nothing was to put back);
# after Ctrl-C or SIGTERM during a step nothing is put back ("not attempted")
COMPLETE, INCOMPLETE, LEFT, STOPPED, NOT_ATTEMPTED = "complete", "incomplete", "left", "interrupted", "not attempted"


@dataclass
class StepEntry:
    name: str
    started_at: str
    started: float  # the clock's monotonic reading, for the duration
    seconds: float | None = None
    outcome: str = "running"  # done, failed, interrupted
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "started_at": self.started_at,
                "seconds": None if self.seconds is None else round(self.seconds, 3),
                "outcome": self.outcome, "error": self.error}


@dataclass
class Journal:
    """What the executor saw, in the order it happened; empty until a plan runs."""

    plan: Plan | None = None
    steps: list[StepEntry] = field(default_factory=list)
    put_back: list[dict[str, Any]] = field(default_factory=list)  # each: name, outcome (put back/failed/not reached)
    put_back_outcome: str | None = None  # None: nothing failed, so nothing was to be put back

    def begin(self, name: str, clock: Clock) -> StepEntry:
        entry = StepEntry(name, iso(clock.now()), clock.monotonic())
        self.steps.append(entry)
        return entry

    def end(self, entry: StepEntry, outcome: str, clock: Clock, error: str | None = None) -> None:
        entry.seconds, entry.outcome, entry.error = clock.monotonic() - entry.started, outcome, error

    def put_back_step(self, name: str, outcome: str, error: str | None = None) -> None:
        self.put_back.append({"name": name, "outcome": outcome, "error": error})


@dataclass(frozen=True)
class Outcome:
    """How the run ended, as the task boundary saw it."""

    result: str  # SUCCEEDED, FAILED, INTERRUPTED or REFUSED
    exit_status: int
    error: str | None = None


def outcome_of(error: BaseException | None) -> Outcome:
    """The outcome of a run that raised `error` (None: it succeeded)."""
    from .errors import DeployError, Interrupted, stop_status

    if error is None:
        return Outcome(SUCCEEDED, 0)
    if isinstance(error, Interrupted):
        return Outcome(INTERRUPTED, error.exit_code, str(error))
    if isinstance(error, KeyboardInterrupt):
        how, code = stop_status(error)
        return Outcome(INTERRUPTED, code, f"stopped by {how}")
    if isinstance(error, DeployError):
        return Outcome(FAILED, error.exit_code, str(error))
    return Outcome(FAILED, 1, f"unexpected {type(error).__name__}: {error}")


def build(target: Target, *, task: str, sha: str, started_at: datetime, seconds: float, outcome: Outcome,
          who: tuple[str, str], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The record of a run that has ended."""
    environ = dict(os.environ) if environ is None else environ
    env, journal = target.env, target.journal
    ran = journal.plan is not None and bool(journal.steps)
    result = outcome.result
    if result == FAILED and not ran:
        result = REFUSED  # refused before any change: a failed preflight, a held lock, a missing image
    before, after, tag = _digests(target)
    remaining = [s.name for s in journal.plan.steps[len(journal.steps):]] if journal.plan else []
    steps = [s.as_dict() for s in journal.steps] + [
        {"name": name, "started_at": None, "seconds": None, "outcome": "not started", "error": None}
        for name in remaining]
    job_url = environ.get("CIRCLE_BUILD_URL") or None
    return {
        "record_version": VERSION,
        "task": task,
        "environment": env.name,
        "repository": env.repository,
        "cluster": env.cluster,
        "sha": sha or None,
        "tag": tag,
        "release_tag": {"tag": env.release_tag, "digest": after},
        "release_tag_before": {"tag": env.release_tag, "digest": before},
        "started_at": iso(started_at),
        "seconds": round(seconds, 3),
        "steps": steps,
        "put_back": {"outcome": journal.put_back_outcome, "on_failure": env.on_failure, "steps": journal.put_back},
        "who": who[0],
        "where": who[1],
        "ci_job_url": job_url,
        "result": result,
        "verified": _verified(target) if result == SUCCEEDED else None,
        "exit_status": outcome.exit_status,
        "error": outcome.error,
        "notified": [],
    }


def _digests(target: Target) -> tuple[str | None, str | None, str | None]:
    """(before, after, tag): the release tag's digest before and after the run, and the image tag it moved to,
    from what the steps know; ECR is asked only where a move's outcome is not known (a write that failed)."""
    from .steps.migrate import Migrate
    from .steps.restart import Restart
    from .steps.retag import Retag

    plan = target.journal.plan
    if plan is None:
        return None, None, None
    by_type = {type(step): step for step in plan.steps}
    move = by_type.get(Retag)
    if isinstance(move, Retag):
        before = move.current.digest if move.current else None
        if not move.moved or move.unchanged:
            after: str | None = before
        elif move.release_restored:
            after = before
        elif move.landed:
            after = move.source.digest
        else:
            after = _read(target)
        return before, after, move.source.tag
    restart, migrate = by_type.get(Restart), by_type.get(Migrate)
    digest = None
    if isinstance(restart, Restart) and restart.expect is not None:
        digest = restart.expect.digest
    elif isinstance(migrate, Migrate) and migrate.image is not None:
        digest = migrate.image.digest
    return digest, digest, None


def _verified(target: Target) -> bool | None:
    """Whether every task was seen running the expected image (None: the run restarted nothing)."""
    from .steps.restart import Restart

    plan = target.journal.plan
    restart = next((step for step in plan.steps if isinstance(step, Restart)), None) if plan else None
    return None if restart is None else restart.verified


def _read(target: Target) -> str | None:
    from .errors import DeployError

    try:
        image = target.registry.find(target.env.release_tag)
    except DeployError:
        return None
    return image.digest if image else None


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def write_file(record: dict[str, Any], path: str) -> str | None:
    """Write the record to `path` (its folder made if missing; replaced whole, never half-written); None, or the
    reason it could not be written."""
    target = Path(path).expanduser()
    text = json.dumps(record, indent=2) + "\n"
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            return f"{target} is a folder: give a file name"
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
        temporary = None
    except OSError as err:
        return f"{err.strerror or err} ({target})"
    finally:
        if temporary is not None:
            with suppress(OSError):
                os.unlink(temporary)
    return None


def failed_step(record: dict[str, Any]) -> dict[str, Any] | None:
    """The step that failed or was interrupted, if one did."""
    return next((s for s in record["steps"] if s["outcome"] in ("failed", "interrupted")), None)


def summary(record: dict[str, Any]) -> str:
    """One line a person reads: what ran, how it ended, what was put back."""
    what = f"{record['task']} of {record['sha']}" if record["sha"] else record["task"]
    line = f"{what} to {record['environment']} {record['result']} (exit {record['exit_status']})"
    step = failed_step(record)
    if step is not None:
        line += f" at {step['name']}"
    put_back = record["put_back"]["outcome"]
    if put_back:
        line += f"; put-back {put_back}"
    return line

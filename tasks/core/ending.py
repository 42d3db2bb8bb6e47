"""What happens once a changing run is over, whatever its outcome: its record is built; for a deploy or a
rollback, the notifiers of `deploy.notify` (notifier.py) are told how it ended, after a success and after a
failure alike; the record is added to the environment's history in SSM (history.py) when the run got as far as
changing something, and written to a file (`--record FILE`).

Assumptions: this runs while the run still holds the deploy lock, so no other run writes beside it. Nothing here
may change a run's outcome: each failure is a warning line, and the run's own outcome (said by the task boundary)
stays the last line. Ctrl-C or SIGTERM while this runs ends it quietly: the run is already over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import record as records
from .errors import DeployError

if TYPE_CHECKING:
    from .target import Target


class Ending:
    """Made when a changing run starts (its start time, who runs it), closed when it is over."""

    def __init__(self, target: Target, *, task: str, sha: str = "", record_file: str | None = None,
                 notify: bool = False, who: tuple[str, str] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        from .lock import whoami

        self.target = target
        self.task = task
        self.sha = sha
        self.record_file = record_file
        self.notify = notify
        self.who = who or whoami()
        self.environ = environ
        self.started_at: datetime = target.clock.now()
        self.started = target.clock.monotonic()
        self.record: dict[str, Any] | None = None

    def close(self, error: BaseException | None) -> None:
        """Build the record of a run that ended with `error` (None: success) and write it; never raises."""
        say = self.target.say
        try:
            self.record = records.build(
                self.target, task=self.task, sha=self.sha, started_at=self.started_at,
                seconds=self.target.clock.monotonic() - self.started, outcome=records.outcome_of(error),
                who=self.who, environ=dict(self.environ) if self.environ is not None else None)
            self._tell(self.record)
            self._append(self.record)
            self._write_file(self.record)
        except KeyboardInterrupt:
            return
        except Exception as err:  # a bug here must not hide the run's outcome
            say(f"warning: the deploy record was not written: unexpected {type(err).__name__}: {err}")

    def _tell(self, record: dict[str, Any]) -> None:
        """Sleuth's answer (its step ran in the plan), then each notifier of `deploy.notify` told; each outcome
        is said, and kept in the record's `notified`."""
        from .notifier import configured
        from .steps.notify import Notify

        plan = self.target.journal.plan
        for step in plan.steps if plan else []:
            if isinstance(step, Notify) and (step.answer is not None or step.problem is not None):
                record["notified"].append({"notifier": "Sleuth", "told": step.answer is not None,
                                           "answer": step.answer, "problem": step.problem})
        if not self.notify:
            return
        say = self.target.say
        notifiers, problems = configured(self.target.env.notify, self.environ)
        for name, problem in problems:
            record["notified"].append({"notifier": name, "told": False, "answer": None, "problem": problem})
            say(f"WARNING: {problem}")
        succeeded = record["result"] == records.SUCCEEDED
        for notifier in notifiers:
            if not (succeeded or notifier.on_failure):
                continue
            try:
                answer = notifier.tell(record, self.target.clock, say=say)
            except DeployError as err:
                record["notified"].append({"notifier": notifier.name, "told": False, "answer": None,
                                           "problem": str(err)})
                say(f"WARNING: {notifier.name} was NOT told that the {self.task} {record['result']}: {err}")
                continue
            except Exception as err:  # a notification must never change the run's outcome
                problem = notifier.scrub(f"unexpected {type(err).__name__}: {err}")
                record["notified"].append({"notifier": notifier.name, "told": False, "answer": None,
                                           "problem": problem})
                say(f"WARNING: {notifier.name} was NOT told that the {self.task} {record['result']}: {problem}")
                continue
            record["notified"].append({"notifier": notifier.name, "told": True, "answer": answer or None,
                                       "problem": None})
            say(f"{notifier.name}: told that the {self.task} {record['result']}")

    def _append(self, record: dict[str, Any]) -> None:
        """The run in the history; a run refused before any step (no change) is not a deploy to list."""
        if not record["steps"] or record["result"] == records.REFUSED:
            return
        history = self.target.history
        try:
            version = history.append(record)
        except DeployError as err:
            record["history"] = {"parameter": history.name, "version": None, "problem": str(err)}
            self.target.say(f"warning: this run is not in the history of {self.target.env.name} (fab history): "
                            f"{err}")
            return
        record["history"] = {"parameter": history.name, "version": version}

    def _write_file(self, record: dict[str, Any]) -> None:
        if not self.record_file:
            return
        problem = records.write_file(record, self.record_file)
        say = self.target.say
        if problem is None:
            say(f"record: {records.summary(record)}; written to {self.record_file}")
            return
        say(f"warning: the deploy record could not be written to {self.record_file}: {problem}; here it is:")
        say(json.dumps(record, separators=(",", ":")))

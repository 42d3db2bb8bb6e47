"""An environment's deploy history, kept in AWS itself: one SSM parameter beside the deploy lock whose versions
are the runs, newest last.

Assumptions (AWS Systems Manager, Parameter Store): `PutParameter` with `Overwrite=True` makes a new version of
the parameter each time; Parameter Store keeps the 100 most recent versions of a parameter and deletes the oldest
when a new one is made (unless that oldest version carries a label: then the write fails with
ParameterMaxVersionLimitExceeded, so nothing here labels a version). A standard parameter is free and never
expires, so the history holds the last 100 runs for as long as the parameter exists, however old they are.
`GetParameterHistory` returns the versions oldest first, at most 50 a page. A standard parameter's value holds
at most 4 KB, so each version is a compact summary of the run's record (record.py), its texts cut to fit; the
whole record is the `--record` file. The deploy lock serializes the runs that write, so the versions are in the
order the runs ended. Writing is never what fails a run: the caller turns a failure into a warning.
"""

from __future__ import annotations

import json
from typing import Any

from .aws import AwsError, call
from .clock import Clock, Say, Writes
from .config import Environment
from .errors import DeployError
from .lock import parameter_name as lock_name

KEPT = 100  # versions Parameter Store keeps of one parameter
DEFAULT_LIMIT = 20  # runs `fab history` shows
VALUE_LIMIT = 4096  # bytes of a standard parameter's value
PAGE = 50  # GetParameterHistory's largest page
WRITE_BUDGET = 10.0  # seconds a throttled write is tried again: the run is over, and this is only its history
_ERROR_LIMIT = 300


def parameter_name(env: Environment) -> str:
    """`/fab-deploy/<cluster>/<env>/history` beside the lock (`<lock_parameter>-history` for a lock named so
    it does not end in `/lock`), so the lock's IAM grant covers it."""
    lock = lock_name(env)
    return lock[: -len("/lock")] + "/history" if lock.endswith("/lock") else lock + "-history"


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """The summary of a record that one version holds: the record's own field names, fewer of them."""
    failed = next((s for s in record["steps"] if s["outcome"] in ("failed", "interrupted")), None)
    return {
        "task": record["task"],
        "result": record["result"],
        "exit_status": record["exit_status"],
        "sha": record["sha"],
        "tag": record["tag"],
        "digest_before": record["release_tag_before"]["digest"],
        "digest": record["release_tag"]["digest"],
        "started_at": record["started_at"],
        "seconds": record["seconds"],
        "failed_step": failed["name"] if failed else None,
        "error": record["error"],
        "put_back": record["put_back"]["outcome"],
        "who": record["who"],
        "where": record["where"],
    }


def encode(summary: dict[str, Any]) -> str:
    """The summary as JSON within `VALUE_LIMIT` bytes: the error cut first, then the texts that vary in length."""
    summary = dict(summary)
    if summary.get("error") and len(summary["error"]) > _ERROR_LIMIT:
        summary["error"] = summary["error"][:_ERROR_LIMIT] + "..."
    for key, keep in (("error", 80), ("where", 200), ("who", 100), ("tag", 128), ("error", 0)):
        text = json.dumps(summary, separators=(",", ":"))
        if len(text.encode()) <= VALUE_LIMIT:
            return text
        if summary.get(key):
            summary[key] = summary[key][:keep] + ("..." if keep else "")
    return json.dumps(summary, separators=(",", ":"))


class History:
    """Append a run to one environment's history, and read the history back."""

    def __init__(self, client: Any, env: Environment, clock: Clock, say: Say) -> None:
        self.client = client
        self.env = env
        self.name = parameter_name(env)
        self.writes = Writes(clock, say, budget=WRITE_BUDGET)

    def append(self, record: dict[str, Any]) -> int:
        """Write the run as the parameter's next version; return that version."""
        value = encode(compact(record))

        def write() -> int:
            answer = call("ssm:PutParameter", self.client.put_parameter, Name=self.name, Value=value,
                          Type="String", Overwrite=True,
                          Description=f"fab deploy history of {self.env.name}: each version is one run (fab history)")
            return int(answer.get("Version") or 0)

        return self.writes.attempt("ssm:PutParameter", write, subject="history")

    def read(self, limit: int) -> list[dict[str, Any]]:
        """The last `limit` runs, newest first; each with its `version` and when SSM stored it (`at`)."""
        versions: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                page = call("ssm:GetParameterHistory", self.client.get_parameter_history, Name=self.name,
                            MaxResults=PAGE, **({"NextToken": token} if token else {}))
                versions += page.get("Parameters", [])
                token = page.get("NextToken")
                if not token:
                    break
        except AwsError as err:
            if err.code == "ParameterNotFound":
                return []
            raise
        runs = [_entry(version) for version in versions]
        runs.sort(key=lambda run: run["version"], reverse=True)
        return runs[:limit]


def _entry(version: dict[str, Any]) -> dict[str, Any]:
    """One version as a run: its summary, or, for a value that is not ours, what is known of it."""
    try:
        summary = json.loads(version.get("Value") or "")
        if not isinstance(summary, dict):
            raise ValueError
    except ValueError:
        summary = {"result": "unreadable"}
    stored = version.get("LastModifiedDate")
    return {"version": int(version.get("Version") or 0),
            "at": stored.isoformat(timespec="seconds") if hasattr(stored, "isoformat") else None, **summary}


def check_limit(value: Any) -> int:
    """`--limit`: a whole number from 1 to the versions SSM keeps."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= KEPT:
        raise DeployError(f"malformed --limit {value!r}: give a whole number from 1 to {KEPT} (SSM keeps the last "
                          f"{KEPT} runs)")
    return int(text)


RESULTS = {"succeeded": "ok", "failed": "FAILED", "interrupted": "INTERRUPTED", "refused": "refused"}


def render(env: Environment, runs: list[dict[str, Any]]) -> list[str]:
    """The history as a table, newest first; a failed run says where it failed and what became of the put-back."""
    from .ecr import short
    from .status import table

    if not runs:
        return [f"{env.name}: no runs recorded yet in SSM parameter {parameter_name(env)}"]
    rows = [["STARTED", "TASK", "RESULT", "SHA", "TAG", "RELEASE TAG", "TOOK", "BY"]]
    for run in runs:
        result = RESULTS.get(run.get("result") or "", run.get("result") or "?")
        if run.get("failed_step"):
            result += f" at {run['failed_step']}"
        if run.get("put_back"):
            result += f", put-back {run['put_back']}"
        before, after = run.get("digest_before"), run.get("digest")
        moved = short(after) if before == after else f"{short(before)} -> {short(after)}"
        took = f"{run['seconds']:.0f}s" if isinstance(run.get("seconds"), (int, float)) else "-"
        rows.append([run.get("started_at") or run.get("at") or "-", run.get("task") or "-", result,
                     run.get("sha") or "-", run.get("tag") or "-", moved, took, run.get("who") or "-"])
    return [f"{env.name}: the last {len(runs)} run{'s' if len(runs) > 1 else ''}, newest first "
            f"(SSM parameter {parameter_name(env)})", *table(rows)]

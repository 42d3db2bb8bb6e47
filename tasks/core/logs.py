"""CloudWatch Logs gateway: follow one awslogs stream from its start.

Assumptions: the awslogs driver names a task's stream `<awslogs-stream-prefix>/<container>/<task id>`.
The stream may not exist yet while the task starts (ResourceNotFoundException means "nothing yet").
`get_log_events` returns the same forward token again once it has nothing new, so a read ends there; the
caller reads once more after the task stops, so the last lines are never lost. The application writes the
events, so each is made safe to print here (`text.log_lines`): control characters escaped, long lines cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .aws import AwsError, call
from .ecs import LogSettings
from .text import log_lines


def stream_name(settings: LogSettings, container: str, task_id: str) -> str:
    if settings.stream_prefix:
        return f"{settings.stream_prefix}/{container}/{task_id}"
    return task_id


class LogStream:
    """Reads one stream forward; each `read_new` returns only lines not returned before."""

    MAX_PAGES = 100  # a bound, not a limit anyone should reach: 100 pages of up to 10,000 events

    def __init__(self, client: Any, group: str, stream: str) -> None:
        self.client = client
        self.group = group
        self.stream = stream
        self._token: str | None = None

    @property
    def location(self) -> str:
        return f"{self.group} {self.stream}"

    def read_new(self) -> list[str]:
        lines: list[str] = []
        for _ in range(self.MAX_PAGES):
            params: dict[str, Any] = {"logGroupName": self.group, "logStreamName": self.stream, "startFromHead": True}
            if self._token:
                params["nextToken"] = self._token
            try:
                response = call("logs:GetLogEvents", self.client.get_log_events, **params)
            except AwsError as err:
                if err.code == "ResourceNotFoundException":
                    return lines
                if lines and err.transient:  # keep what was read: the token points after it, the next read goes on
                    return lines
                raise
            lines.extend(line for event in response.get("events") or []
                         for line in log_lines(str(event.get("message", ""))))
            token = response.get("nextForwardToken")
            if not token or token == self._token:
                return lines
            self._token = token
        return lines


StreamFactory = Callable[[str, str], LogStream]  # (log group, stream name) -> LogStream


class Logs:
    """CloudWatch Logs gateway: the awslogs groups a task definition names, and the streams a task writes."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def stream(self, group: str, stream: str) -> LogStream:
        return LogStream(self.client, group, stream)

    def group_exists(self, name: str) -> bool:
        response = call("logs:DescribeLogGroups", self.client.describe_log_groups, logGroupNamePrefix=name, limit=50)
        return any(g.get("logGroupName") == name for g in response.get("logGroups") or [])

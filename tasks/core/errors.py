"""The one error type the core raises for expected failures.

A `DeployError` carries a message meant for a person at 3 a.m.: what failed, what AWS (or Sleuth) said,
and what to do next. The task boundary turns it into `invoke.Exit(message, 1)`; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class DeployError(Exception):
    """An expected failure with an actionable, one-line (first line) message."""

    def __init__(self, message: str, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

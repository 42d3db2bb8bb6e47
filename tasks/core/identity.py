"""Whose credentials these are, and the account guard.

Assumptions: `sts:GetCallerIdentity` needs no permission and works with any valid credentials, so it is
the cheapest honest answer to "which account am I about to change?". An environment with an `account`
refuses credentials of any other account: staging credentials with the production environment is the
classic mistake, and it must fail before anything is read or changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aws import call
from .config import Environment
from .errors import DeployError


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


class Accounts:
    """STS gateway: whose credentials these are, asked once a run (the account guard and the preflight both need it,
    and the answer cannot change while the run's credentials do not)."""

    def __init__(self, sts: Any) -> None:
        self.client = sts
        self._identity: Identity | None = None

    def caller(self) -> Identity:
        if self._identity is None:
            self._identity = caller_identity(self.client)
        return self._identity

    def guard(self, env: Environment) -> Identity:
        """The caller, refused when `env` names another account."""
        identity = self.caller()
        guard_account(identity, env)
        return identity


def caller_identity(sts: Any) -> Identity:
    response = call("sts:GetCallerIdentity", sts.get_caller_identity)
    return Identity(account=str(response["Account"]), arn=str(response["Arn"]))


def guard_account(identity: Identity, env: Environment) -> None:
    if env.account and identity.account != env.account:
        raise DeployError(
            f"wrong AWS account: the credentials in use ({identity.arn}) belong to account {identity.account}, "
            f"but environment {env.name!r} is account {env.account}; switch credentials (AWS_PROFILE) and run again"
        )

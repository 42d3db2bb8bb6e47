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


def caller_identity(sts: Any) -> Identity:
    response = call("sts:GetCallerIdentity", sts.get_caller_identity)
    return Identity(account=str(response["Account"]), arn=str(response["Arn"]))


def guard_account(identity: Identity, env: Environment) -> None:
    if env.account and identity.account != env.account:
        raise DeployError(
            f"wrong AWS account: the credentials in use ({identity.arn}) belong to account {identity.account}, "
            f"but environment {env.name!r} is account {env.account}; switch credentials (AWS_PROFILE) and run again"
        )

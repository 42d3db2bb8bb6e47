"""Register a deploy with Sleuth, the deployment tracker: the request, its dry-run view, and the sending.

Assumptions (help.sleuth.io "Deploy registration"): `POST {url}/api/1/deployments/<org>/<deployment>/
register_deploy` with a JSON body; 200 means registered, 400 is bad input, 401 a bad token. The token goes in the
`Authorization` header in one of two schemes, chosen by `deploy.sleuth.auth`: `Bearer <access token>` (an
organization access token, the current API; the default) or `apikey <key>` (the older organization API key,
still accepted, and what Sleuth's own CLI sends). It is told as every notifier is (notifier.py: the retries
of connection errors, timeouts, 429 and 5xx, and the secret hygiene); `ignore_if_duplicate: "true"` makes a retry
of a request that did arrive harmless. Sleuth tracks deploys, so it is told of successes only.

The token comes only from the environment variable `SLEUTH_API_TOKEN`. It lives in a `Token`, whose str and
repr are masked, goes only into the Authorization header (never the URL), and every message built here is
scrubbed of it, so no error, dry-run plan or log line can show it. `requests` is imported inside functions:
`fab --list` imports this package's task modules and must not pay for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .clock import Clock, Say
from .config import Environment, SleuthSettings
from .errors import DeployError
from .notifier import BACKOFF, BUDGET, MAX_RETRIES, TIMEOUT, Notifier, Post, Request, Secret, from_environment
from .text import MASK

if TYPE_CHECKING:
    from .ecr import Registry

__all__ = ["BACKOFF", "BUDGET", "MAX_RETRIES", "TIMEOUT", "Registration", "SleuthNotifier", "Token", "register"]

TOKEN_VARIABLE = "SLEUTH_API_TOKEN"
# deploy.sleuth.auth -> the Authorization header's scheme word
SCHEMES = {"bearer": "Bearer", "apikey": "apikey"}
_TAG_JUNK = re.compile(r"[^a-z0-9_-]+")


class Token(Secret):
    """The Sleuth API token: `reveal()` is the only way to the value; str and repr show a mask."""

    __slots__ = ()


def token_from_env(environ: Mapping[str, str] | None = None) -> Token | None:
    """The token from `SLEUTH_API_TOKEN`, or None when it is unset or blank."""
    value = from_environment(TOKEN_VARIABLE, environ, "the token")
    return None if value is None else Token(value)


def missing_settings(settings: SleuthSettings, token: Token | None) -> list[str]:
    """The settings a registration still needs, in the words a user sets them."""
    missing = []
    if not settings.org:
        missing.append("deploy.sleuth.org (fabric.yaml)")
    if not settings.deployment:
        missing.append("deploy.sleuth.deployment (fabric.yaml)")
    if token is None:
        missing.append(f"the {TOKEN_VARIABLE} environment variable")
    return missing


def not_configured(missing: list[str]) -> str:
    return "Sleuth is not configured: set " + " and ".join(missing)


@dataclass(frozen=True)
class Registration:
    """One deploy registration: where it goes and what it says; the date is taken when it is sent."""

    url: str
    org: str
    deployment: str
    sha: str
    environment: str
    email: str | None = None
    tags: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    auth: str = "bearer"  # a key of SCHEMES

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/1/deployments/{self.org}/{self.deployment}/register_deploy"

    def body(self, when: datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sha": self.sha,
            "environment": self.environment,
            "date": iso_utc(when) if when else "<UTC time of sending>",
            "ignore_if_duplicate": "true",
        }
        if self.email:
            body["email"] = self.email
        if self.tags:
            body["tags"] = list(self.tags)
        if self.links:
            body["links"] = dict(self.links)
        return body

    def describe(self) -> list[str]:
        """The request as a dry run shows it: the token masked."""
        return [
            f"POST {self.endpoint}",
            f"Authorization: {SCHEMES[self.auth]} {MASK} (from {TOKEN_VARIABLE})",
            json.dumps(self.body(None)),
        ]


def iso_utc(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def build(
    settings: SleuthSettings,
    env: Environment,
    *,
    sha: str,
    image_link: str | None = None,
    environ: Mapping[str, str] | None = None,
    author: Callable[[str], str | None] | None = None,
) -> Registration:
    """The registration of `sha` in `env`; the caller has checked `missing_settings` is empty."""
    environ = os.environ if environ is None else environ
    links = []
    build_url = environ.get("CIRCLE_BUILD_URL", "").strip()
    if build_url.startswith(("https://", "http://")):
        links.append(("CircleCI build", build_url))
    if image_link:
        links.append(("ECR image", image_link))
    # deploy.sleuth.email where the config declares it; else the commit's author, when git knows the commit
    email = settings.email or (author or author_email)(sha)
    return Registration(
        url=settings.url,
        org=str(settings.org),
        deployment=str(settings.deployment),
        sha=sha,
        environment=env.sleuth_environment,
        email=email,
        tags=sleuth_tags(settings.tags),
        links=tuple(links),
        auth=settings.auth,
    )


def sleuth_tags(tags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Tags as Sleuth takes them: `#` then lowercase letters, digits, '-' and '_' ("Hot Fix" -> "#hot-fix")."""
    result: list[str] = []
    for tag in tags:
        word = _TAG_JUNK.sub("-", str(tag).lstrip("#").strip().lower()).strip("-")
        if word and f"#{word}" not in result:
            result.append(f"#{word}")
    return tuple(result)


def author_email(sha: str, run: Callable[..., Any] = subprocess.run) -> str | None:
    """The commit's author email from the local git repository, or None (no git, no repository, unknown sha)."""
    try:
        result = run(
            ["git", "log", "-1", "--format=%ae", sha, "--"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    email_address = (result.stdout or "").strip()
    return email_address if result.returncode == 0 and "@" in email_address else None


def console_url(region: str, account: str, repository: str, digest: str) -> str:
    """The image's page in the ECR console."""
    return (
        f"https://{region}.console.aws.amazon.com/ecr/repositories/private/{account}/{repository}/_/image/"
        f"{digest}/details?region={region}"
    )


def image_link(registry: Registry, tag: str) -> str:
    """The ECR console URL of the image `tag` names (one `ecr:DescribeImages` call); a `DeployError` when unknown."""
    detail = registry.describe_tag(tag)
    if detail is None:
        raise DeployError(f"image {registry.repository}:{tag} not found in ECR")
    return console_url(registry.region, detail.registry_id, registry.repository, detail.digest)


class SleuthNotifier(Notifier):
    """Sleuth, told of a deploy that succeeded (the notify step of a deploy or rollback plan, and `fab notify`)."""

    name = "Sleuth"
    on_failure = False
    check = "check deploy.sleuth.url"

    def __init__(self, registration: Registration, token: Token) -> None:
        self.registration = registration
        self.token = token
        self.secrets = (token,)

    def describe(self) -> list[str]:
        return self.registration.describe()

    def request(self, record: Mapping[str, Any] | None, when: datetime) -> Request:
        r = self.registration
        return Request(r.endpoint, r.body(when), f"Sleuth at {r.url}",
                       {"Authorization": f"{SCHEMES[r.auth]} {self.token.reveal()}"})

    def advice(self, status: int) -> str:
        return _advice(status, self.registration)


def register(
    registration: Registration, token: Token, clock: Clock, *, say: Say | None = None, post: Post | None = None
) -> str:
    """Send the registration; return Sleuth's answer. A `DeployError` (token-free) when it is not registered."""
    return SleuthNotifier(registration, token).tell(None, clock, say=say, post=post) or "registered"


def _advice(status: int, registration: Registration) -> str:
    if status in (401, 403) and registration.auth == "apikey":
        return (f" - check {TOKEN_VARIABLE}: with deploy.sleuth.auth apikey it must be the organization API key "
                "(Organization Settings > Details); for an access token, remove deploy.sleuth.auth")
    if status in (401, 403):
        return (f" - check {TOKEN_VARIABLE}: it must be a Sleuth access token allowed to register deploys; for the "
                "organization API key, set deploy.sleuth.auth: apikey")
    if status == 404:
        return (
            f" - check deploy.sleuth.org ({registration.org!r}) and deploy.sleuth.deployment "
            f"({registration.deployment!r}) against the deployment's URL in Sleuth"
        )
    if status == 400:
        return " - check that the sha is pushed to the repository Sleuth watches and the environment exists in Sleuth"
    return ""


def notify_command(sha: str, env: str, tag: str) -> str:
    """The command that registers this deploy later."""
    return f"fab notify --sha {shlex.quote(sha)} --env {shlex.quote(env)} --tag {shlex.quote(tag)}"

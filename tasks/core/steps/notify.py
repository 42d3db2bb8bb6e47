"""The notify step: register the deploy with Sleuth (sleuth.py builds and sends the request)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..clock import Clock, Say
from ..config import Environment, SleuthSettings
from ..errors import DeployError
from ..sleuth import (
    Registration,
    Token,
    build,
    image_link,
    missing_settings,
    not_configured,
    notify_command,
    register,
    token_from_env,
)
from . import Step

if TYPE_CHECKING:
    from ..ecr import Registry
    from ..target import Target


@dataclass
class Notify(Step):
    """The deploy plan's last step: register the deploy with Sleuth. It has nothing to put back: a registration is
    never taken back, and it runs last, only after every other step succeeded.

    It runs only when every step before it succeeded (the plan stops at the first failure), and never raises:
    the deploy is live by then, so a failed or unconfigured registration is a warning, and the last lines
    of the output say so and give the `fab notify` command that registers it later.
    """

    env_name: str
    sha: str
    tag: str
    registration: Registration | None
    token: Token | None = field(default=None, repr=False)
    missing: tuple[str, ...] = ()
    name: str = "notify"
    link_problem: str | None = None
    answer: str | None = None
    problem: str | None = None

    @classmethod
    def prepare(
        cls,
        env: Environment,
        settings: SleuthSettings,
        *,
        sha: str,
        tag: str,
        registry: Callable[[], Registry] | None = None,
        environ: Mapping[str, str] | None = None,
        author: Callable[[str], str | None] | None = None,
    ) -> Notify:
        """Read the settings and the token, and look the image up in `registry()` for its console link. A failed
        lookup only leaves the link out (`link_problem`): the link is nice to have, the registration is not."""
        try:
            token = token_from_env(environ)
        except DeployError as err:
            return cls(env.name, sha, tag, None, missing=(str(err),))
        missing = missing_settings(settings, token)
        if missing:
            return cls(env.name, sha, tag, None, missing=(not_configured(missing),))
        link, link_problem = None, None
        if registry is not None:
            try:
                link = image_link(registry(), tag)
            except DeployError as err:
                link_problem = str(err)
        registration = build(settings, env, sha=sha, image_link=link, environ=environ, author=author)
        return cls(env.name, sha, tag, registration, token=token, link_problem=link_problem)

    def describe(self) -> list[str]:
        if self.registration is None:
            return [f"skipped: {self.missing[0]}"]
        return self.registration.describe()

    def run(self, target: Target) -> None:
        self.send(target.clock, target.say)

    def send(self, clock: Clock, say: Say) -> None:
        if self.registration is None or self.token is None:
            self.problem = self.missing[0]
            say("    skipped: not configured (the last line says what is missing)")
            return
        say(f"    POST {self.registration.endpoint} (sha {self.sha}, environment {self.registration.environment})")
        try:
            self.answer = register(self.registration, self.token, clock, say=say)
        except DeployError as err:
            self.problem = str(err)
        except KeyboardInterrupt:  # Ctrl-C while Sleuth is slow: the deploy is live all the same, so say how to finish
            self.problem = "interrupted (Ctrl-C) before Sleuth answered"
        except Exception as err:  # a notification must never turn a live deploy red, nor put its retag back
            self.problem = f"unexpected {type(err).__name__}: {self.token.scrub(str(err))}"

    def report(self) -> list[str]:
        """The last lines of a deploy: the registration, or the warning and how to register later."""
        if self.answer is not None and self.registration is not None:
            r = self.registration
            return [f"Sleuth: registered {self.sha} as a deploy to {r.environment} ({r.org}/{r.deployment})"]
        return [
            f"WARNING: the deploy is live but NOT registered with Sleuth: {self.problem or 'not attempted'}",
            f"WARNING: register it later with: {notify_command(self.sha, self.env_name, self.tag)}",
        ]

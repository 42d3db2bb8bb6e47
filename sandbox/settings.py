"""What the sandbox stands up, and the fake credentials it hands out.

Assumptions: one AWS account and region (moto's default account, `us-east-1`); names are fixed so that a
user's commands, the demo and the tests all say the same thing. The credentials below are fake and only
ever accepted by the sandbox itself; they are distinctive on purpose, so secret-hygiene tests can assert
that they never appear in any output. The sandbox writes them to a file and never prints them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .faults import Fault

REGION = "us-east-1"
REPOSITORY = "sandbox-app"
CLUSTER = "sandbox"
ENVIRONMENT = "demo"
RELEASE_TAG = "latest"
CONTAINER = "app"
LOG_GROUP = "/ecs/sandbox-app"
MIGRATION_TASK_DEFINITION = "sandbox-migrate"
MIGRATION_COMMAND = ("python", "manage.py", "migrate")
# service name -> desired task count
SERVICES = {"web": 2, "worker": 1}


def numbered_services(count: int, desired: int = 1) -> dict[str, int]:
    """`count` services named svc01, svc02, ... each running `desired` tasks (the benchmark's N services)."""
    return {f"svc{number:02d}": desired for number in range(1, count + 1)}

# The release running now and the build CI has just pushed: commit ids, also their immutable image tags.
CURRENT_SHA = "3f9a1c2"
NEW_SHA = "8e4b7d1"

SLEUTH_ORG = "acme"
SLEUTH_DEPLOYMENT = "sandbox-app"

FAKE_AWS_ACCESS_KEY_ID = "AKIASANDBOXFAKEKEY42"
FAKE_AWS_SECRET_ACCESS_KEY = "sandboxFakeSecretAccessKeyNotReal0000042"
FAKE_SLEUTH_API_TOKEN = "sandbox-fake-sleuth-token-not-a-secret-42"
FAKE_SMOKE_TOKEN = "sandbox-fake-health-url-token-not-a-secret-42"  # the health URL's Bearer token
SMOKE_TOKEN_VARIABLE = "SMOKE_TOKEN"  # fabric.yaml's smoke header reads it: Authorization: Bearer ${SMOKE_TOKEN}
# The secret parts of the Slack and webhook stand-ins' URLs, and the variables fab reads the URLs from
FAKE_SLACK_SECRET = "sandboxFakeSlackHookSecret42"
FAKE_WEBHOOK_SECRET = "sandbox-fake-webhook-secret-42"
SLACK_VARIABLE = "SLACK_WEBHOOK_URL"
WEBHOOK_VARIABLE = "DEPLOY_WEBHOOK_URL"
SECRETS = (FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY, FAKE_SLEUTH_API_TOKEN, FAKE_SMOKE_TOKEN,
           FAKE_SLACK_SECRET, FAKE_WEBHOOK_SECRET)
# What a credentials file holds once "refreshed" (a test rewrites it after the first keys expired); never in
# sandbox.env, and as secret as the others
FRESH_AWS_ACCESS_KEY_ID = "AKIASANDBOXFRESHKEY7"
FRESH_AWS_SECRET_ACCESS_KEY = "sandboxFreshSecretAccessKeyNotReal00007"
# The sandbox's own look inside (seeding, tests reading state back) signs with this key, so the faults and the
# latency it plays are only ever seen by the tool under test.
INSPECTOR_ACCESS_KEY_ID = "AKIASANDBOXINSPECTOR"

ALARM = "sandbox-web-5xx"  # the CloudWatch alarm the canary-alarm scenario fires

SCENARIOS = {
    "success": "everything works: the migration exits 0 and both rollouts complete",
    "migration-fails": "the migration task exits 1 after logging a database error; no service is restarted",
    "rollout-fails": "web's new tasks fail their health checks and the circuit breaker rolls web back "
    "(its deployment vanishes, the old one is PRIMARY again); worker completes, so the deploy puts it back",
    "worker-fails": "worker's new tasks cannot pull the new image and the circuit breaker marks its deployment "
    "FAILED (no rollback); web completes; the deploy puts both back on the old image",
    "tasks-stop": "new tasks of every service stop with CannotPullContainerError; the circuit breaker marks "
    "each deployment FAILED",
    "rollout-hangs": "new tasks never pass their health checks and no circuit breaker stops the rollouts, so "
    "they outlast the timeout; the deploy puts everything back",
    "flaky-aws": "everything works, but AWS throttles DescribeTasks, answers GetLogEvents with 503 and drops "
    "DescribeServices connections, each for several polls in a row",
    "smoke-fails": "both rollouts complete, but the health URL answers 500 while the new build runs: the smoke "
    "check fails and the deploy puts everything back",
    "smoke-ready": "the health URL answers 503 until every task runs the new build, then 200: the deploy succeeds",
    "code-deploy": "web is deployed by CodeDeploy (the CODE_DEPLOY controller): preflight refuses the deploy "
    "before any change",
    "blue-green": "web deploys BLUE_GREEN (a 2-minute bake), worker ROLLING; both succeed",
    "canary-alarm": "web deploys CANARY (10 %, a 1-minute canary bake, a 3-minute bake); its alarm "
    f"{ALARM} fires halfway through the bake on the new build and ECS rolls web back; worker ROLLING completes",
    "linear-paused": "web deploys LINEAR (50 % steps) with a PAUSE hook after the test traffic shift: it waits "
    "for ContinueServiceDeployment (or its 1440-minute expiry, then ROLLBACK); worker ROLLING completes",
    "bake-timeout": "web deploys BLUE_GREEN with a 60-minute bake: a deploy whose --timeout is shorter times out "
    "while web bakes",
    "no-deployments-api": "everything works, but the endpoint does not know the service-deployment API: its five "
    "operations answer UnknownOperationException",
}
# A minute of ECS time (bake times, hook timeouts) in the sandbox, by default: seconds of real time.
MINUTE_SECONDS = 1.0
# scenario -> the service whose deployments use another strategy than ROLLING -> its deploymentConfiguration
# beside what every service has (the circuit breaker, 200/100 %).
STRATEGIES: dict[str, dict[str, Any]] = {
    "blue-green": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2},
    "canary-alarm": {"strategy": "CANARY", "bakeTimeInMinutes": 3,
                     "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
                     "alarms": {"alarmNames": [ALARM], "enable": True, "rollback": True}},
    "linear-paused": {"strategy": "LINEAR", "bakeTimeInMinutes": 1,
                      "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1},
                      "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                                          "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}}]},
    "bake-timeout": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 60},
}
# scenario -> the lifecycle stage halfway through which that service's first alarm fires (new build only)
ALARM_STAGES = {"canary-alarm": "BAKE_TIME"}
# How the application's health URL answers, per scenario (sandbox/health.py); the smoke check is configured in
# the generated fabric.yaml for these scenarios only.
HEALTH = {"smoke-fails": "fails-on-new", "smoke-ready": "ready-on-new"}
# Failures belong to the new build's image only: a put-back on the old image works, as it would in ECS.
FLAKY_AWS = (
    Fault("ecs:DescribeTasks", "throttle", count=6, after=2),
    Fault("logs:GetLogEvents", "5xx", count=6, after=2),
    Fault("ecs:DescribeServices", "drop", count=6, after=2),
)


@dataclass(frozen=True)
class Options:
    """How the sandbox behaves; the CLI, the demo and the tests build one of these."""

    scenario: str = "success"
    migration_seconds: float = 3.0  # how long a migration task runs
    rollout_seconds: float = 4.0  # how long a rollout takes from update_service to its end state
    minute_seconds: float = MINUTE_SECONDS  # one ECS minute of bake time or hook timeout, in seconds
    sleuth_failures: int = 0  # answer 503 this many times before accepting registrations
    notify: bool = False  # the generated fabric.yaml tells the Slack and webhook stand-ins (deploy.notify)
    hook_failures: int = 0  # the Slack and webhook stand-ins answer 500 this many times first
    faults: tuple[Fault, ...] = ()  # AWS calls that fail (default: the scenario's, none but for flaky-aws)
    latency: float = 0.0  # seconds every AWS call of the tool under test waits before it is answered
    aws_port: int = 0  # 0: a free port
    sleuth_port: int = 0
    verbose: bool = True  # print what the emulated ECS does and what the Sleuth stand-in receives
    # service name -> desired task count; the first one's network settings are the migration's
    services: Mapping[str, int] = field(default_factory=lambda: dict(SERVICES))

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}: choose one of {', '.join(SCENARIOS)}")
        if self.migration_seconds <= 0 or self.rollout_seconds <= 0:
            raise ValueError("migration and rollout times must be positive")
        if self.minute_seconds < 0:
            raise ValueError("minute_seconds must be 0 or more")
        if self.sleuth_failures < 0 or self.hook_failures < 0:
            raise ValueError("sleuth_failures and hook_failures must be 0 or more")
        if self.latency < 0:
            raise ValueError("latency must be 0 or more")
        if not self.services or any(not name or desired < 1 for name, desired in self.services.items()):
            raise ValueError("services: at least one, each with a name and a desired count of 1 or more")

    def fault_rules(self) -> tuple[Fault, ...]:
        return self.faults or (FLAKY_AWS if self.scenario == "flaky-aws" else ())

    @property
    def health(self) -> str:
        """How the health URL answers (sandbox/health.py)."""
        return HEALTH.get(self.scenario, "healthy")

    @property
    def smoke(self) -> bool:
        """Whether the generated config has a smoke check."""
        return self.scenario in HEALTH

    @property
    def controllers(self) -> dict[str, str]:
        """Services another deployment controller deploys: service -> CODE_DEPLOY (default: ECS for all)."""
        if self.scenario != "code-deploy":
            return {}
        return {"web" if "web" in self.services else next(iter(self.services)): "CODE_DEPLOY"}

    @property
    def _strategy_service(self) -> str:
        """The service a scenario's strategy, alarm or controller applies to: web, else the first."""
        return "web" if "web" in self.services else next(iter(self.services))

    @property
    def deployment_configurations(self) -> dict[str, dict[str, Any]]:
        """Services whose deployments use BLUE_GREEN, LINEAR or CANARY: service -> what their
        deploymentConfiguration adds to the rolling one (default: every service ROLLING)."""
        extra = STRATEGIES.get(self.scenario)
        return {self._strategy_service: extra} if extra else {}

    @property
    def alarm_stages(self) -> dict[str, str]:
        """service -> the lifecycle stage during which its alarm fires on the new build."""
        stage = ALARM_STAGES.get(self.scenario)
        return {self._strategy_service: stage} if stage else {}

    @property
    def deployments_api(self) -> bool:
        """Whether the endpoint knows ECS's service-deployment API (an older one answers UnknownOperation)."""
        return self.scenario != "no-deployments-api"

    @property
    def circuit_breaker(self) -> bool:
        """The services' deployment circuit breaker; off where a rollout is meant to hang until the timeout."""
        return self.scenario != "rollout-hangs"

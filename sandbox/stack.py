"""The sandbox as one object: emulated AWS, the ECS emulator, and stand-ins for Sleuth, a Slack incoming webhook, a
JSON webhook and the application's health URL, started and stopped together.

Assumptions: moto's server runs in this process (`ThreadedMotoServer`) because the ECS emulator changes moto's
backend objects directly. moto's backends are process-global, so one sandbox runs per process at a time, and
it resets moto's state when it starts and when it stops. Everything listens on 127.0.0.1 only. The values a
client needs (endpoint, region, fake credentials, Sleuth and health URL tokens) come from `environment()`; the
fake secrets are written to `sandbox.env`, never printed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config
from moto.ecs.models import ecs_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from . import hooks, settings, snapshot
from .api_calls import ApiCalls
from .ecs import EcsEmulator
from .faults import Faults
from .health import HealthStandIn
from .hooks import Delivery, HookStandIn
from .seed import World, seed
from .sleuth import Registration, SleuthStandIn

# Variables that would point boto3 at something else than the sandbox's fake credentials.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
# moto's EC2 loads its default AMIs each time its state is reset; nothing here reads AMIs, so a process that has
# not chosen otherwise skips them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SLEUTH_API_TOKEN", settings.SMOKE_TOKEN_VARIABLE,
                    settings.SLACK_VARIABLE, settings.WEBHOOK_VARIABLE)


class Sandbox:
    """`with Sandbox(Options(...)) as sandbox:` starts everything on free ports and stops it on exit."""

    def __init__(
        self,
        options: settings.Options | None = None,
        *,
        say: Callable[[str], None] | None = None,
        show_ecs: bool = True,
        real_time: bool = True,
    ) -> None:
        self.options = options or settings.Options()
        self._real_time = real_time  # False: ECS moves only when the caller calls `emulator.advance(seconds)`
        self._say = say or (lambda line: None)
        self._show_ecs = show_ecs
        self._moto: ThreadedMotoServer | None = None
        self._emulator: EcsEmulator | None = None
        self._sleuth: SleuthStandIn | None = None
        self._health: HealthStandIn | None = None
        self._hooks: dict[str, HookStandIn] = {}
        self._clients: dict[str, Any] = {}
        self.world: World | None = None
        # Every AWS call the emulated AWS answers, by operation, as counted at the server (the benchmark reads it).
        self.api_calls = ApiCalls()
        # Throttling, 5xx, dropped connections and latency, for the tool under test only (set when started).
        self.faults = Faults(exempt_key=settings.INSPECTOR_ACCESS_KEY_ID)

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_api_backend.reset()  # moto's state is process-global: start from nothing
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.options.aws_port, verbose=False)
        self._moto.start()
        try:
            self.api_calls.install(self._moto, self.faults.middleware)
            self.world = self._seed()
            self._emulator = EcsEmulator(
                ecs_backends[self.world.account][self.world.region],
                self.client("logs"),
                scenario=self.options.scenario,
                migration_seconds=self.options.migration_seconds,
                rollout_seconds=self.options.rollout_seconds,
                broken={self.world.new_digest},
                say=self._say if self._show_ecs else (lambda line: None),
                minute_seconds=self.options.minute_seconds,
                deployments_api=self.options.deployments_api,
            )
            self._emulator.alarm_stages = self.options.alarm_stages
            self._emulator.install()
            self._emulator.settle()
            if self._real_time:
                self._emulator.run_in_real_time()
            self.faults.set(self.options.fault_rules())
            self.faults.latency = self.options.latency
            self._sleuth = SleuthStandIn(
                token=settings.FAKE_SLEUTH_API_TOKEN,
                failures=self.options.sleuth_failures,
                port=self.options.sleuth_port,
                say=self._say,
            ).start()
            self._hooks = {
                "slack": hooks.slack(settings.FAKE_SLACK_SECRET, failures=self.options.hook_failures,
                                     say=self._say).start(),
                "webhook": hooks.webhook(settings.FAKE_WEBHOOK_SECRET, failures=self.options.hook_failures,
                                         say=self._say).start(),
            }
            self._health = HealthStandIn(
                mode=self.options.health,
                token=settings.FAKE_SMOKE_TOKEN,
                running=self._emulator.running_digests,
                new_digest=self.world.new_digest,
                build_of=self.build_of,
                say=self._say,
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _seed(self) -> World:
        """Seed through the API the first time this process starts a sandbox of this shape; after that, restore a
        copy of what that seeding left (sandbox/snapshot.py), so every start meets the same world."""
        shape = (tuple(self.options.services.items()), tuple(sorted(self.options.controllers.items())),
                 self.options.circuit_breaker, json.dumps(self.options.deployment_configurations, sort_keys=True))
        if shape in _SEEDED:
            world, saved = _SEEDED[shape]
            snapshot.restore(saved, world.account, world.region)
            return world
        world = seed(self.client, self.options.services, controllers=self.options.controllers,
                     circuit_breaker=self.options.circuit_breaker,
                     configurations=self.options.deployment_configurations)
        _SEEDED[shape] = (world, snapshot.save(world.account, world.region))
        return world

    def stop(self) -> None:
        if self._emulator is not None:
            self._emulator.uninstall()
            self._emulator = None
        if self._sleuth is not None:
            self._sleuth.stop()
            self._sleuth = None
        if self._health is not None:
            self._health.stop()
            self._health = None
        for hook in self._hooks.values():
            hook.stop()
        self._hooks = {}
        if self._moto is not None:
            _stop_promptly(self._moto)
            self._moto = None
            self._clients = {}
            moto_api_backend.reset()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a client needs ---------------------------------------------------------------------------

    @property
    def aws_endpoint(self) -> str:
        assert self._moto is not None, "start() first"
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def sleuth_url(self) -> str:
        assert self._sleuth is not None, "start() first"
        return self._sleuth.url

    @property
    def health(self) -> HealthStandIn:
        assert self._health is not None, "start() first"
        return self._health

    def environment(self) -> dict[str, str]:
        """The variables that point boto3 (and so `fab`), the Sleuth client and the smoke check at the sandbox."""
        return {
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_REGION": settings.REGION,
            "AWS_DEFAULT_REGION": settings.REGION,
            "AWS_ACCESS_KEY_ID": settings.FAKE_AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": settings.FAKE_AWS_SECRET_ACCESS_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "2",  # moto answers its own bugs with 500: do not retry them for long
            "SLEUTH_API_TOKEN": settings.FAKE_SLEUTH_API_TOKEN,
            settings.SMOKE_TOKEN_VARIABLE: settings.FAKE_SMOKE_TOKEN,
            **({settings.SLACK_VARIABLE: self.hook_url("slack"),
                settings.WEBHOOK_VARIABLE: self.hook_url("webhook")} if self._hooks else {}),
        }

    def process_environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) with the sandbox's variables and no other AWS identity."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in CLEARED_VARIABLES}
        env.update(self.environment())
        return env

    def fabric_config(self, *, timeout: float | None = None, poll_interval: float = 1.0,
                      parallel: int | None = None, smoke_timeout: float | None = None) -> dict[str, Any]:
        """The `deploy` config for environment `demo` against this sandbox; with a smoke check of the health URL
        where the scenario plays one (`smoke_timeout`, default twice a rollout's time)."""
        if timeout is None:
            timeout = max(30.0, 5 * (self.options.migration_seconds + self.options.rollout_seconds))
        assert self.world is not None, "start() first"
        smoke = {}
        if self.options.smoke:
            smoke = {"smoke": {
                "url": self.health.url,
                "timeout": smoke_timeout or max(1.0, 2 * self.options.rollout_seconds),
                "headers": {"Authorization": f"Bearer ${{{settings.SMOKE_TOKEN_VARIABLE}}}"},
            }}
        return {
            "deploy": {
                "repository": self.world.repository,
                "region": self.world.region,
                "timeout": timeout,
                "poll_interval": poll_interval,
                **({"parallel": parallel} if parallel is not None else {}),
                "environments": {
                    settings.ENVIRONMENT: {
                        "cluster": self.world.cluster,
                        "services": list(self.world.services),
                        "release_tag": settings.RELEASE_TAG,
                        "migrate": {
                            "command": list(settings.MIGRATION_COMMAND),
                            "task_definition": self.world.migration_task_definition,
                            "container": settings.CONTAINER,
                        },
                        **smoke,
                        **({"notify": {"slack": settings.SLACK_VARIABLE, "webhook": settings.WEBHOOK_VARIABLE}}
                           if self.options.notify else {}),
                    }
                },
                "sleuth": {
                    "url": self.sleuth_url,
                    "org": settings.SLEUTH_ORG,
                    "deployment": settings.SLEUTH_DEPLOYMENT,
                },
            }
        }

    def fabric_yaml(self, **config: Any) -> str:
        header = (
            f"# Runtime config for the sandbox (scenario: {self.options.scenario}); use it with `fab -f THIS_FILE`.\n"
        )
        return header + yaml.dump(self.fabric_config(**config), Dumper=_FlowListDumper, sort_keys=False)

    def env_file(self) -> str:
        lines = [
            "# Source this file to point boto3, fab, the Sleuth client and the smoke check at the sandbox.",
            "# The AWS keys and the tokens are fake: only the sandbox accepts them.",
            "unset " + " ".join(CLEARED_VARIABLES),
            *(f"export {name}={value}" for name, value in self.environment().items()),
        ]
        return "\n".join(lines) + "\n"

    def write_files(self, directory: Path | str, **config: Any) -> tuple[Path, Path]:
        """Write `fabric.yaml` and `sandbox.env` (owner-only) into `directory`; return their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config_path = directory / "fabric.yaml"
        config_path.write_text(self.fabric_yaml(**config))
        env_path = directory / "sandbox.env"
        env_path.touch(mode=0o600)
        env_path.chmod(0o600)
        env_path.write_text(self.env_file())
        return config_path, env_path

    def shown_environment(self) -> dict[str, str]:
        """`environment()` fit to print: the fake secrets replaced by a pointer to `sandbox.env`."""
        return {k: ("(fake; in sandbox.env)" if k in SECRET_VARIABLES else v) for k, v in self.environment().items()}

    # --- looking inside, for tests and the demo ---------------------------------------------------------

    def client(self, name: str) -> Any:
        """A boto3 client for the emulated AWS, with the fake credentials and few retries (one per service)."""
        if name not in self._clients:
            self._clients[name] = _inspector_session().client(
                name, endpoint_url=self.aws_endpoint, config=Config(retries={"max_attempts": 2, "mode": "standard"})
            )
        return self._clients[name]

    def image_tags(self) -> dict[str, str]:
        """Every tag in the repository and the digest it points at."""
        assert self.world is not None, "start() first"
        tags: dict[str, str] = {}
        for page in self.client("ecr").get_paginator("describe_images").paginate(repositoryName=self.world.repository):
            for image in page["imageDetails"]:
                for tag in image.get("imageTags", []):
                    tags[tag] = image["imageDigest"]
        return tags

    def build_of(self, digest: str | None) -> str | None:
        """Which seeded build (its commit id) a digest belongs to."""
        assert self.world is not None, "start() first"
        return {self.world.current_digest: self.world.current_sha, self.world.new_digest: self.world.new_sha}.get(
            digest or ""
        )

    def services(self) -> dict[str, dict[str, Any]]:
        """`describe_services` of the seeded services, by name."""
        assert self.world is not None, "start() first"
        response = self.client("ecs").describe_services(cluster=self.world.cluster, services=list(self.world.services))
        return {s["serviceName"]: s for s in response["services"]}

    def running_images(self) -> dict[str, dict[str, int]]:
        """Each seeded service's running tasks, by the image digest they run (`containers[].imageDigest`)."""
        assert self.world is not None, "start() first"
        ecs, images = self.client("ecs"), {}
        for name in self.world.services:
            arns = ecs.list_tasks(cluster=self.world.cluster, serviceName=name, desiredStatus="RUNNING")["taskArns"]
            tasks = ecs.describe_tasks(cluster=self.world.cluster, tasks=arns)["tasks"] if arns else []
            counts: dict[str, int] = {}
            for task in tasks:
                digest = task["containers"][0].get("imageDigest") or "(none)"
                counts[digest] = counts.get(digest, 0) + 1
            images[name] = counts
        return images

    @property
    def registrations(self) -> list[Registration]:
        """What the Sleuth stand-in received so far."""
        assert self._sleuth is not None, "start() first"
        return self._sleuth.records

    def hook_url(self, hook: str) -> str:
        """The Slack (`slack`) or webhook (`webhook`) stand-in's URL, its secret included (fab reads it from
        SLACK_WEBHOOK_URL and DEPLOY_WEBHOOK_URL)."""
        assert self._hooks, "start() first"
        return self._hooks[hook].hook_url

    def deliveries(self, hook: str) -> list[Delivery]:
        """What the Slack (`slack`) or webhook (`webhook`) stand-in received so far."""
        assert self._hooks, "start() first"
        return self._hooks[hook].records

    @property
    def emulator(self) -> EcsEmulator:
        assert self._emulator is not None, "start() first"
        return self._emulator


# What the first start of each shape seeded (services and counts, controllers, circuit breaker): the world's names
# and a copy of moto's state right after seeding, before the emulator settled it.
_SEEDED: dict[tuple[Any, ...], tuple[World, dict[str, Any]]] = {}


@functools.cache
def _inspector_session() -> Any:
    """One boto3 session per process for every sandbox's own clients: a session loads each service's model once
    (about a tenth of a second for ECS), and the sandbox's credentials never change."""
    return boto3.session.Session(
        aws_access_key_id=settings.INSPECTOR_ACCESS_KEY_ID,
        aws_secret_access_key=settings.FAKE_AWS_SECRET_ACCESS_KEY,
        region_name=settings.REGION,
    )


class _FlowListDumper(yaml.SafeDumper):
    """Block mappings, flow lists: `services: [web, worker]`, as the README's examples write them."""


_FlowListDumper.add_representer(
    list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _stop_promptly(server: ThreadedMotoServer) -> None:
    """`server.stop()`, without waiting out the half-second poll of its `serve_forever` loop.

    socketserver notices a shutdown request between polls or right after a connection arrives, so knock
    (connect and hang up) until the stop has gone through.
    """
    host, port = server.get_host_and_port()
    stopper = threading.Thread(target=server.stop, name="sandbox-moto-stop")
    stopper.start()
    for _ in range(50):
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=0.2).close()
        stopper.join(0.02)
        if not stopper.is_alive():
            return
    stopper.join()

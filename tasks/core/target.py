"""The environment a task changes, connected: its gateways, the clock, where output goes, and how long to wait.

Assumptions: one run changes one environment; every step of a plan runs with the same `Target`. The clients
come from boto3's own configuration (see aws.py) and are shared by the threads that start rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass

from .aws import Clients
from .clock import Clock, Say
from .config import Environment
from .ecr import Registry
from .ecs import Cluster
from .logs import LogStream, StreamFactory


@dataclass
class Target:
    env: Environment
    clients: Clients
    registry: Registry
    cluster: Cluster
    open_stream: StreamFactory
    clock: Clock
    say: Say
    timeout: float  # seconds a migration or a rollout may take in this run
    interval: float  # seconds between two polls
    parallel: int = 8  # new deployments started at once (deploy.parallel)

    @classmethod
    def build(
        cls, env: Environment, clients: Clients, clock: Clock, say: Say, timeout: float | None = None
    ) -> Target:
        return cls(
            env=env,
            clients=clients,
            registry=Registry(clients.ecr, env.repository),
            cluster=Cluster(clients.ecs, env.cluster, env.parallel),
            open_stream=lambda group, stream: LogStream(clients.logs, group, stream),
            clock=clock,
            say=say,
            timeout=float(timeout) if timeout else env.timeout,
            interval=env.poll_interval,
            parallel=env.parallel,
        )

    @property
    def put_back_timeout(self) -> float:
        """How long a put-back rollout may take: never less than the environment's own timeout, whatever
        `--timeout` this run was given, since it is what puts production back."""
        return max(self.timeout, self.env.timeout)

"""The environment a task changes, connected: its gateways, the clock, where output goes, and how long to wait.

Assumptions: one run changes one environment; every step of a plan runs with the same `Target`. Steps and checks
reach AWS only through the gateways here (Registry, Cluster, Logs, Accounts, the deploy lock, the history); the
clients come from boto3's own configuration (see aws.py), are shared by the threads that start rollouts, and the
ones a task may never use (logs, STS, SSM) are made on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .aws import Clients
from .clock import Clock, Say, Writes
from .config import Environment
from .ecr import Registry
from .ecs import Cluster, Service
from .history import History
from .identity import Accounts, caller_identity, guard_account
from .lock import DeployLock
from .logs import Logs
from .record import Journal
from .service_deployments import strategy_seconds

# How long a write AWS throttled is tried again while a deploy goes forward; a put-back tries for its own time.
WRITE_RETRY_SECONDS = 60.0


@dataclass
class Target:
    env: Environment
    registry: Registry
    cluster: Cluster
    clock: Clock
    say: Say
    timeout: float  # seconds a migration or a rollout may take in this run
    interval: float  # seconds between two polls
    parallel: int = 8  # new deployments started at once (deploy.parallel)
    timeout_given: bool = False  # --timeout was given: it caps each rollout, bake times included
    _clients: Clients | None = field(default=None, repr=False)  # for the gateways made on first use
    journal: Journal = field(default_factory=Journal)  # what the executor saw: the deploy record's steps

    @property
    def writes(self) -> Writes:
        """How the registry's and the cluster's writes outlast throttling (one policy for both)."""
        return self.cluster.writes

    @classmethod
    def build(
        cls, env: Environment, clients: Clients, clock: Clock, say: Say, timeout: float | None = None
    ) -> Target:
        writes = Writes(clock, say, budget=WRITE_RETRY_SECONDS)
        return cls(
            env=env,
            registry=Registry(clients.ecr, env.repository, writes),
            cluster=Cluster(clients.ecs, env.cluster, env.parallel, writes),
            clock=clock,
            say=say,
            timeout=float(timeout) if timeout else env.timeout,
            timeout_given=bool(timeout),
            interval=env.poll_interval,
            parallel=env.parallel,
            _clients=clients,
        )

    @cached_property
    def logs(self) -> Logs:
        return Logs(self._connected.logs)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self._connected.sts)

    @cached_property
    def lock(self) -> DeployLock:
        return DeployLock(self._connected.ssm, self.env, self.clock)

    @cached_property
    def history(self) -> History:
        return History(self._connected.ssm, self.env, self.clock, self.say)

    def reconnect(self) -> bool:
        """Every gateway on a new session, for a put-back after AWS refused the credentials as expired: True when
        the chain gave other credentials (they may be fresh), False when it gave the same ones again (static
        keys, an exported session: nothing here can refresh them). A new session that fails to resolve, or whose
        credentials belong to another account than the environment's, raises `DeployError`."""
        old = self._connected
        new = old.renewed()
        if new.access_key_id() == old.access_key_id():
            return False
        if self.env.account:  # before any gateway uses them
            guard_account(caller_identity(new.sts), self.env)
        self._clients = new
        self.registry.client, self.cluster.client = new.ecr, new.ecs
        for name, client in (("logs", "logs"), ("lock", "ssm"), ("history", "ssm")):
            if name in self.__dict__:  # made already (cached_property): keep its state, swap its client
                getattr(self, name).client = getattr(new, client)
        self.__dict__.pop("accounts", None)  # whose credentials these are is asked again
        return True

    @property
    def _connected(self) -> Clients:
        if self._clients is None:
            raise RuntimeError("this Target was made without clients: build it with Target.build")
        return self._clients

    @property
    def put_back_timeout(self) -> float:
        """How long a put-back rollout may take: never less than the environment's own timeout, whatever
        `--timeout` this run was given, since it is what puts production back."""
        return max(self.timeout, self.env.timeout)

    def rollout_timeout(self, service: Service) -> float:
        """How long `service`'s rollout may take: the timeout plus the time its strategy bakes (blue/green,
        linear and canary bake times), unless --timeout was given, which caps it whatever the strategy."""
        if self.timeout_given:
            return self.timeout
        return self.timeout + strategy_seconds(service.deployment_configuration)

    def put_back_rollout_timeout(self, service: Service) -> float:
        """A put-back rollout's time: never less than the environment's timeout plus its strategy's bakes."""
        return max(self.rollout_timeout(service), self.env.timeout + strategy_seconds(service.deployment_configuration))

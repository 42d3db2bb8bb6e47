"""A local sandbox for the deploy tasks: emulated AWS (ECR, ECS, CloudWatch Logs) and a Sleuth stand-in.

Run it by hand with `python -m sandbox`, watch a deploy with `make demo`, or use it in tests:

    with Sandbox(Options(scenario="migration-fails", rollout_seconds=0.5)) as sandbox:
        env = sandbox.process_environment()
        ...

Assumptions: moto[server] is installed (the project's test extra); everything listens on 127.0.0.1 only; one
sandbox per process at a time (moto's state is process-global). Not part of the `tasks` library.
"""

from .settings import SCENARIOS, SECRETS, Options
from .stack import Sandbox

__all__ = ["SCENARIOS", "SECRETS", "Options", "Sandbox"]

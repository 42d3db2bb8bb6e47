"""A local sandbox for the deploy tasks: emulated AWS (ECR, ECS, CloudWatch Logs) and a Sleuth stand-in.

Run it by hand with `python -m sandbox`, watch a deploy with `make demo`, or use it in tests:

    with Sandbox(Options(scenario="migration-fails", rollout_seconds=0.5)) as sandbox:
        env = sandbox.process_environment()
        ...

Assumptions: moto[server] is installed (the project's test extra); everything listens on 127.0.0.1 only; one
sandbox per process at a time (moto's state is process-global). Not part of the `tasks` library. Importing the
package is cheap: moto is imported with `Sandbox`, on first use.
"""

from typing import TYPE_CHECKING, Any

from .models import share_service_models

share_service_models()  # before moto is imported: it makes a session per service it emulates

from .settings import SCENARIOS, SECRETS, Options  # noqa: E402

if TYPE_CHECKING:
    from .stack import Sandbox

__all__ = ["SCENARIOS", "SECRETS", "Options", "Sandbox"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from .stack import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

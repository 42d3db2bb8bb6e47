"""The configuration's defaults, declared to Fabric with `ns.configure` so `FABRIC_DEPLOY_*` can override them.

Kept apart from config.py so that `fab --list`, which needs only these, does not build the config classes.
Numbers and lists are declared as None, their real defaults below: Invoke casts an environment variable to
the type of the value it overrides, so `FABRIC_DEPLOY_TIMEOUT=90.5` against an int default would end in a
ValueError traceback inside Invoke, and a list default refuses any variable. Declared as None, the variable
arrives as text, and config.py checks it like any other value, naming the variable when it is wrong.
"""

from typing import Any

TIMEOUT = 1800.0  # seconds a migration or a rollout may take
POLL_INTERVAL = 5.0  # seconds between status checks
SLEUTH_URL = "https://app.sleuth.io"
PARALLEL = 8  # new deployments started, and reads made, at once

DEFAULTS: dict[str, Any] = {
    "repository": None,
    "region": None,
    "timeout": None,  # TIMEOUT
    "poll_interval": None,  # POLL_INTERVAL
    "parallel": None,  # PARALLEL
    "environments": {},
    "sleuth": {"url": SLEUTH_URL, "org": None, "deployment": None, "tags": None, "email": None, "auth": "bearer"},
}

"""The configuration's defaults, declared to Fabric with `ns.configure` so `FABRIC_DEPLOY_*` can override them.

Kept apart from config.py so that `fab --list`, which needs only these, does not build the config classes.
"""

from typing import Any

DEFAULTS: dict[str, Any] = {
    "repository": None,
    "region": None,
    "timeout": 1800,
    "poll_interval": 5,
    "environments": {},
    "sleuth": {"url": "https://app.sleuth.io", "org": None, "deployment": None, "tags": [], "email": None,
               "auth": "bearer"},
}

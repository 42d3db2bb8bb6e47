"""One botocore loader, and so one copy of AWS's service models, for every botocore session in this process.

moto makes a new boto3 session for each service it emulates (to list the service's regions), and the sandbox and
the tests make their own; each new session parses the models it needs again (EC2's model several times per
sandbox start, a large part of it). The models are read-only files that every session reads alike (botocore
already hands one session the same parsed copy on every request), so sessions made after
`share_service_models()` take the loader of the first session made with the same data path. Assumption:
botocore's session makes its loader through the module-level `botocore.session.create_loader`, looked up when
the loader is first needed.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session


def share_service_models() -> None:
    """From now on, one loader per data path for every new botocore (and boto3) session in this process."""
    if getattr(botocore.session.create_loader, "shared", False):
        return
    create = functools.cache(botocore.session.create_loader)

    def create_loader(search_path_string: str | None = None) -> Any:
        return create(search_path_string)

    create_loader.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = create_loader

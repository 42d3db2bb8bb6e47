"""Entry point for `fab`: the task collection lives in `tasks/`.

fab reads its config files (fabric.yaml beside this file, the `fab -f` file) right after importing this one;
the call checks them first, and the FABRIC_DEPLOY_* variables, so a bad one is one line here, not a traceback.
"""
from tasks import check_config_files, ns  # noqa: F401

check_config_files(__file__)

"""The package as pip installs it: `tasks/` becomes `fab_ecs_release`, every subpackage included, one copy only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_under_tasks_is_installed_under_the_distinct_name():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"fab_ecs_release": "tasks"}
    folders = sorted(".".join(("fab_ecs_release", *p.parent.relative_to(ROOT / "tasks").parts))
                     for p in (ROOT / "tasks").rglob("__init__.py"))
    assert sorted(setuptools["packages"]) == folders


def test_the_same_files_imported_under_both_names_are_refused_with_one_line_saying_so():
    done = subprocess.run([sys.executable, "-c", "import tasks, fab_ecs_release"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"ImportError: {ROOT / 'tasks' / '__init__.py'} is already imported as 'tasks': import it under one name "
        "only (an application: `from fab_ecs_release import ns`; this repository: `from tasks import ns`)")
    alone = subprocess.run([sys.executable, "-c", "import fab_ecs_release.core.config"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr

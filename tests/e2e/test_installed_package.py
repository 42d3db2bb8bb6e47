"""End to end: the library installed with pip into an application repository that has its own Invoke tasks.

The application is a toy repository in a temporary folder: its own `pyproject.toml`, `Makefile` and `tasks.py`
(Invoke's default collection name), and the one-line `fabfile.py` a team writes. The library is installed the
way a team installs it, `pip install <path of this repository>`, into the application's own virtualenv (its
dependencies, fabric and boto3, come from the test virtualenv through a `.pth` line, so no network is needed),
from a copy of the repository's files so nothing is built inside the checkout. Then the real `fab` (`python -m
fabric`, the program the `fab` script runs) lists the tasks, and from the application's folder `fab init` reads
the sandbox's cluster and writes its `fabric.yaml`, which `fab check` and `fab deploy` then take. What init
cannot know and a team fills in (Sleuth's slugs) and the sandbox's pace come in a runtime file (`fab -f`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from e2e.deploys import PACE, POLL_INTERVAL
from sandbox import Options, Sandbox, settings
from sandbox.fab import stream

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ("pyproject.toml", "README.md", "fabfile.py", "tasks")

APP_TASKS = '''"""The application's own Invoke tasks: `invoke --list` shows them."""
from invoke import task


@task
def hello(c):
    """Say hello from the application's own tasks.py."""
    print("hello from the application")
'''
APP_PYPROJECT = '''[project]
name = "toy-app"
version = "1.0.0"
dependencies = ["django>=5"]
'''
APP_MAKEFILE = "test:\n\tpython -m pytest\n\ndeploy:\n\tfab deploy --sha $(SHA) --tag $(TAG) --env staging\n"
FABFILE = "from fab_ecs_release import check_config_files, ns  # noqa: F401\n\ncheck_config_files(__file__)\n"


@dataclass
class Application:
    folder: Path
    python: Path
    sandbox: Sandbox

    def run(self, *command: str, cwd: Path | None = None) -> tuple[int, str]:
        return stream(command, self.sandbox.process_environment(), cwd=cwd or self.folder, timeout=90)

    def fab(self, *arguments: str) -> tuple[int, str]:
        return self.run(str(self.python), "-m", "fabric", *arguments)

    def runtime_file(self) -> Path:
        """What a team adds by hand after `fab init` (Sleuth), and the sandbox's pace."""
        path = self.folder.parent / "runtime.yaml"
        sleuth = self.sandbox.fabric_config()["deploy"]["sleuth"]
        path.write_text(yaml.safe_dump({"deploy": {"timeout": 15, "poll_interval": POLL_INTERVAL, "sleuth": sleuth}}))
        return path


def install(folder: Path) -> Path:
    """A virtualenv in `folder/.venv` with the library pip-installed from a copy of this repository; its python."""
    source = folder.parent / "library"
    source.mkdir()
    for name in PACKAGE_FILES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / ".venv")], check=True, timeout=60)
    python = folder / ".venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "test-venv.pth").write_text(sysconfig.get_path("purelib") + "\n")  # fabric, boto3, setuptools
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-build-isolation", str(source)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


@pytest.fixture(scope="module")
def application() -> Iterator[Application]:
    with tempfile.TemporaryDirectory(prefix="e2e-app-") as directory, \
            Sandbox(Options(scenario="success", **PACE)) as sandbox:
        folder = Path(directory, "toy-app")
        folder.mkdir()
        (folder / "tasks.py").write_text(APP_TASKS)
        (folder / "pyproject.toml").write_text(APP_PYPROJECT)
        (folder / "Makefile").write_text(APP_MAKEFILE)
        (folder / "fabfile.py").write_text(FABFILE)
        yield Application(folder, install(folder), sandbox)


@pytest.mark.parametrize("layout", ["tasks.py", "tasks/__init__.py"])
def test_the_installed_package_is_imported_under_its_own_name_beside_the_applications_tasks(application, layout):
    folder = application.folder
    if layout != "tasks.py":  # another application, whose own tasks are a package; the same virtualenv
        folder = folder.parent / "toy-app-package"
        (folder / "tasks").mkdir(parents=True, exist_ok=True)
        (folder / layout).write_text(APP_TASKS)
        (folder / "fabfile.py").write_text(FABFILE)
    code, output = application.run(str(application.python), "-c", "import tasks, fab_ecs_release; "
                                   "print(tasks.__file__); print(fab_ecs_release.__file__)", cwd=folder)
    assert code == 0, output
    app_module, library = output.split()
    assert Path(app_module) == folder / layout  # the application's module is not shadowed
    assert "site-packages" in library and str(ROOT) not in library  # the installed copy, not this checkout
    code, output = application.run(str(application.python), "-m", "invoke", "--list", cwd=folder)
    assert code == 0, output
    assert "hello" in output and "deploy" not in output  # Invoke still finds the application's own tasks
    code, output = application.run(str(application.python), "-m", "fabric", "--list", cwd=folder)
    assert code == 0, output
    assert "\n  deploy " in output and "hello" not in output  # and fab these


def test_fab_lists_the_tasks_without_importing_boto3_or_requests(application):
    code, output = application.fab("--list")
    assert code == 0, output
    for name in ("deploy", "rollback", "check", "status"):
        assert f"\n  {name} " in output, output
    code, output = application.run(str(application.python), "-c", "import sys; from fabric.main import program; "
                                   "program.run(['fab', '--list'], exit=False); "
                                   "print(sorted({'boto3', 'requests'} & set(sys.modules)))")
    assert code == 0, output
    assert output.splitlines()[-1] == "[]"


def test_fab_init_writes_the_file_that_fab_check_and_fab_deploy_take(application):
    world, sandbox = application.sandbox.world, application.sandbox
    assert world is not None
    tags_before = sandbox.image_tags()
    code, output = application.fab("init", "--cluster", world.cluster)
    assert code == 0, output
    assert output.splitlines()[-1].startswith("wrote fabric.yaml: ")
    assert sandbox.image_tags() == tags_before  # init changed nothing
    env = yaml.safe_load((application.folder / "fabric.yaml").read_text())["deploy"]["environments"]
    assert env == {world.cluster: {"cluster": world.cluster, "services": list(world.services),
                                   "release_tag": settings.RELEASE_TAG, "account": world.account}}
    runtime = str(application.runtime_file())
    code, output = application.fab("-f", runtime, "check", "--env", world.cluster)
    assert code == 0, output
    assert output.splitlines()[-1] == f"{world.cluster} is ready to deploy"
    code, output = application.fab("-f", runtime, "deploy", "--sha", world.new_sha, "--tag", world.new_sha,
                                   "--env", world.cluster)
    assert code == 0, output
    lines = [line for line in output.splitlines() if line.strip()]
    headline = f"deployed {world.new_sha} to {world.cluster} in "
    assert any(line.startswith(headline) for line in lines[-4:]), output
    assert sandbox.image_tags()["latest"] == world.new_digest
    assert sandbox.running_images() == {name: {world.new_digest: count} for name, count in settings.SERVICES.items()}
    assert [(r.body["sha"], r.body["environment"], r.status) for r in sandbox.registrations] == [
        (world.new_sha, world.cluster, 200)]

"""The release jobs an application pastes into its own pipeline (.circleci/release.yml), pasted into one.

The sample application (data/application-circleci.yml) has its own parameter, executor, command, jobs and
workflow; `paste` does what docs/adopting.md tells a team to do. The result must pass CircleCI's schema and every
check test_circleci.py makes of this repository's own pipeline (job graph, branches, pushes, caches, gate, shell,
every `fab` command), and keep the application's own jobs as they were. This repository's .circleci/config.yml
runs the same jobs: its copy is kept equal to release.yml here.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from meta.test_circleci import (
    CONFIG_PATH,
    OTHER_BRANCHES,
    ROOT,
    SHELLCHECK,
    branch_problems,
    build_problems,
    cache_problems,
    check_schema,
    entries,
    fab_problems,
    gate_problems,
    graph_problems,
    image_source_problems,
    parameter_problems,
    push_problems,
    run_scripts,
    running,
    shell_of,
)

RELEASE_PATH = ROOT / ".circleci" / "release.yml"
APPLICATION_PATH = Path(__file__).parent / "data" / "application-circleci.yml"
SECTIONS = ("parameters", "executors", "commands", "jobs")
RELEASE_JOBS = {"build-image", "build-branch-image", "deploy-staging", "plan-production", "hold-production",
                "deploy-production"}
OWN_INSTALL = "install-fab"  # this repository installs its checkout's dependencies; an application, the package


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def paste(application: dict[str, Any], release: dict[str, Any], workflow: str) -> dict[str, Any]:
    """`release`'s sections added to the application's, its workflow entries appended to `workflow`; a name
    defined on both sides is refused, as a team must rename one."""
    merged = copy.deepcopy(application)
    for section in SECTIONS:
        mine = merged.setdefault(section, {})
        for name, body in (release.get(section) or {}).items():
            if name in mine:
                raise ValueError(f"{section}.{name} is defined by the application and by release.yml: rename one")
            mine[name] = copy.deepcopy(body)
    (release_workflow,) = release["workflows"].values()
    merged["workflows"][workflow]["jobs"].extend(copy.deepcopy(release_workflow["jobs"]))
    return merged


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    return paste(load(APPLICATION_PATH), load(RELEASE_PATH), "main")


def test_the_pasted_pipeline_is_valid_against_circleci_schema(merged, tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    result = check_schema(path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("check", [graph_problems, gate_problems, branch_problems, push_problems, cache_problems,
                                   build_problems, image_source_problems, parameter_problems])
def test_the_pasted_pipeline_passes_every_check_of_this_repositorys_own(merged, check):
    assert check(merged) == []


def test_every_fab_command_of_the_pasted_pipeline_is_accepted_by_the_real_fab_program(merged, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert fab_problems(merged) == []


def test_the_application_keeps_its_jobs_and_the_release_runs_after_its_tests(merged):
    application = load(APPLICATION_PATH)
    for section in SECTIONS:
        for name, body in application[section].items():
            assert merged[section][name] == body
    assert merged["workflows"]["main"]["jobs"][:2] == application["workflows"]["main"]["jobs"]
    for branch in OTHER_BRANCHES:
        assert running(merged, branch) == {"lint", "test", "build-branch-image"}, branch
    assert running(merged, "main") == {"lint", "test"} | RELEASE_JOBS - {"build-branch-image"}


def test_every_run_step_of_the_pasted_pipeline_is_valid_bash_and_passes_shellcheck(merged):
    failures = []
    for where, script in run_scripts(merged):
        for command in (["bash", "-n"], [SHELLCHECK, "--shell=bash", "--severity=style", "-"]):
            result = subprocess.run(command, input=shell_of(script), capture_output=True, text=True)
            if result.returncode:
                failures.append(f"{where}: {result.stdout}{result.stderr}")
    assert failures == []


def test_a_name_the_application_already_uses_is_refused():
    application = load(APPLICATION_PATH)
    application["jobs"]["deploy"] = application["jobs"]["test"]
    with pytest.raises(ValueError, match=r"^jobs\.deploy is defined by the application and by release.yml"):
        paste(application, load(RELEASE_PATH), "main")


def test_the_checks_catch_a_paste_that_forgets_to_point_requires_at_the_applications_jobs():
    application = load(APPLICATION_PATH)
    application["jobs"]["unit-tests"] = application["jobs"].pop("test")
    application["workflows"]["main"]["jobs"][1] = {"unit-tests": {"requires": ["lint"]}}
    merged = paste(application, load(RELEASE_PATH), "main")
    assert "workflow main: 'build-image' requires 'test', not a job of this workflow" in graph_problems(merged)


def test_this_repositorys_pipeline_runs_the_release_jobs_as_release_yml_defines_them():
    release, own = load(RELEASE_PATH), load(CONFIG_PATH)
    for section in SECTIONS:
        for name, body in release[section].items():
            if name != OWN_INSTALL:
                assert own[section][name] == body, f"{section}.{name} differs from .circleci/release.yml"
    (release_workflow,) = release["workflows"].values()
    (own_workflow,) = own["workflows"].values()
    assert [e for e in own_workflow["jobs"] if next(entries({"jobs": [e]}))[0] in RELEASE_JOBS] == \
        release_workflow["jobs"]


def test_the_application_installs_the_package_from_a_literal_outside_the_checkout():
    (step,) = load(RELEASE_PATH)["commands"][OWN_INSTALL]["steps"]
    command = step["run"]["command"]
    install = next(line for line in command.splitlines() if "pip install" in line)
    assert re.fullmatch(r'~/fab-tools/bin/python -m pip install --quiet "fabric-ecs-release @ git\+https://\S+@\S+"',
                        install.strip()), install
    assert "<<" not in command and "[test]" not in command  # no pipeline value picks the code, no test extra
    assert "python3 -m venv ~/fab-tools" in command


def test_the_docs_link_the_release_jobs_and_copy_none_of_them():
    page = (ROOT / "docs" / "adopting.md").read_text()
    assert "](../.circleci/release.yml)" in page
    for name in ("setup-aws-credentials:", "install-fab:", "image-tag:"):
        assert name not in page, f"docs/adopting.md copies {name} of .circleci/release.yml: link it instead"

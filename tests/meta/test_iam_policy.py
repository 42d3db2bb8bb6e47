"""The IAM policies in docs/ against the AWS calls the code really makes, so neither list can drift.

The calls are recorded while the suite runs (conftest.py: botocore's `before-call` event, kept when the call
comes from the `tasks` package), and compared with docs/iam-policy*.json when the suite ends: a call no policy
grants fails any run; a grant the code never called fails a run of the whole suite. The IAM action names the
core puts in its messages (`call("ecr:PutImage", ...)`) are checked too: they send people to this policy.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml
from botocore import xform_name
from conftest import IMPLIED  # actions granted that are no call of ours (iam:PassRole)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SERVICES = ("ecr", "ecs", "logs", "sts", "ssm")
READ_PREFIXES = ("Describe", "List", "Get", "BatchGet")
ACTION_STRING = re.compile(r"^(?P<service>[a-z0-9-]+):(?P<operation>[A-Z][A-Za-z0-9]+)$")


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's service model."""
    model = _session().get_service_model(service)
    return {xform_name(name): model.operation_model(name).name for name in model.operation_names}


@cache
def iam_prefix(service: str) -> str:
    return _session().get_service_model(service).signing_name


def action(service: str, operation: str) -> str:
    return f"{iam_prefix(service)}:{operation}"


def sources() -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / "tasks").rglob("*.py")):
        yield path, path.read_text()


def policy(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text())


def policy_actions(document: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in document["Statement"]:
        value = statement["Action"]
        actions |= {value} if isinstance(value, str) else set(value)
    return actions


def is_read(action_name: str) -> bool:
    return action_name.split(":", 1)[1].startswith(READ_PREFIXES)


# --- the calls the suite saw the code make (recorded in conftest.py, checked again when the suite ends) ------


def test_a_call_the_code_makes_is_recorded_as_its_iam_action_and_a_tests_own_call_is_not(world):
    from conftest import RECORDED_ACTIONS

    from tasks.core.aws import clients_for
    from tasks.core.identity import caller_identity

    RECORDED_ACTIONS.discard("sts:GetCallerIdentity")
    world.ssm.describe_parameters()  # the test's own call
    caller_identity(clients_for("us-east-1").sts)
    assert "sts:GetCallerIdentity" in RECORDED_ACTIONS
    assert "ssm:DescribeParameters" not in RECORDED_ACTIONS


def test_a_deploy_and_its_dry_run_make_only_granted_calls_and_the_plan_role_may_make_the_dry_run(
        world, project, capsys):
    """The calls of the flows a role exists for, recorded in this test (whatever ran before it on this worker);
    every call any test saw is checked again when the suite ends (conftest.py's pytest_sessionfinish)."""
    from conftest import NEW_SHA, NEW_TAG, RECORDED_ACTIONS, fab, iam_problems

    earlier = set(RECORDED_ACTIONS)
    RECORDED_ACTIONS.clear()
    try:
        assert fab(capsys, "--dry", "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")[0] == 0
        dry_run = set(RECORDED_ACTIONS)
        assert fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")[0] == 0
        assert fab(capsys, "status", "--env", "staging")[0] == 0
        made = set(RECORDED_ACTIONS)
    finally:
        RECORDED_ACTIONS.update(earlier)
    assert {"ecr:PutImage", "ecs:RunTask", "ecs:UpdateService", "ssm:PutParameter", "logs:GetLogEvents"} <= made
    assert iam_problems(made, whole_suite=False) == []
    assert dry_run and dry_run <= policy_actions(policy("iam-policy-plan.json"))


def test_fab_init_makes_only_reads_and_the_plan_role_may_make_them(world, project, capsys):
    from conftest import RECORDED_ACTIONS, fab

    earlier = set(RECORDED_ACTIONS)
    RECORDED_ACTIONS.clear()
    try:
        (project / "fabric.yaml").unlink()
        assert fab(capsys, "init", "--cluster", "acme-staging")[0] == 0
        made = set(RECORDED_ACTIONS)
    finally:
        RECORDED_ACTIONS.update(earlier)
    assert {"ecs:ListServices", "ecs:DescribeServices", "ecr:DescribeRepositories"} <= made
    assert all(is_read(a) for a in made), made
    assert made <= policy_actions(policy("iam-policy-plan.json"))


def test_the_check_catches_a_call_no_policy_grants_and_a_grant_nothing_calls():
    from conftest import iam_problems

    granted = policy_actions(policy("iam-policy.json")) - set(IMPLIED)
    assert iam_problems(granted, whole_suite=True) == []
    assert iam_problems(granted | {"ecs:DeleteService"}, whole_suite=False) == [
        "ecs:DeleteService is called by the code but not granted in docs/iam-policy.json"]
    assert iam_problems(granted - {"ecr:PutImage"}, whole_suite=True) == [
        "ecr:PutImage is granted in docs/iam-policy.json but the whole suite never saw the code call it"]
    assert iam_problems(granted - {"ecs:ListTasks"}, whole_suite=True) == [
        "ecs:ListTasks is granted in docs/iam-policy-plan.json but the whole suite never saw the code call it",
        "ecs:ListTasks is granted in docs/iam-policy.json but the whole suite never saw the code call it",
    ]


def test_iam_actions_named_in_error_messages_exist_and_are_granted():
    granted = policy_actions(policy("iam-policy.json"))
    named = set()
    for path, text in sources():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = ACTION_STRING.match(node.value)
                if match and match["service"] in SERVICES:
                    named.add((str(path.relative_to(ROOT)), node.value))
    assert named, "the core names the IAM action in its access-denied messages"
    for where, name in sorted(named):
        service, operation = name.split(":")
        assert operation in operations(service).values(), f"{where}: {name} is no {service} operation"
        assert name in granted, f"{where}: {name} is named in a message but not granted in docs/iam-policy.json"


PUSH = {  # AWS ECR user guide, "IAM permissions for pushing an image"
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
}
DOCUMENTS = [
    "iam-policy.json",
    "iam-policy-plan.json",
    "iam-policy-build.json",
    "iam-policy-branch-build.json",
    "iam-trust-policy.json",
    "iam-trust-policy-branches.json",
]
# Each role: its permissions and its trust policy, as the README's table of roles pairs them.
ROLES = {
    "push (main)": ("iam-policy-build.json", "iam-trust-policy.json"),
    "push (other branches)": ("iam-policy-branch-build.json", "iam-trust-policy-branches.json"),
    "staging deploy": ("iam-policy.json", "iam-trust-policy.json"),
    "production plan": ("iam-policy-plan.json", "iam-trust-policy.json"),
    "production deploy": ("iam-policy.json", "iam-trust-policy.json"),
}
PROVIDER = "oidc.circleci.com/org/ORGANIZATION_ID"
SUB = "org/ORGANIZATION_ID/project/PROJECT_ID/user/0a1b2c3d/vcs-origin/{origin}/vcs-ref/refs/heads/{branch}"
# The `sub` of CIRCLE_OIDC_TOKEN_V2 (CircleCI, "Using OpenID Connect tokens in jobs") for jobs that must or
# must not reach an environment: main of this repository, another branch of it, and a fork's main.
MAIN_TOKEN = SUB.format(origin="VCS_ORIGIN", branch="main")
BRANCH_TOKEN = SUB.format(origin="VCS_ORIGIN", branch="feature/login")
FORK_TOKEN = SUB.format(origin="github.com/someone/fork", branch="main")


def accepts(trust: dict[str, Any], sub: str) -> bool:
    """Whether a trust policy lets a CircleCI job whose token has this `sub` (and the organization's `aud`)
    assume the role: IAM's StringEquals and StringLike (`*` any characters, `?` one) on the token's claims."""
    claims = {f"{PROVIDER}:aud": "ORGANIZATION_ID", f"{PROVIDER}:sub": sub}
    for statement in trust["Statement"]:
        conditions = statement.get("Condition", {})
        equal = all(claims.get(key) == value for key, value in conditions.get("StringEquals", {}).items())
        like = all(
            fnmatch.fnmatchcase(claims.get(key, ""), value) for key, value in conditions.get("StringLike", {}).items()
        )
        if statement["Action"] == "sts:AssumeRoleWithWebIdentity" and equal and like:
            return True
    return False


def writes(document: dict[str, Any]) -> set[str]:
    """The resources a policy lets its role change (any action that is not a read)."""
    found: set[str] = set()
    for statement in document["Statement"]:
        actions = statement["Action"]
        if any(not is_read(a) for a in ([actions] if isinstance(actions, str) else actions)):
            resources = statement["Resource"]
            found |= {resources} if isinstance(resources, str) else set(resources)
    return found


def reach_problems(documents: dict[str, dict[str, Any]]) -> list[str]:
    """A role a branch or a fork can assume changes nothing but the branch repository; every role can be
    assumed from main; no role can be assumed from a fork."""
    problems = []
    for role, (permissions, trust) in ROLES.items():
        if not accepts(documents[trust], MAIN_TOKEN):
            problems.append(f"{role}: {trust} refuses jobs on main")
        if accepts(documents[trust], FORK_TOKEN):
            problems.append(f"{role}: {trust} accepts a fork's jobs")
        if accepts(documents[trust], BRANCH_TOKEN):
            changed = writes(documents[permissions]) - {"arn:aws:ecr:REGION:ACCOUNT_ID:repository/BRANCH_REPOSITORY"}
            problems += [f"{role}: a job on any branch may change {r} ({permissions})" for r in sorted(changed)]
    return problems


def test_no_role_a_branch_or_a_fork_can_assume_changes_what_an_environment_runs():
    documents = {name: policy(name) for name in DOCUMENTS}
    assert reach_problems(documents) == []
    assert accepts(documents["iam-trust-policy-branches.json"], BRANCH_TOKEN)  # branches may push their builds
    assert not accepts(documents["iam-trust-policy.json"], BRANCH_TOKEN)


@pytest.mark.parametrize(
    ("document", "path", "value", "expected"),
    [
        ("iam-trust-policy.json", "sub", MAIN_TOKEN.replace("refs/heads/main", "refs/heads/*"), "may change arn"),
        ("iam-trust-policy.json", "sub", MAIN_TOKEN.replace("VCS_ORIGIN", "*"), "accepts a fork's jobs"),
        ("iam-trust-policy-branches.json", "sub", BRANCH_TOKEN.replace("feature/login", "release/*"), "refuses"),
        ("iam-policy-branch-build.json", "resource", "arn:aws:ecr:REGION:ACCOUNT_ID:repository/REPOSITORY", "push"),
    ],
)
def test_the_reach_check_catches_a_role_that_reaches_too_far(document, path, value, expected):
    documents = {name: policy(name) for name in DOCUMENTS}
    statement = documents[document]["Statement"][0]
    if path == "sub":
        statement["Condition"]["StringLike"][f"{PROVIDER}:sub"] = value.replace("0a1b2c3d", "*")
    else:
        statement["Resource"] = value
    assert any(expected in p for p in reach_problems(documents)), reach_problems(documents)


@pytest.mark.parametrize(
    ("name", "repository"),
    [("iam-policy-build.json", "REPOSITORY"), ("iam-policy-branch-build.json", "BRANCH_REPOSITORY")],
)
def test_push_policies_can_push_to_their_own_repository_and_do_nothing_else(name, repository):
    document = policy(name)
    assert policy_actions(document) == PUSH
    assert writes(document) == {f"arn:aws:ecr:REGION:ACCOUNT_ID:repository/{repository}"}
    for operation in (a.split(":")[1] for a in PUSH):
        assert operation in operations("ecr").values()


def pipeline_calls() -> dict[str, set[str]]:
    """The IAM actions of the AWS calls the pipeline makes itself, by the job or command whose steps make them
    (`boto3.client("ecr").describe_images(...)` in a run step)."""
    config = yaml.safe_load((ROOT / ".circleci" / "config.yml").read_text())
    found: dict[str, set[str]] = {}
    for kind in ("jobs", "commands"):
        for name, body in config[kind].items():
            for text in strings(body):
                for service, method in re.findall(r'boto3\.client\("(\w+)"\)\.(\w+)\(', text):
                    found.setdefault(name, set()).add(action(service, operations(service)[method]))
    return found


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict | list):
        for item in node.values() if isinstance(node, dict) else node:
            yield from strings(item)


def test_the_pipelines_own_aws_calls_are_granted_to_the_roles_of_the_jobs_that_make_them():
    calls = pipeline_calls()
    assert calls == {"build-image": {"ecr:GetAuthorizationToken"}}  # deploy-production looks its tag up with fab
    for name in ("iam-policy-build.json", "iam-policy-branch-build.json"):
        assert calls["build-image"] <= policy_actions(policy(name)), name


@pytest.mark.parametrize("name", DOCUMENTS)
def test_policy_documents_are_well_formed(name):
    document = policy(name)
    assert document["Version"] == "2012-10-17"
    assert document["Statement"]
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement.get("Resource") or statement.get("Principal")
        actions = statement["Action"]
        for item in [actions] if isinstance(actions, str) else actions:
            assert re.match(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$", item), item
    sids = [s.get("Sid") for s in document["Statement"]]
    assert len(set(sids)) == len(sids)


def test_passrole_is_limited_to_ecs_tasks():
    (statement,) = [s for s in policy("iam-policy.json")["Statement"] if "iam:PassRole" in s["Action"]]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert "*" not in statement["Resource"]


@pytest.mark.parametrize(("name", "ref"), [("iam-trust-policy.json", "main"), ("iam-trust-policy-branches.json", "*")])
def test_trust_policies_accept_only_this_projects_jobs_from_this_repository(name, ref):
    (statement,) = policy(name)["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(f":oidc-provider/{PROVIDER}")
    assert statement["Condition"]["StringEquals"] == {f"{PROVIDER}:aud": "ORGANIZATION_ID"}
    sub = statement["Condition"]["StringLike"][f"{PROVIDER}:sub"]
    assert sub == f"org/ORGANIZATION_ID/project/PROJECT_ID/user/*/vcs-origin/VCS_ORIGIN/vcs-ref/refs/heads/{ref}"


def test_the_set_up_pages_link_each_policy_and_copy_none():
    """A copy of a policy in prose drifts from the file IAM is given; the pages link the files instead."""
    pages = (ROOT / "docs" / "circleci-and-aws.md").read_text() + (ROOT / "docs" / "iam.md").read_text()
    assert "```json" not in pages
    for name in DOCUMENTS:
        assert f"]({name})" in pages, f"docs/circleci-and-aws.md and docs/iam.md do not link docs/{name}"
    for role, (permissions, trust) in ROLES.items():  # the table of roles pairs them as ROLES does
        assert re.search(rf"\n\| {re.escape(role)} \|[^\n]*\]\({permissions}\)[^\n]*\]\({trust}\)", pages), role

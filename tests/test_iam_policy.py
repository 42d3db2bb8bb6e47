"""The IAM policies in docs/ against the AWS calls the code really makes, so neither list can drift.

The calls are read from tasks/**/*.py with `ast`: a call `<receiver>.<operation>(...)` counts when the receiver
is a boto3 client - named after its service (`clients.ecs`, `sts`), assigned from `.client("svc")`, or called
`client`/`*_client` - and the operation is one of that service's, per botocore's own service model (which also
gives the operation's API name, the IAM action's name). `get_paginator("op")` and `get_waiter("name")` count as
the operation they call. A `client` whose service cannot be told (an operation several services have, in a
module not named after one) is reported rather than guessed. The IAM action names the core puts in its
access-denied messages (`calling("ecr:PutImage")`) are checked too: they send people to this policy.
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

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SERVICES = ("ecr", "ecs", "logs", "sts", "ssm")
# Actions the policy grants that are no API call of ours: what AWS checks on our calls' behalf.
IMPLIED = {"iam:PassRole": "ecs:RunTask hands the task definition's task role and execution role to ECS"}
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
def waiters(service: str) -> dict[str, str]:
    model = _session().get_waiter_model(service)
    return {xform_name(name): model.get_waiter(name).operation for name in model.waiter_names}


@cache
def iam_prefix(service: str) -> str:
    return _session().get_service_model(service).signing_name


def action(service: str, operation: str) -> str:
    return f"{iam_prefix(service)}:{operation}"


def _receiver_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _client_service(call: ast.expr) -> str | None:
    """'ecs' for `<anything>.client("ecs")` or `boto3.client("ecs")`."""
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "client"
        and call.args
        and isinstance(call.args[0], ast.Constant)
        and call.args[0].value in SERVICES
    ):
        return str(call.args[0].value)
    return None


def aws_calls(source: str, module: str) -> tuple[set[str], list[str]]:
    """The IAM actions of the AWS calls in `source`, and the calls whose service cannot be told."""
    tree = ast.parse(source)
    named: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (service := _client_service(node.value)):
            for target in node.targets:
                if name := _receiver_name(target):
                    named[name] = service
        if isinstance(node, ast.keyword) and node.arg and (service := _client_service(node.value)):
            named[node.arg] = service
    found: set[str] = set()
    unclear: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, _receiver_name(node.func.value)
        if receiver is None:
            continue
        if method in ("get_paginator", "get_waiter"):
            if not (node.args and isinstance(node.args[0], ast.Constant)):
                unclear.append(f"{module}:{node.lineno}: {method} with a name computed at run time")
                continue
            method = str(node.args[0].value)
            table = waiters if node.func.attr == "get_waiter" else operations
        else:
            table = operations
        if receiver in SERVICES or receiver in named:
            candidates = [named.get(receiver, receiver)]
        elif receiver == "client" or receiver.endswith("_client"):
            candidates = [s for s in SERVICES if method in table(s)]
            if module in candidates:
                candidates = [module]
        else:
            continue  # not a boto3 client
        candidates = [s for s in candidates if method in table(s)]
        if len(candidates) == 1:
            found.add(action(candidates[0], table(candidates[0])[method]))
        elif len(candidates) > 1:
            unclear.append(f"{module}:{node.lineno}: {receiver}.{method}() could be {' or '.join(candidates)}")
    return found, unclear


def sources() -> Iterator[tuple[Path, str]]:
    for path in sorted((ROOT / "tasks").rglob("*.py")):
        yield path, path.read_text()


def code_actions() -> tuple[set[str], list[str]]:
    found: set[str] = set()
    unclear: list[str] = []
    for path, text in sources():
        actions, problems = aws_calls(text, path.stem)
        found |= actions
        unclear += [f"{path.relative_to(ROOT)} {p}" for p in problems]
    return found, unclear


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


# --- the mechanism ---------------------------------------------------------------------------------------

SAMPLE = """
import boto3

class Registry:
    def find(self):
        return self.client.batch_get_image(repositoryName="r", imageIds=[])

    def tags(self):
        return self.client.list_tags_for_resource(resourceArn="a")  # ecr, ecs, logs and ssm all have it

def deploy(clients, sts, plan):
    clients.ecs.update_service(cluster="c", service="s", forceNewDeployment=True)
    sts.get_caller_identity()
    logs = boto3.client("logs")
    logs.get_paginator("get_log_events")
    clients.ecs.get_waiter("services_stable")
    plan.execute()
    plan.run_task()  # a method that shares an operation's name, on something that is no client
    clients.ecs.meta.region_name
"""


def test_calls_are_read_from_the_code_and_named_as_iam_actions():
    found, unclear = aws_calls(SAMPLE, "ecr")
    assert found == {
        "ecr:BatchGetImage",
        "ecr:ListTagsForResource",
        "ecs:UpdateService",
        "sts:GetCallerIdentity",
        "logs:GetLogEvents",
        "ecs:DescribeServices",
    }
    assert unclear == []


def test_a_client_call_whose_service_cannot_be_told_is_reported():
    found, unclear = aws_calls(SAMPLE, "gateway")
    assert "ecr:BatchGetImage" in found  # only ECR has batch_get_image
    assert len(unclear) == 1 and "list_tags_for_resource() could be ecr or ecs or logs or ssm" in unclear[0]


def test_the_code_makes_aws_calls_and_each_one_is_attributed():
    found, unclear = code_actions()
    assert unclear == []
    assert {"ecr:PutImage", "ecs:UpdateService", "ecs:RunTask", "logs:GetLogEvents"} <= found


# --- the policies ----------------------------------------------------------------------------------------


def test_deploy_policy_lists_exactly_the_actions_the_code_calls():
    found, _ = code_actions()
    granted = policy_actions(policy("iam-policy.json"))
    assert sorted(found - granted) == [], "called by the code but missing from docs/iam-policy.json"
    assert sorted(granted - found - set(IMPLIED)) == [], "granted by docs/iam-policy.json but never called"
    assert set(IMPLIED) <= granted


def test_plan_policy_grants_exactly_the_reads():
    found, _ = code_actions()
    granted = policy_actions(policy("iam-policy-plan.json"))
    assert granted == {a for a in found if is_read(a)}
    assert all(is_read(a) for a in granted)


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
    assert calls == {"build-image": {"ecr:GetAuthorizationToken"}, "image-tag": {"ecr:DescribeImages"}}
    for name in ("iam-policy-build.json", "iam-policy-branch-build.json"):
        assert calls["build-image"] <= policy_actions(policy(name)), name
    assert calls["image-tag"] <= policy_actions(policy("iam-policy.json"))  # deploy-production looks the tag up


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


def test_readme_embeds_each_policy_as_it_is_in_docs():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## CircleCI and AWS set-up") :]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, flags=re.S)]
    for name in DOCUMENTS:
        assert policy(name) in blocks, f"README's CircleCI and AWS set-up section does not show docs/{name}"
        assert f"docs/{name}" in section
    for role, (permissions, trust) in ROLES.items():  # the table of roles pairs them as ROLES does
        assert re.search(rf"\n\| {re.escape(role)} \|[^\n]*docs/{permissions}[^\n]*docs/{trust}", section), role

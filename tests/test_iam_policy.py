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
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
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


def test_build_policy_can_push_to_the_repository_and_do_nothing_else():
    granted = policy_actions(policy("iam-policy-build.json"))
    push = {  # AWS ECR user guide, "IAM permissions for pushing an image"
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    }
    assert granted == push
    for operation in (a.split(":")[1] for a in granted):
        assert operation in operations("ecr").values()


@pytest.mark.parametrize(
    "name", ["iam-policy.json", "iam-policy-plan.json", "iam-policy-build.json", "iam-trust-policy.json"]
)
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


def test_trust_policy_accepts_only_this_projects_jobs_on_the_main_branch():
    (statement,) = policy("iam-trust-policy.json")["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    provider = "oidc.circleci.com/org/ORGANIZATION_ID"
    assert statement["Principal"]["Federated"].endswith(f":oidc-provider/{provider}")
    assert statement["Condition"]["StringEquals"] == {f"{provider}:aud": "ORGANIZATION_ID"}
    sub = statement["Condition"]["StringLike"][f"{provider}:sub"]
    assert sub.startswith("org/ORGANIZATION_ID/project/PROJECT_ID/user/*/")
    assert sub.endswith("/vcs-ref/refs/heads/main")


def test_readme_embeds_each_policy_as_it_is_in_docs():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## CircleCI and AWS set-up") :]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, flags=re.S)]
    for name in ("iam-policy.json", "iam-policy-plan.json", "iam-policy-build.json", "iam-trust-policy.json"):
        assert policy(name) in blocks, f"README's CircleCI and AWS set-up section does not show docs/{name}"
        assert f"docs/{name}" in section

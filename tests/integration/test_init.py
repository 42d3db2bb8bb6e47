"""`fab init` against the emulated account: the file it writes, what `fab check` says of it, and every refusal.

The world (conftest.py) has clusters acme-staging (web, worker on acme-app:latest) and acme-production (on
acme-app:production); a test adds a cluster of its own where it needs other services. Whatever happens, init
makes read calls only, and a refusal leaves the folder as it was.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import ACCOUNT, PRODUCT_CALLS, READS, REGION, ROLLING, fab

from sandbox import seed

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/acme-app"


@pytest.fixture
def app(project):
    """The application repository with its fabfile and no fabric.yaml yet."""
    (project / "fabric.yaml").unlink()
    return project


def add_cluster(world: Any, name: str, services: dict[str, str], controller: str = "ECS",
                log_group: str = "/ecs/acme") -> None:
    """A cluster whose services each run the given image."""
    world.ecs.create_cluster(clusterName=name)
    for service, image in services.items():
        world.ecs.register_task_definition(**seed.task_definition(f"{name}-{service}", "app", image, log_group,
                                                                  REGION, service))
        seed.create_service(world.ecs, name, service, f"{name}-{service}", 1, world.network, ROLLING,
                            controller=controller)


def init(capsys: Any, *argv: str) -> tuple[int, str, str, list[str]]:
    """`fab init ARGV`, and the AWS actions the code called meanwhile."""
    before = len(PRODUCT_CALLS)
    code, out, err = fab(capsys, "init", *argv)
    return code, out, err, [action for action, _ in PRODUCT_CALLS[before:]]


def test_init_writes_a_file_that_fab_check_passes_once_sleuth_is_filled_in(world, app, capsys, sleuth_token):
    code, out, err, actions = init(capsys, "--cluster", "acme-staging")
    assert code == 0, err
    assert out.splitlines() == [
        f"cluster acme-staging (account {ACCOUNT}, {REGION}): environment staging deploys web, worker by moving "
        "acme-app:latest",
        "wrote fabric.yaml: fill in what it marks `not known` (the migration command first), then run: fab check "
        "--env staging"]
    assert actions and all(a.split(":")[1].startswith(READS) for a in actions), actions  # nothing changed
    assert "ecs:ListServices" in actions
    text = (app / "fabric.yaml").read_text()
    deploy = yaml.safe_load(text)["deploy"]
    assert deploy == {"repository": "acme-app", "region": REGION, "environments": {"staging": {
        "cluster": "acme-staging", "services": ["web", "worker"], "release_tag": "latest", "account": ACCOUNT}}}
    lines = text.splitlines()
    assert "guessed from the cluster's name" in next(line for line in lines if line.startswith("    staging:"))
    assert "# not known: AWS does not say what migrates the database" in next(
        line for line in lines if "# migrate:" in line)
    for key in ("task_definition: acme-web", "container: web", "deployment: acme-app"):
        assert "# guessed: " in next(line for line in lines if key in line), key
    # the user fills in what init could not know, as the comments say, and fab check passes
    text = text.replace("# sleuth:", "sleuth:").replace("# org: your-org", "org: acme").replace(
        "# deployment: acme-app", "deployment: acme-app")
    (app / "fabric.yaml").write_text(text)
    code, out, err = fab(capsys, "check", "--env", "staging")
    assert code == 0, out + err
    assert out.splitlines()[-1] == "staging is ready to deploy"


def test_services_that_cannot_be_deployed_this_way_are_left_out_with_the_reason(world, app, capsys):
    add_cluster(world, "acme-mixed", {
        "web": f"{IMAGE}:qa",
        "worker": f"{IMAGE}:qa",
        "proxy": "nginx:1.25",
        "pinned": f"{IMAGE}@sha256:{'a' * 64}",
        "build": f"{IMAGE}:20261126.060512-bbbbbbb",
        "other": "999999999999.dkr.ecr.eu-west-1.amazonaws.com/acme-app:qa",
        "admin": f"{IMAGE}:admin",
    })
    code, out, err, _ = init(capsys, "--cluster", "acme-mixed", "--env", "qa")
    assert code == 0, err
    assert out.splitlines()[:7] == [
        f"cluster acme-mixed (account {ACCOUNT}, {REGION}): environment qa deploys web, worker by moving "
        "acme-app:qa",
        "  left out: admin: runs acme-app:admin, while the others run acme-app:qa: an environment moves one tag of "
        "one repository (give it its own environment with --env and --services)",
        "  left out: build: runs acme-app:20261126.060512-bbbbbbb, the tag of one build, not a moving tag: make its "
        "task definition run a tag that each release moves (acme-app:latest)",
        f"  left out: other: runs acme-app:qa from account 999999999999 in eu-west-1, not the account {ACCOUNT} in "
        f"{REGION} these credentials deploy to",
        "  left out: pinned: runs acme-app@sha256:" + "a" * 64 + ", pinned to a digest: moving a tag changes "
        "nothing there; make its task definition run a moving tag (repository:latest)",
        "  left out: proxy: runs nginx:1.25, no image in ECR: this tool moves a tag in an ECR repository",
        "wrote fabric.yaml: fill in what it marks `not known` (the migration command first), then run: fab check "
        "--env qa",
    ]
    text = (app / "fabric.yaml").read_text()
    assert yaml.safe_load(text)["deploy"]["environments"]["qa"]["services"] == ["web", "worker"]
    assert "# left out: proxy: runs nginx:1.25, no image in ECR" in text


def test_a_cluster_where_nothing_can_be_deployed_is_refused_naming_each_service(world, app, capsys):
    add_cluster(world, "acme-hub", {"proxy": "nginx:1.25"})
    world.ecr.create_repository(repositoryName="locked", imageTagMutability="IMMUTABLE")
    add_cluster(world, "acme-locked", {"api": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/locked:latest"})
    add_cluster(world, "acme-gone", {"api": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/gone:latest"})
    add_cluster(world, "acme-codedeploy", {"api": f"{IMAGE}:latest"}, controller="CODE_DEPLOY")
    expected = {
        "acme-hub": "proxy: runs nginx:1.25, no image in ECR: this tool moves a tag in an ECR repository",
        "acme-locked": "api: runs locked:latest, but latest is an immutable tag in locked: it cannot move",
        "acme-gone": f"api: runs gone:latest, but no ECR repository gone in account {ACCOUNT}, {REGION}",
        "acme-codedeploy": "api: uses the CODE_DEPLOY deployment controller: CodeDeploy replaces its tasks "
                           "(blue/green), not a forced new deployment; deploy it with CodeDeploy (`aws deploy "
                           "create-deployment`)",
    }
    for cluster, reason in expected.items():
        code, out, err, actions = init(capsys, "--cluster", cluster)
        assert (code, out) == (1, ""), cluster
        assert err == f"error: no service of cluster {cluster!r} can be deployed this way: {reason}\n"
        assert all(a.split(":")[1].startswith(READS) for a in actions)
    assert not (app / "fabric.yaml").exists()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--cluster", "acme-nowhere"], "error: ECS cluster 'acme-nowhere' not found in this account and region: check "
                                    "--cluster, the region and the credentials in use"),
    (["--cluster", "acme-empty"], "error: ECS cluster 'acme-empty' has no services: create them first (fab init "
                                  "reads what runs; it creates nothing)"),
    (["--cluster", "acme-staging", "--services", "web,wrker"],
     "error: no service wrker in cluster 'acme-staging' (it has web, worker): check --services"),
    (["--cluster", "acme-staging", "--services", "web,web"], "error: --services lists a service twice: web, web"),
    (["--cluster", "acme-staging", "--services", " , "],
     "error: --services ' , ' names no service: give names, e.g. --services web,worker"),
])
def test_bad_input_is_refused_with_one_line_and_nothing_written(world, app, capsys, argv, expected):
    world.ecs.create_cluster(clusterName="acme-empty")
    code, out, err, _ = init(capsys, *argv)
    assert (code, out, err) == (1, "", expected + "\n")
    assert sorted(p.name for p in app.iterdir()) == ["fabfile.py"]


def test_an_existing_file_is_kept_unless_force_replaces_it(world, project, capsys):
    before = (project / "fabric.yaml").read_text()
    code, out, err, _ = init(capsys, "--cluster", "acme-staging")
    assert (code, out) == (1, "")
    assert err == "error: fabric.yaml exists: add an environment to it with --env NAME, or replace it with --force\n"
    code, out, err, _ = init(capsys, "--cluster", "acme-staging", "--env", "staging")
    assert err == ("error: fabric.yaml already has environment 'staging': choose another --env, or replace the whole "
                   "file with --force\n")
    code, out, err, _ = init(capsys, "--cluster", "acme-production", "--env", "live")
    assert (code, out) == (1, "")
    assert err == ("error: fabric.yaml: environments 'production' and 'live' both move acme-app:production: "
                   "deploying one would change what the other runs at its next restart; give each its own "
                   "release_tag: nothing written\n")
    assert (project / "fabric.yaml").read_text() == before
    code, out, err, _ = init(capsys, "--cluster", "acme-production", "--force")
    assert code == 0, err
    assert list(yaml.safe_load((project / "fabric.yaml").read_text())["deploy"]["environments"]) == ["production"]


def test_env_adds_an_environment_to_an_existing_file_keeping_the_rest_as_written(world, project, capsys):
    add_cluster(world, "acme-qa", {"web": f"{IMAGE}:qa"})
    before = "# the team's own comment\n" + (project / "fabric.yaml").read_text()
    (project / "fabric.yaml").write_text(before)
    code, out, err, _ = init(capsys, "--cluster", "acme-qa", "--env", "qa")
    assert code == 0, err
    assert out.splitlines()[-1] == ("added environment qa to fabric.yaml: fill in what it marks `not known` (the "
                                    "migration command first), then run: fab check --env qa")
    after = (project / "fabric.yaml").read_text()
    kept = iter(after.splitlines())
    assert all(line in kept for line in before.splitlines())  # every line stays, in order, comments included
    environments = yaml.safe_load(after)["deploy"]["environments"]
    assert list(environments) == ["production", "staging", "qa"]
    assert environments["qa"] == {"cluster": "acme-qa", "services": ["web"], "release_tag": "qa",
                                  "account": ACCOUNT}
    assert environments["staging"] == yaml.safe_load(before)["deploy"]["environments"]["staging"]


def test_a_dry_run_prints_the_file_and_writes_nothing(world, app, capsys):
    code, out, err, _ = init(capsys, "--cluster", "acme-staging")
    written = (app / "fabric.yaml").read_text()
    (app / "fabric.yaml").unlink()
    before = len(PRODUCT_CALLS)
    code, out, err = fab(capsys, "--dry", "init", "--cluster", "acme-staging")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == "would write fabric.yaml:"
    assert "\n".join(line.removeprefix("  ") for line in lines[2:]) + "\n" == written
    assert all(a.split(":")[1].startswith(READS) for a, _ in PRODUCT_CALLS[before:])
    assert sorted(p.name for p in app.iterdir()) == ["fabfile.py"]


def test_a_log_group_that_does_not_exist_is_warned_of_since_fab_check_would_fail(world, app, capsys):
    add_cluster(world, "acme-qa", {"web": f"{IMAGE}:qa"}, log_group="/ecs/acme-qa")
    code, out, err, _ = init(capsys, "--cluster", "acme-qa")
    assert code == 0, err
    assert out.splitlines()[1] == ("  warning: log group(s) /ecs/acme-qa do not exist: fab check fails until they "
                                   "do (create them, or fix the task definitions)")

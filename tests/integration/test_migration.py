"""The migration's network: the first service's settings unless the config gives its own (emulated AWS)."""

from __future__ import annotations

from tasks.core import migration


def test_network_comes_from_the_first_service_unless_configured(world):
    from conftest import CONFIG

    from tasks.core.config import load_settings
    from tasks.core.ecs import Cluster as RealCluster

    env = load_settings(CONFIG).environment("staging")
    cluster = RealCluster(world.ecs, "acme-staging")
    spec = migration.resolve(env, cluster, cluster.services(["web"]), ["python", "manage.py", "migrate"])
    assert spec.network_configuration == world.network
    assert spec.task_definition.label == "acme-migrate:1" and spec.container == "app"

    import dataclasses
    migrate = dataclasses.replace(env.migrate, subnets=("subnet-x",), assign_public_ip=True, task_definition=None)
    spec = migration.resolve(dataclasses.replace(env, migrate=migrate), cluster, cluster.services(["web"]), ["x"])
    assert spec.network_configuration["awsvpcConfiguration"]["subnets"] == ["subnet-x"]
    assert spec.network_configuration["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"
    assert spec.task_definition.label == "acme-web:1" and spec.container == "web"

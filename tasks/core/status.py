"""What an environment runs now: the release tag, the previous image, each service's deployments and the image
its running tasks really run, and the lock.

Assumptions: reads only (no lock taken). The image's other tags carry the immutable build tag and the commit
sha, because CI pushes both; they are shown so a person can tell which commit is live. What a service runs is
read from its running tasks (`containers[].imageDigest`), not from its task definition: ECS resolves the tag
when a deployment is created, so after a tag moved without a restart, or a put-back that failed, the two
differ. A service whose tasks run anything but the release tag's image is flagged as drifting.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .ecr import short
from .ecs import arn_name
from .errors import DeployError
from .rollout import running_images
from .service_deployments import ONGOING, not_offered, weight

if TYPE_CHECKING:
    from .target import Target

EVENTS_SHOWN = 3


def collect(target: Target) -> dict[str, Any]:
    """The environment's state as plain data (what `--json` prints)."""
    env = target.env
    services = target.cluster.services(env.services)
    holder = target.lock.holder()
    release, previous = _image(target, env.release_tag), _image(target, env.previous_tag)
    names = {image["digest"]: image["tag"] for image in (previous, release) if image["digest"]}
    images = running_images(target.cluster, list(services), env.repository)
    current = _service_deployments(target, list(services))
    return {
        "environment": env.name,
        "repository": env.repository,
        "cluster": env.cluster,
        "release_tag": release,
        "previous": previous,
        "services": [
            {
                "name": s.name,
                "running": s.running,
                "desired": s.desired,
                "strategy": s.strategy,
                "service_deployment": current.get(s.name),
                **_runs(target, images[s.name], release["digest"], names),
                "deployments": [
                    {
                        "id": d.id,
                        "status": d.status,
                        "rollout_state": d.rollout_state,
                        "rollout_reason": d.rollout_reason,
                        "running": d.running,
                        "desired": d.desired,
                        "task_definition": arn_name(d.task_definition),
                        "since": _iso(d.created_at),
                    }
                    for d in s.deployments
                ],
                "events": [
                    {"at": _iso(e.created_at), "message": e.message}
                    for e in sorted(s.events, key=lambda e: e.created_at, reverse=True)[:EVENTS_SHOWN]
                ],
            }
            for s in services.values()
        ],
        "lock": None if holder is None else {
            "who": holder.who, "where": holder.where, "task": holder.task, "sha": holder.sha, "since": holder.since,
            "id": holder.id, "deadline": holder.deadline or None,
        },
    }


def _service_deployments(target: Target, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each service's ongoing service deployment, else its latest: status, stage, weights and hooks. Empty
    where ECS does not offer the API."""
    cluster = target.cluster
    chosen: dict[str, str] = {}
    try:
        for name in names:
            found = (cluster.service_deployments(name, statuses=ONGOING)
                     or cluster.service_deployments(name, limit=1))
            if found:
                chosen[name] = found[0][0]
        described = cluster.describe_service_deployments(list(chosen.values())) if chosen else {}
    except DeployError as err:
        if not_offered(err):
            return {}
        raise
    result: dict[str, dict[str, Any] | None] = {}
    for name in names:
        d = described.get(chosen.get(name, ""))
        result[name] = None if d is None else {
            "arn": d.arn, "status": d.status, "status_reason": d.status_reason, "stage": d.stage,
            "production_weight": d.production_weight, "test_weight": d.test_weight, "why": d.why() or None,
            "since": _iso(d.created_at),
            "hooks": [{"id": h.hook_id, "type": h.target_type, "status": h.status, "expires_at": _iso(h.expires_at),
                       "timeout_action": h.timeout_action} for h in d.hooks],
        }
    return result


def _runs(target: Target, images: Counter[str], release: str | None, names: dict[str, str]) -> dict[str, Any]:
    """What a service's running tasks run, by digest, each with the environment's tag naming it (if any)."""
    runs = [{"digest": digest, "tasks": count, "tag": names.get(digest)} for digest, count in images.most_common()]
    drift = None
    strangers = [r["digest"] for r in runs if r["tag"] is None]
    if strangers:
        drift = f"runs {', '.join(short(d) for d in strangers)}, which no tag of {target.env.name} names"
    elif release is not None and any(r["digest"] != release for r in runs):
        others = sorted({r["tag"] for r in runs if r["digest"] != release})
        drift = f"runs {', '.join(others)}, not {target.env.release_tag}"
    return {"runs": runs, "drift": drift}


def _image(target: Target, tag: str) -> dict[str, Any]:
    image = target.registry.find(tag)
    if image is None:
        return {"tag": tag, "digest": None}
    detail = target.registry.describe(image.digest)
    return {
        "tag": tag,
        "digest": image.digest,
        "pushed_at": _iso(detail.pushed_at) if detail else None,
        "other_tags": [t for t in (detail.tags if detail else ()) if t != tag],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Rows as columns as wide as their widest cell (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    return [indent + "  ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
            for row in rows]


def _deployment_lines(service: dict[str, Any], env: str) -> list[str]:
    """`strategy BLUE_GREEN; deployment 123 IN_PROGRESS in BAKE_TIME, production 100%, test 0%`, and its hooks."""
    d = service.get("service_deployment")
    strategy = f"strategy {service.get('strategy') or 'ROLLING'}"
    if d is None:
        return [strategy]
    where = f" in {d['stage']}" if d["stage"] else ""
    weights = "".join(f", {what} {weight(d[key])}" for what, key in (("production", "production_weight"),
                                                                      ("test", "test_weight")) if d[key] is not None)
    lines = [f"{strategy}; deployment {d['arn'].rsplit('/', 1)[-1]} {d['status']}{where}{weights}"
             + (f" - {d['why']}" if d["why"] else "")]
    for hook in d["hooks"]:
        until = f" until {hook['expires_at']}" if hook["expires_at"] else ""
        lines.append(f"hook {hook['id']} ({hook['type']}) {hook['status']}{until}")
        if hook["type"] == "PAUSE" and hook["status"] == "AWAITING_ACTION":
            lines.append(f"  decide it: fab continue --env {env} --service {service['name']} [--rollback]")
    return lines


def render(status: dict[str, Any]) -> list[str]:
    """A compact view for people."""
    lines = [f"{status['environment']}: cluster {status['cluster']}, repository {status['repository']}"]
    images = []
    for key in ("release_tag", "previous"):
        image = status[key]
        if image["digest"] is None:
            images.append([image["tag"], "(none)"])
        else:
            tags = ", ".join(image["other_tags"]) or "no other tags"
            images.append([image["tag"], short(image["digest"]), f"pushed {image['pushed_at']}", f"[{tags}]"])
    lines += table(images)
    rows = [["SERVICE", "RUNS", "DEPLOYMENT", "STATUS", "ROLLOUT", "TASKS", "TASK DEF", "SINCE"]]
    notes: dict[int, list[str]] = {}
    for service in status["services"]:
        runs = ", ".join(f"{r['tasks']}x {short(r['digest'])}"
                         + (f" ({r['tag']})" if r["tag"] else "") for r in service["runs"]) or "no task"
        for number, d in enumerate(service["deployments"]):
            rows.append([service["name"] if number == 0 else "", runs if number == 0 else "", d["id"], d["status"],
                         d["rollout_state"] or "-", f"{d['running']}/{d['desired']}", d["task_definition"],
                         d["since"] or "-"])
            if d["rollout_state"] == "FAILED" and d["rollout_reason"]:
                notes.setdefault(len(rows) - 1, []).append(f"reason: {d['rollout_reason']}")
        extra = notes.setdefault(len(rows) - 1, [])
        extra += _deployment_lines(service, status["environment"])
        if service["drift"]:
            extra.append(f"DRIFT: {service['name']} {service['drift']}")
        extra += [f"{event['at']}  {event['message']}" for event in service["events"]]
    rendered = table(rows)
    for row, line in enumerate(rendered):
        lines.append(line)
        lines += [f"      {note}" for note in notes.get(row, [])]
    lock = status["lock"]
    if lock is None:
        lines.append("  lock: free")
    else:
        sha = f" of {lock['sha']}" if lock["sha"] else ""
        holder = f"{lock['who']} ({lock['where']}) running {lock['task']}{sha}"
        until = f"until {lock['deadline']}" if lock["deadline"] else "no deadline recorded (an older version's lock)"
        lines.append(f"  lock: held by {holder} since {lock['since']}, {until}")
        lines.append(f"        holder id {lock['id']}; if that run is dead: fab unlock --env {status['environment']} "
                     f"--holder {lock['id']}")
    return lines

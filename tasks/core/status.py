"""What an environment runs now: the release tag, the previous image, each service's deployments, the lock.

Assumptions: reads only (no lock taken). The image's other tags carry the immutable build tag and the
commit sha, because CI pushes both; they are shown so a person can tell which commit is live.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .lock import DeployLock

if TYPE_CHECKING:
    from .release import Context

EVENTS_SHOWN = 3


def collect(ctx: Context) -> dict[str, Any]:
    """The environment's state as plain data (what `--json` prints)."""
    env = ctx.env
    services = ctx.cluster.services(env.services)
    holder = DeployLock(ctx.clients.ssm, env, ctx.clock).holder()
    return {
        "environment": env.name,
        "repository": env.repository,
        "cluster": env.cluster,
        "release_tag": _image(ctx, env.release_tag),
        "previous": _image(ctx, env.previous_tag),
        "services": [
            {
                "name": s.name,
                "running": s.running,
                "desired": s.desired,
                "deployments": [
                    {
                        "id": d.id,
                        "status": d.status,
                        "rollout_state": d.rollout_state,
                        "rollout_reason": d.rollout_reason,
                        "running": d.running,
                        "desired": d.desired,
                        "task_definition": d.task_definition.rsplit("/", 1)[-1],
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


def _image(ctx: Context, tag: str) -> dict[str, Any]:
    image = ctx.registry.find(tag)
    if image is None:
        return {"tag": tag, "digest": None}
    detail = ctx.registry.describe(image.digest)
    return {
        "tag": tag,
        "digest": image.digest,
        "pushed_at": _iso(detail.pushed_at) if detail else None,
        "other_tags": [t for t in (detail.tags if detail else ()) if t != tag],
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def render(status: dict[str, Any]) -> list[str]:
    """A compact table for people."""
    lines = [f"{status['environment']}: cluster {status['cluster']}, repository {status['repository']}"]
    for key in ("release_tag", "previous"):
        image = status[key]
        if image["digest"] is None:
            lines.append(f"  {image['tag']:<20} (none)")
        else:
            tags = ", ".join(image["other_tags"]) or "no other tags"
            lines.append(f"  {image['tag']:<20} {image['digest'][:19]}  pushed {image['pushed_at']}  [{tags}]")
    lines.append(f"  {'SERVICE':<12} {'DEPLOYMENT':<28} {'STATUS':<8} {'ROLLOUT':<12} {'TASKS':<7} "
                 f"{'TASK DEF':<24} SINCE")
    for service in status["services"]:
        for d in service["deployments"]:
            tasks = f"{d['running']}/{d['desired']}"
            lines.append(f"  {service['name']:<12} {d['id']:<28} {d['status']:<8} {d['rollout_state'] or '-':<12} "
                         f"{tasks:<7} {d['task_definition']:<24} {d['since'] or '-'}")
            if d["rollout_state"] == "FAILED" and d["rollout_reason"]:
                lines.append(f"  {'':<12} reason: {d['rollout_reason']}")
        for event in service["events"]:
            lines.append(f"  {'':<12} {event['at']}  {event['message']}")
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

"""The sandbox's stand-in for the application's health URL, over plain HTTP, without AWS."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from sandbox import settings

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, token: str) -> tuple[int, str]:
    return send(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}))


def send(request: urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()




def test_health_stand_in_answers_by_the_image_the_tasks_run_and_wants_its_token() -> None:
    from sandbox.health import FAILURE, HealthStandIn

    old, new = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    builds = {old: settings.CURRENT_SHA, new: settings.NEW_SHA}
    running: dict[str, dict[str | None, int]] = {}  # what the emulator would report, changed as the rollout goes
    answers = {}
    for mode in ("healthy", "fails-on-new", "ready-on-new"):
        health = HealthStandIn(mode=mode, token="t0ken", running=lambda: running, new_digest=new,
                               build_of=builds.get).start()
        try:
            seen = []
            for web in ({old: 2}, {old: 1, new: 1}, {new: 2}):  # before, during and after web's rollout
                running.update(web=web, worker={new if new in web else old: 1})
                seen.append(get(health.url, "t0ken")[0])
            assert get(health.url, "wrong") == (401, "missing or wrong token")
            answers[mode] = seen
        finally:
            health.stop()
    assert answers == {"healthy": [200, 200, 200], "fails-on-new": [200, 500, 500], "ready-on-new": [503, 503, 200]}
    assert health.answers == [503, 503, 200, 401]
    assert HealthStandIn(mode="fails-on-new", token="t", running=lambda: running, new_digest=new,
                         build_of=builds.get).answer() == (
        500, f"build {settings.NEW_SHA}: {FAILURE} (web on {settings.NEW_SHA}, worker on {settings.NEW_SHA})")

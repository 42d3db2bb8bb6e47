"""The image tag CI pushes: made in one place, from the commit and the UTC build time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fabric.main import program
from fakes import FakeClock

from tasks import _runtime
from tasks.core.build_tag import build_tag
from tasks.core.commits import BUILD_TAG as PATTERN
from tasks.core.config import check_tag
from tasks.core.errors import DeployError

SHA = "ABC1234def567890abc1234def567890abc12345"
BUILT = datetime(2026, 11, 26, 6, 5, 12, 987654, tzinfo=timezone.utc)


def test_tag_is_utc_build_time_and_short_sha():
    assert build_tag(SHA, BUILT) == "20261126.060512-abc1234"


def test_tag_is_in_utc_whatever_the_clock_zone():
    tokyo = BUILT.astimezone(timezone(timedelta(hours=9)))
    assert build_tag(SHA, tokyo) == "20261126.060512-abc1234"
    assert build_tag("abc1234", datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == (
        "20251231.223000-abc1234"
    )


def test_tag_is_a_valid_ecr_tag_matching_the_documented_pattern():
    tag = build_tag(SHA, BUILT)
    assert check_tag(tag) == tag
    assert PATTERN.match(tag)


def test_tags_sort_in_build_order():
    times = [datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc)]
    times += [datetime(2027, 1, 1, 0, 0, 1, tzinfo=timezone.utc), datetime(2027, 10, 2, tzinfo=timezone.utc)]
    tags = [build_tag("fffffff", times[0]), build_tag("0000000", times[1])]
    tags += [build_tag("abcdef0", t) for t in times[2:]]
    assert sorted(tags) == tags


@pytest.mark.parametrize("sha", ["", "abc12", "xyz1234", "a" * 41, "--sha"])
def test_malformed_sha_is_refused_in_one_line(sha):
    with pytest.raises(DeployError) as caught:
        build_tag(sha, BUILT)
    assert str(caught.value).startswith("malformed --sha")
    assert "\n" not in str(caught.value)


def test_naive_time_is_a_bug_not_input():
    with pytest.raises(ValueError, match="no time zone"):
        build_tag(SHA, datetime(2026, 11, 26, 6, 5, 12))


# --- `fab image-tag`, the command CI runs ----------------------------------------------------------------


@pytest.fixture(autouse=True)
def in_repository(monkeypatch):
    """`fab` finds fabfile.py from the working directory, as it does in CI's checkout."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock(start=BUILT)
    monkeypatch.setattr(_runtime, "make_clock", lambda: fake)
    return fake


def test_fab_image_tag_prints_only_the_tag(clock, capsys):
    program.run(["fab", "image-tag", "--sha", SHA], exit=False)
    out, err = capsys.readouterr()
    assert out == "20261126.060512-abc1234\n"
    assert err == ""


def test_fab_image_tag_refuses_a_malformed_sha_with_status_1(clock, capsys):
    with pytest.raises(SystemExit) as exited:
        program.run(["fab", "image-tag", "--sha", "not-a-sha"])
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert out == ""
    assert err == "error: malformed --sha 'not-a-sha': give the git commit id, 7 to 40 hex characters\n"


def test_fab_image_tag_requires_the_sha(capsys):
    with pytest.raises(SystemExit) as exited:
        program.run(["fab", "image-tag"])
    assert exited.value.code == 1
    assert "'image-tag' did not receive required positional arguments: 'sha'" in capsys.readouterr().err


def test_fab_image_tag_uses_the_real_clock_by_default(capsys):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    program.run(["fab", "image-tag", "--sha", SHA], exit=False)
    after = datetime.now(timezone.utc)
    match = PATTERN.match(capsys.readouterr().out.strip())
    assert match and match["sha"] == "abc1234"
    stamp = datetime.strptime(match["date"] + match["time"], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    assert before <= stamp <= after

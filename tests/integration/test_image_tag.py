"""`fab image-tag --find`: the build tag a deploy job after an approval passes as --tag, read from ECR through
the real `fab` program, with the world's ECR holding the builds CI pushed."""

from __future__ import annotations

import pytest
from conftest import NEW_SHA, NEW_TAG, OLD_SHA, fab

SHA = NEW_SHA  # the world's new build: pushed under NEW_TAG and NEW_SHA


def push(world, number: int, *tags: str) -> None:
    for tag in tags:
        world.ecr_put(number, tag)


@pytest.mark.parametrize("where", [("--env", "staging"), ("--repository", "acme-app")])
def test_find_prints_only_the_build_tag_on_the_image_the_sha_tag_names(world, project, capsys, where):
    code, out, err = fab(capsys, "image-tag", "--sha", SHA, "--find", *where)
    assert (code, out, err) == (0, NEW_TAG + "\n", "")


def test_find_takes_the_newest_build_of_that_commit_on_that_image(world, project, capsys):
    short = SHA[:7]
    older, newer = f"20200101.000000-{short}", f"20991231.235959-{short}"
    push(world, 2, newer)  # the same image (manifest 2) re-pushed by a later build of the same commit
    push(world, 7, "20991231.235960-" + short)  # a build of this commit on another image: not the sha tag's
    push(world, 2, older)
    code, out, _ = fab(capsys, "image-tag", "--sha", SHA, "--find", "--repository", "acme-app")
    assert (code, out) == (0, newer + "\n")


def test_find_ignores_build_tags_of_other_commits_on_the_same_image(world, project, capsys):
    push(world, 1, f"20991231.235959-{'f' * 7}")  # the old image, tagged by another commit's build too
    code, out, err = fab(capsys, "image-tag", "--sha", OLD_SHA, "--find", "--repository", "acme-app")
    assert code == 1 and out == ""
    assert err.startswith(f"error: acme-app:{OLD_SHA} has no build tag YYYYMMDD.HHMMSS-{OLD_SHA[:7]} on the same "
                          "image (its tags: ")
    assert err.endswith("): push this commit with build-image again\n")


def test_find_says_what_to_do_when_ecr_has_no_image_of_that_sha(world, project, capsys):
    code, out, err = fab(capsys, "image-tag", "--sha", "c0ffee1" * 5 + "c0ffe", "--find", "--env", "staging")
    assert code == 1 and out == ""
    assert err == (f"error: no image acme-app:{'c0ffee1' * 5 + 'c0ffe'} in ECR: build-image pushes each main commit "
                   "under its full sha; re-run build-image for this commit (a new pipeline on it), then this job\n")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--sha", SHA, "--find"], "error: fab image-tag --find needs one of --env ENV or --repository NAME: where "
                                   "to look\n"),
        (["--sha", SHA, "--find", "--env", "staging", "--repository", "acme-app"],
         "error: fab image-tag --find needs one of --env ENV or --repository NAME: where to look\n"),
        (["--sha", SHA, "--env", "staging"], "error: --env and --repository go with --find: fab image-tag --sha SHA "
                                             "--find --env ENV\n"),
        (["--sha", SHA, "--find", "--repository", "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app"],
         "error: malformed --repository '123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app': give the ECR "
         "repository name (acme-app), not its URI\n"),
        (["--sha", "nothex!", "--find", "--repository", "acme-app"],
         "error: malformed --sha 'nothex!': give the git commit id, 7 to 40 hex characters\n"),
        (["--sha", SHA, "--find", "--env", "prod"], "error: unknown environment 'prod': known environments are "
                                                    "production, staging (deploy.environments in fabric.yaml)\n"),
        (["--sha", SHA, "--find", "--repository", "no-such-repo"], "error: ECR repository 'no-such-repo' not found in "
                                                                   "this account and region: check deploy.repository, "
                                                                   "the region and the credentials in use\n"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(world, project, capsys, argv, expected):
    code, out, err = fab(capsys, "image-tag", *argv)
    assert (code, out, err) == (1, "", expected)

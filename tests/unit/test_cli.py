"""The command line as a user meets it, before any AWS call: `fab --list` (and what it imports), every task's help."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import fab

ROOT = Path(__file__).resolve().parents[2]


def test_list_shows_the_tasks_without_importing_boto3_or_requests():
    probe = textwrap.dedent(
        """
        import sys
        from fabric.main import program
        try:
            program.run(["fab", "--list"])
        except SystemExit:
            pass
        print("HEAVY:", sorted(m for m in ("boto3", "botocore", "requests") if m in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in ("deploy", "retag", "migrate", "restart"):
        assert f"\n  {name} " in result.stdout
    assert "HEAVY: []" in result.stdout


TASKS = ["check", "continue", "deploy", "history", "image-tag", "init", "migrate", "notify", "restart", "retag",
         "rollback", "status", "unlock"]


def test_the_list_names_every_task_with_its_summary(capsys):
    code, out, _ = fab(capsys, "--list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[2:] if line.startswith("  ") and line[2] != " "]
    assert names == TASKS
    for name in TASKS:  # each with the first line of its docstring, wrapped
        summary = out.split(f"  {name} ", 1)[1].split("\n  ", 1)[0]
        assert len(summary.strip()) > 20, name


@pytest.mark.parametrize("task", TASKS)
def test_every_task_and_flag_has_help(capsys, task):
    code, out, _ = fab(capsys, "--help", task)
    assert code == 0
    assert out.startswith(f"Usage: fab [--core-opts] {task} [--options]")
    assert out.split("Docstring:")[1].split("Options:")[0].strip()  # what it does, in a sentence
    options = out.split("Options:")[1].strip().splitlines()
    flags = [line for line in options if line.strip().startswith("-")]
    assert flags and all(len(line.split("  ")) > 1 and line.split("  ")[-1].strip() for line in flags)

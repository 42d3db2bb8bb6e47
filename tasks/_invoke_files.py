"""Glue between Invoke's config files and the core's checks: catch a bad file before Invoke trips on it.

Why: `fab` reads the project's `fabric.yaml` right after importing the fabfile, and the runtime file
(`fab -f FILE`) after parsing the task's flags, both before any task runs. A malformed file there is a
Python traceback from Invoke; `deploy: 5` or `environments: [x]` one from its merge (AmbiguousMergeError);
a misspelt `-f` path is silently ignored; `FABRIC_DEPLOY_TIMEOUT=nan` over a `timeout: 600` a ValueError
from its cast. The first code of ours that runs is the fabfile's
`from tasks import ns`, so `tasks.ns` is served by a module `__getattr__` that calls `check_config_files`,
which reads and checks those files (and the system and user files Invoke has already read) and raises
`invoke.Exit`: fab prints its message as one line and exits 1. The task bodies still check every value,
naming the file or variable that set it (`where`).

Assumptions (invoke 2.2, pinned through fabric 3.2): while the fabfile is imported, the running `Program` is
on the call stack with its core flags parsed (`args.config` is `-f`), and so is `Loader.load`, whose
`module_parent` is the directory Invoke reads the project file from next. When they are not (the package
imported some other way), nothing is checked here. Invoke reads `INVOKE_RUNTIME_CONFIG` when `-f` is absent,
whatever the program's name; so does this. What cannot be caught: a malformed `/etc/fabric.yaml` or
`~/.fabric.yaml` (Invoke reads them before it imports anything of ours), and a broken `.py` config file
(checking it would mean running it twice).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from invoke import Program
from invoke.exceptions import Exit
from invoke.loader import Loader
from invoke.util import yaml

from .core.config_files import SUFFIXES, check_file, read_file
from .core.errors import DeployError
from .core.schema import DEFAULTS


def check_config_files() -> None:
    """Check the files the running `fab` reads; `invoke.Exit` with one line naming the file and key."""
    program, project_directory = _loading()
    if program is None:
        return
    config = program.config
    files: list[Any] = [{"deploy": DEFAULTS}]  # what Invoke merges, lowest first
    try:
        for path, data in ((config._system_path, config._system), (config._user_path, config._user)):
            if path:
                check_file(data, shown(path))
                files.append(data)
        if project_directory is not None:
            name = os.path.join(str(project_directory), config.file_prefix or config.prefix)
            project = next((f"{name}.{s}" for s in SUFFIXES if os.path.exists(f"{name}.{s}")), None)
            if project is not None:
                files.append(read_file(project, yaml, shown(project)))
                check_file(files[-1], shown(project))
        runtime = program.args.config.value or os.environ.get("INVOKE_RUNTIME_CONFIG")
        if runtime:
            files.append(read_file(os.path.expanduser(runtime), yaml, runtime))
            check_file(files[-1], runtime)
        _check_variables(_merged(files).get("deploy") or {}, ("deploy",), config._env_prefix)
    except DeployError as err:
        raise Exit(f"error: {err}", 1) from None


def _check_variables(tree: Mapping[str, Any], path: tuple[str, ...], prefix: str) -> None:
    """Refuse the `FABRIC_DEPLOY_*` variables Invoke could not cast to the type of the value they override.

    Invoke casts such a variable to the type of the merged value (`int("nan")` when fabric.yaml says
    `timeout: 600`) and cannot make a list of one at all: a traceback before any task runs. Text and None take
    any value (config.py checks it then).
    """
    for key, value in tree.items():
        here = (*path, str(key))
        if isinstance(value, Mapping):
            _check_variables(value, here, prefix)
            continue
        variable = prefix + "_".join(here).upper()
        text = os.environ.get(variable)
        if text is None or value is None or isinstance(value, (str, bool)):
            continue
        if isinstance(value, (list, tuple)):
            raise DeployError(f"environment variable {variable} cannot set {'.'.join(here)}, a list in the config "
                              "file: set it in the file (or a file given with fab -f)")
        try:
            value.__class__(text)
        except (TypeError, ValueError):
            kind = "a whole number" if isinstance(value, int) else f"a value like the {value!r}"
            raise DeployError(f"environment variable {variable}: malformed {'.'.join(here)} {text!r}: give "
                              f"{kind}, as the {value!r} it overrides in the config file is") from None


def _merged(levels: list[Any]) -> dict[str, Any]:
    """The levels' mappings merged as Invoke merges them: later wins, mappings merge key by key."""
    result: dict[str, Any] = {}
    for level in levels:
        if isinstance(level, Mapping):
            _merge_into(result, level)
    return result


def _merge_into(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value


def _loading() -> tuple[Program | None, Any]:
    """The `Program` importing the fabfile, and the directory it will read the project file from."""
    directory = None
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is Loader.load.__code__:
            directory = frame.f_locals.get("module_parent")
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, Program):
            return candidate, directory
        frame = frame.f_back
    return None, None


def where(config: Any) -> Callable[[tuple[str, ...]], str | None]:
    """For a key path, the file or environment variable of `config` that set it (or the nearest key above it)."""
    files = [(shown(config._runtime_path), config._runtime), (shown(config._project_path), config._project),
             (shown(config._user_path), config._user), (shown(config._system_path), config._system)]
    files = [(name, data) for name, data in files if name]

    def origin(path: tuple[str, ...]) -> str | None:
        if _holds(config._env, path):  # it wins over every file but the runtime one
            if not _holds(config._runtime, path):
                return f"environment variable {config._env_prefix}{'_'.join(path).upper()}"
        for depth in range(len(path), 0, -1):
            for name, data in files:
                if _holds(data, path[:depth]):
                    return name
        return None

    return origin


def _holds(data: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def shown(path: str | None) -> str | None:
    """A config file's path as a user would type it: relative to the working directory when inside it."""
    if not path:
        return None
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative

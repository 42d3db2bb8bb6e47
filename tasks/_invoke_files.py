"""Glue between Fabric's config files and the core's checks: catch a bad file before Invoke trips on it.

Why: `fab` reads the project's `fabric.yaml` right after importing the fabfile, and the runtime file
(`fab -f FILE`) after parsing the task's flags, both before any task runs. A malformed file there is a
Python traceback from Invoke; `deploy: 5` or `environments: [x]` one from its merge (AmbiguousMergeError);
a misspelt `-f` path is silently ignored; `FABRIC_DEPLOY_TIMEOUT=nan` over a `timeout: 600` a ValueError
from its cast. The fabfile's own code is the only code of ours that runs before that, so the fabfile calls
`check_config_files(__file__)`: it reads and checks those files itself and raises `invoke.Exit` (fab prints
the message as one line and exits 1). The task bodies still check every value, naming the file or variable
that set it (`where`, which reads the same files again when an error needs a name), and refuse a missing `-f`
file again (a fabfile without the call, `-f` after the task's name).

Assumptions: the running fab is `fabric.main.program`, the object whose `run` Fabric declares as the `fab`
script's entry point (`fabric.main:program.run`; `python -m fabric` runs it too), the pattern Invoke documents
for a program of one's own. Only public, documented names are read: `Program.core` (set once the core
flags are parsed) and `Program.args.config` (`-f`), `Collection.loaded_from` (the fabfile's folder), and
Config's `prefix`, `file_prefix` and `env_prefix` class attributes (`fabric`, `FABRIC_`);
`INVOKE_RUNTIME_CONFIG` stands for `-f` when it is absent. The files are where Invoke documents them:
`<prefix>.yaml`, `.yml`, `.json`, `.py` (the first that exists) in `/etc/`, in `~/.` and beside the fabfile
(beside its folder for a `fabfile/` package). Another `Program` instance run in the same process is not seen:
run fab in-process as `fabric.main.program.run(argv)`. What cannot be caught: a malformed `/etc/fabric.yaml`
or `~/.fabric.yaml` (Invoke reads them before the fabfile is imported), and a broken `.py` config file
(checking it would mean running it twice).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from invoke import Program
from invoke.exceptions import Exit
from invoke.util import yaml

from .core.config_files import SUFFIXES, check_file, read_file
from .core.errors import DeployError
from .core.schema import DEFAULTS


@dataclass(frozen=True)
class ConfigFile:
    """One config file as fab reads it: its level (system, user, project, runtime), its name as shown, its data."""

    level: str
    shown: str
    data: Any


def check_config_files(fabfile: str) -> None:
    """Check the files and variables the running `fab` reads next; `invoke.Exit` with one line naming the problem.

    `fabfile` is the fabfile's `__file__`: the project file is read from its folder, as Invoke reads it. Also
    keeps secrets out of log records from here on: under `--debug`, Invoke logs those files' contents next.
    """
    from fabric import Config

    from ._secrets import redact_logs

    redact_logs()
    program = running_fab()
    config_class = type(program.config) if program is not None else Config
    try:
        files = read_config_files(config_class, project_folder(fabfile), runtime_file(program), check=True)
        merged = _merged([{"deploy": DEFAULTS}, *(f.data for f in files)])
        _check_variables(merged.get("deploy") or {}, ("deploy",), env_prefix(config_class))
    except DeployError as err:
        raise Exit(f"error: {err}", 1) from None


def running_fab() -> Program | None:
    """`fab`'s program once it has parsed its core flags; None when something else runs these tasks."""
    from fabric.main import program

    return program if getattr(program, "core", None) is not None else None


def project_folder(fabfile: str) -> str:
    """Where Invoke reads the project file: beside `fabfile.py`, or beside the `fabfile/` package's folder."""
    folder = os.path.dirname(os.path.abspath(fabfile))
    return os.path.dirname(folder) if os.path.basename(fabfile) == "__init__.py" else folder


def runtime_file(program: Program | None) -> str | None:
    """The runtime file as given: `-f FILE`, else `INVOKE_RUNTIME_CONFIG` (Invoke reads it whatever the program)."""
    given = program.args.config.value if program is not None else None
    return given or os.environ.get("INVOKE_RUNTIME_CONFIG") or None


def env_prefix(config_class: type) -> str:
    """The prefix of the variables Invoke reads into the config (`FABRIC_`): Config's documented class attributes."""
    return f"{(config_class.env_prefix or config_class.prefix).upper()}_"


def read_config_files(config_class: type, project: str | None, runtime: str | None, *,
                      check: bool) -> list[ConfigFile]:
    """The config files fab reads, lowest level first, each read here as Invoke reads it.

    With `check`, each file's shape is checked as it is read and a runtime file that does not exist is refused
    (Invoke ignores it); otherwise a file that cannot be read is left out.
    """
    name = config_class.file_prefix or config_class.prefix
    prefixes = [("user", "~/.")] if sys.platform == "win32" else [("system", "/etc/"), ("user", "~/.")]
    if project is not None:
        prefixes.append(("project", os.path.join(project, "")))
    candidates = [(level, _first_existing(prefix + name)) for level, prefix in prefixes]
    if runtime:
        candidates.append(("runtime", runtime))
    files = []
    for level, path in candidates:
        if path is None:
            continue
        shown = path if level == "runtime" else shown_path(path)
        try:
            data = read_file(os.path.expanduser(path), yaml, shown)
            if check:
                check_file(data, shown)
        except DeployError:
            if check:
                raise
            continue
        files.append(ConfigFile(level, shown, data))
    return files


def _first_existing(stem: str) -> str | None:
    """The first of `stem.yaml`, `.yml`, `.json`, `.py` that exists: the one Invoke loads."""
    stem = os.path.expanduser(stem)
    return next((f"{stem}.{s}" for s in SUFFIXES if os.path.exists(f"{stem}.{s}")), None)


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


def refuse_a_missing_runtime_file() -> None:
    """A `DeployError` when the runtime file given does not exist (Invoke ignores it without a word) or cannot be read.

    At the task boundary, for what the fabfile's check cannot see: a fabfile without the call, and `-f` given
    after the task's name (fab parses it only then).
    """
    runtime = runtime_file(running_fab())
    if runtime:
        read_file(os.path.expanduser(runtime), yaml, runtime)


def where(config: Any) -> Callable[[tuple[str, ...]], str | None]:
    """For a key path, the file or environment variable that set it in `config` (or the nearest key above it).

    Invoke's order, highest first: the runtime file, the variables, the project, user and system files. The
    files are read again, from where the running fab read them, only when an error asks for a name.
    """
    prefix = env_prefix(type(config))
    read: list[list[ConfigFile]] = []

    def files() -> list[ConfigFile]:
        if not read:
            program = running_fab()
            collection = getattr(program, "collection", None)
            project = getattr(collection, "loaded_from", None)
            read.append(read_config_files(type(config), project, runtime_file(program), check=False)[::-1])
        return read[0]

    def origin(path: tuple[str, ...]) -> str | None:
        variable = prefix + "_".join(path).upper()
        if variable in os.environ and _is_value(config, path):  # Invoke read it: it wins over every file but -f's
            if not any(f.level == "runtime" and _holds(f.data, path) for f in files()):
                return f"environment variable {variable}"
        for depth in range(len(path), 0, -1):
            for file in files():
                if _holds(file.data, path[:depth]):
                    return file.shown
        return None

    return origin


def _holds(data: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return False
        data = data[key]
    return True


def _is_value(config: Any, path: tuple[str, ...]) -> bool:
    """Whether `config` has a value (not a section) at `path`: the keys Invoke reads a variable for."""
    for key in path:
        if not hasattr(config, "keys") or key not in config:
            return False
        config = config[key]
    return not hasattr(config, "keys")


def shown_path(path: str) -> str:
    """A config file's path as a user would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative

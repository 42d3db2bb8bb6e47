"""Config files read, and checked against the shape of the `deploy` config (schema.py declares it); pure, no Invoke.

Assumptions: Fabric's config files are YAML (`.yaml`, `.yml`), JSON or Python (`.py`), and the keys this project
reads all sit under `deploy`; the other top-level keys are Fabric's own (`run`, `connect_kwargs`, ...) and a
user's, left alone, except one so close to `deploy` that it is surely a typo of it. The shape is checked per
file, so the error names the file: every key known (an unknown one gets a did-you-mean), every mapping a
mapping, every list a list or a comma-separated string, every other value a scalar. The values themselves
(positive numbers, tags, URLs) are checked by `config.load_settings` on the merged config. Checking `.py`
files would mean running them a second time, so they are left to Invoke.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from .errors import DeployError
from .schema import DEPLOY, Each, Key, Node, Section

SCALAR, LIST = "a single value", "a list"

SUFFIXES = ("yaml", "yml", "json", "py")


def read_file(path: str, yaml: Any, shown: str | None = None) -> Any:
    """A config file's data, as Invoke will read it; a one-line `DeployError` naming the file when it cannot be.

    `yaml` is the YAML module Invoke parses with (it vendors its own; PyYAML is not a dependency of fab), so
    what parses here parses there. A `.py` file is not run here (Invoke runs it): None.
    """
    shown = shown or path
    suffix = os.path.splitext(path)[1].lstrip(".").lower()
    if suffix not in SUFFIXES:
        raise DeployError(f"config file {shown}: fab reads only .yaml, .yml, .json or .py config files")
    if not os.path.exists(path):
        raise DeployError(f"config file {shown} does not exist: check the path given to fab -f")
    if suffix == "py":
        return None
    try:
        with open(path) as handle:  # the encoding Invoke opens it with: the locale's
            text = handle.read()
    except (OSError, ValueError) as err:
        raise DeployError(f"config file {shown} cannot be read: {err}") from None
    if suffix == "json":
        try:
            return json.loads(text)
        except ValueError as err:
            where = f"line {err.lineno}, column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
            raise DeployError(f"{shown}: malformed JSON at {where}: {getattr(err, 'msg', err)}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DeployError(f"{shown}: malformed YAML{where}: {problem}") from None


def check_file(data: Any, shown: str) -> None:
    """The whole file's data: a mapping (or nothing); `deploy` in it, when there, of the right shape."""
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise DeployError(f"{shown}: the file must hold a mapping (deploy: ...), not {_kind(data)}")
    for key in data:
        if key != "deploy" and _close(str(key), ["deploy"]):
            raise DeployError(f"{shown}: unknown key {key}: did you mean deploy?")
    if "deploy" in data:
        check_shape(data["deploy"], DEPLOY, ("deploy",), lambda path, problem: f"{shown}: {problem}")


def check_shape(value: Any, shape: Node, path: tuple[str, ...],
                say: Callable[[tuple[str, ...], str], str] = lambda path, problem: problem) -> None:
    """Raise a `DeployError` at the first value at or under `path` that does not fit `shape`.

    `say(path, problem)` makes the error's text from the offending key's path and the problem.
    """
    key = ".".join(path)
    if isinstance(shape, (Section, Each)):
        if value is None and isinstance(shape, Section) and shape.may_be_empty:
            return
        if not isinstance(value, Mapping):
            raise DeployError(say(path, f"{key} must be a mapping of settings, not {_kind(value)}"))
        if isinstance(shape, Each):
            for name, inner in value.items():
                check_shape(inner, shape.shape, (*path, str(name)), say)
            return
        for name, inner in value.items():
            if name not in shape.keys:
                suggestion = _suggestion(str(name), list(shape.keys))
                raise DeployError(say((*path, str(name)), f"unknown key {key}.{name}: {suggestion}"))
            check_shape(inner, shape.keys[name], (*path, str(name)), say)
        return
    assert isinstance(shape, Key)
    wanted = LIST if shape.many else SCALAR
    if isinstance(value, Mapping) or (not shape.many and isinstance(value, (list, tuple))):
        raise DeployError(say(path, f"{key} must be {wanted}, not {_kind(value)}"))
    elif shape.many and isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (Mapping, list, tuple)):
                raise DeployError(say(path, f"{key} must be a list of single values, not a list holding {_kind(item)}"))


def _suggestion(name: str, known: list[str]) -> str:
    close = _close(name, known)
    if close:
        return f"did you mean {close}?"
    return f"this version knows {', '.join(known)}"


def _close(name: str, known: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.75)
    return matches[0] if matches else None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"a list ({json.dumps(list(value), default=str)[:40]})"
    if value is None:
        return "nothing"
    return f"{value!r}"

"""Load a YAML file into a pydantic model, reporting errors with the file and line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

CONFIG_DIR_ENV = "REVOPS_CONFIG_DIR"
DEFAULT_DIR = Path(__file__).parent
M = TypeVar("M", bound=pydantic.BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used, with where and why."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}:{line if line is not None else '?'}: {key or '(top level)'}: {reason}"
            for line, key, reason in problems
        ]
        super().__init__("invalid configuration\n  " + "\n  ".join(lines))


def config_path(name: str) -> Path:
    """`name` in REVOPS_CONFIG_DIR if set, else the packaged default."""
    directory = os.environ.get(CONFIG_DIR_ENV)
    return (Path(directory) if directory else DEFAULT_DIR) / name


def _line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the deepest node on `loc` that the YAML parser placed."""
    line: int | None = None
    node = data
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line


def _key(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_model(path: Path, model: type[M]) -> M:
    """Parse and validate `path`; raise `ConfigError` with every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [(None, "", f"cannot read the file: {exc.strerror}")]) from exc
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, [(line, "", f"not valid YAML: {exc.problem}")]) from exc
    if data is None:
        raise ConfigError(path, [(None, "", "the file is empty")])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [
            (_line_of(data, tuple(error["loc"])), _key(tuple(error["loc"])), error["msg"])
            for error in exc.errors()
        ]
        raise ConfigError(path, problems) from exc

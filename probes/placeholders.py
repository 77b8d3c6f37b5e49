"""`${VAR}` placeholders: kept in the stored spec, resolved from the environment at probe time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnsetVariable(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set (nor {name}_FILE)")
        self.name = name


def names(value: Any) -> set[str]:
    """Every variable named by a placeholder anywhere in `value`."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(names(v) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(names(v) for v in value))
    return set()


def lookup(name: str, environ: Mapping[str, str]) -> str:
    """NAME from the environment, or the contents of the file NAME_FILE points to."""
    if name in environ:
        return environ[name]
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise UnsetVariable(name) from exc
    raise UnsetVariable(name)


def resolve(value: Any, environ: Mapping[str, str]) -> tuple[Any, set[str]]:
    """`value` with every placeholder replaced, and the set of values substituted (secrets)."""
    substituted: set[str] = set()

    def walk(item: Any) -> Any:
        if isinstance(item, str):

            def replace(match: re.Match[str]) -> str:
                found = lookup(match[1], environ)
                substituted.add(found)
                return found

            return PLACEHOLDER.sub(replace, item)
        if isinstance(item, Mapping):
            return {key: walk(v) for key, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value), substituted

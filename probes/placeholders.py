"""`${VAR}` placeholders: kept in the stored spec, resolved from the environment at probe time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from probes import json_values

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnsetVariable(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set (nor {name}_FILE)")
        self.name = name


def holds_placeholder(value: str) -> bool:
    """Whether `value` takes some of itself from the environment: the one test of that."""
    return bool(PLACEHOLDER.search(value))


def begins_with_placeholder(value: str) -> bool:
    """Whether `value` starts from the environment (`${RPC_URL}/v1`): its beginning, a URL's
    scheme and host say, is known only when it is resolved."""
    return bool(PLACEHOLDER.match(value))


def names(value: Any) -> set[str]:
    """Every variable named by a placeholder anywhere in `value`."""
    return {
        name
        for _, item in json_values.walk(value)
        if isinstance(item, str)
        for name in PLACEHOLDER.findall(item)
    }


def variable(name: str, environ: Mapping[str, str]) -> str | None:
    """The contents of the file NAME_FILE names when it is set (Docker and Kubernetes
    secrets), else NAME; None when neither is set. OSError when the file cannot be read.

    The one reader of NAME and NAME_FILE: placeholders and settings both use it."""
    path = environ.get(f"{name}_FILE", "").strip()
    if path:
        return Path(path).read_text().strip()
    return environ.get(name)


def lookup(name: str, environ: Mapping[str, str]) -> str:
    """A placeholder's value; UnsetVariable when the environment has none."""
    try:
        value = variable(name, environ)
    except OSError as exc:
        raise UnsetVariable(name) from exc
    if value is None:
        raise UnsetVariable(name)
    return value


def resolve(value: Any, environ: Mapping[str, str]) -> tuple[Any, set[str]]:
    """`value` with every placeholder replaced, and the set of values substituted (secrets)."""
    substituted: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        found = lookup(match[1], environ)
        substituted.add(found)
        return found

    def leaf(item: Any, path: json_values.Path) -> Any:
        return PLACEHOLDER.sub(replace, item) if isinstance(item, str) else item

    return json_values.transform(value, leaf), substituted

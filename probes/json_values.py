"""Walking JSON-like values (a spec, observations): mappings, lists and tuples of scalars.

A path is the keys and indexes from the top to a value, as a tuple; `key_of` is the name of
the mapping entry a value sits in (a list item keeps its list's name: the headers of
`headers`, the items of `expect_status`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Path = tuple[Any, ...]


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, item) for `value` and every mapping, list and scalar within it, top first."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))


def transform(value: Any, leaf: Callable[[Any, Path], Any], path: Path = ()) -> Any:
    """`value` rebuilt (tuples as lists), each scalar replaced by `leaf(scalar, path)`."""
    if isinstance(value, Mapping):
        return {key: transform(item, leaf, (*path, key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [transform(item, leaf, (*path, index)) for index, item in enumerate(value)]
    return leaf(value, path)


def at(value: Any, path: Path) -> Any:
    """What `value` holds at `path`; None where it holds nothing."""
    for step in path:
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, list | tuple) and isinstance(step, int) and step < len(value):
            value = value[step]
        else:
            return None
    return value


def key_of(path: Path) -> str:
    """The name of the mapping entry at the end of `path` ('' at the top)."""
    return next((str(step) for step in reversed(path) if not isinstance(step, int)), "")


# A dotted path into a JSON document: `data.items.0.status` (a list's items by index).
DOTTED_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
ABSENT = object()  # what json_path finds where the document has nothing


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path (`data.items.0.status`), or ABSENT."""
    value = document
    for key in path.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return ABSENT
    return value

"""YAML that remembers where each key was written, and refuses a key written twice.

PyYAML keeps the last of two equal keys without a word; in a declaration that silently
drops half an entry, so it is an error here. Line numbers make every message point home.
"""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"


class Mapping(dict):
    """A mapping with the line it starts on and the line of each of its keys."""

    line: int | None = None
    lines: dict[Any, int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = {}

    @classmethod
    def like(cls, located: Any, data: AnyMapping[str, Any]) -> Mapping:
        """`data` at the location of `located` (an entry with its defaults merged in, say)."""
        mapping = cls(data)
        mapping.line = getattr(located, "line", None)
        mapping.lines = dict(getattr(located, "lines", {}))
        return mapping


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Mapping:
    written = sum(key_node.tag != _MERGE_TAG for key_node, _ in node.value)
    loader.flatten_mapping(node)
    # `<<` merges put their keys first; the keys written here may override those, not repeat.
    merged = len(node.value) - written
    lines: dict[Any, int] = {}
    seen: dict[Any, int] = {}
    for position, (key_node, _) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:
            continue  # an unhashable key: construct_mapping below reports it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found the key {key!r} twice (first on line {first})",
                key_node.start_mark,
            )
        if position >= merged:
            seen[key] = line
        lines[key] = line
    mapping = Mapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.lines = lines
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str) -> Any:
    """The document in `text`, its mappings located; yaml.YAMLError when it is not YAML."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader

"""YAML that remembers where each key was written, refuses a key written twice, and stays
bounded whatever the file holds.

PyYAML keeps the last of two equal keys without a word; in a declaration that silently
drops half an entry, so it is an error here. Line numbers make every message point home.

The document is built from libyaml's event stream by a loop, not by PyYAML's recursive
composer: nesting deeper than MAX_DEPTH and aliases that would expand past MAX_NODES are
refused while reading, before anything large exists (a "billion laughs" file stops after a
million nodes, not after gigabytes), and a deep file cannot raise RecursionError. Scalars
are resolved and constructed as PyYAML's safe loader does (its resolver and constructors).
An alias refers to the value its anchor built, so nothing is copied; an alias inside its
own anchor (a value that contains itself) is refused. One departure: a plain key `on`,
`off`, `yes` or `no` is that word, not the boolean YAML 1.1 makes of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events
from yaml.constructor import ConstructorError, SafeConstructor

from probes.excerpts import excerpt

# Deeper than any declaration needs (an entry's headers sit at depth 4).
MAX_DEPTH = 20
# Nodes once every alias is expanded: ten times what 10,000 dependencies take.
MAX_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_BOOLS = ("true", "false")
_VALUE_TAG = "tag:yaml.org,2002:value"
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "binary", "timestamp", "str")
)
_EventLoader = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


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


def load(text: str) -> Any:
    """The document in `text`, its mappings located; yaml.YAMLError when it is not YAML, or
    is deeper or larger than the limits."""
    return _Builder().build(yaml.parse(text, Loader=_EventLoader))


# --- building the document from events -------------------------------------------------


@dataclass
class _Collection:
    """A sequence or mapping being read; `start` counts the nodes read before it."""

    value: Any
    event: events.CollectionStartEvent
    start: int
    # A mapping's state: the key read and waiting for its value, the keys written here, and
    # the mappings merged in by `<<`, in the order written.
    key: Any = None
    key_event: events.Event | None = None
    has_key: bool = False
    written: dict[Any, int] = field(default_factory=dict)
    merges: list[list[Any]] = field(default_factory=list)


class _Builder:
    def __init__(self) -> None:
        self.resolver = yaml.resolver.Resolver()
        self.constructor = SafeConstructor()
        self.anchors: dict[str, tuple[Any, int]] = {}  # name -> (value, nodes it expands to)
        self.open_anchors: set[str] = set()
        self.stack: list[_Collection] = []
        self.nodes = 0
        self.documents = 0
        self.root: Any = None

    def build(self, stream: Iterator[events.Event]) -> Any:
        for event in stream:
            if isinstance(event, events.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise yaml.composer.ComposerError(
                        "expected a single document in the stream",
                        None,
                        "but found another document",
                        event.start_mark,
                    )
            elif isinstance(event, events.AliasEvent):
                self._alias(event)
            elif isinstance(event, events.ScalarEvent):
                self._count(1, event)
                self._add(self._scalar(event), event, 1)
            elif isinstance(event, events.SequenceStartEvent | events.MappingStartEvent):
                self._open(event)
            elif isinstance(event, events.CollectionEndEvent):
                self._close()
        return self.root

    def _count(self, nodes: int, event: events.Event) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise _limit(f"more than {MAX_NODES:,} values once its aliases are expanded", event)

    def _alias(self, event: events.AliasEvent) -> None:
        if event.anchor in self.open_anchors:
            raise _limit(f"the alias *{event.anchor} is inside its own anchor", event)
        if event.anchor not in self.anchors:
            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {event.anchor!r}", event.start_mark
            )
        value, size = self.anchors[event.anchor]
        self._count(size, event)
        self._add(value, event, size)

    def _open(self, event: events.CollectionStartEvent) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _limit(f"nested deeper than {MAX_DEPTH} levels", event)
        self._count(1, event)
        is_mapping = isinstance(event, events.MappingStartEvent)
        tag = event.tag if event.tag not in (None, "!") else None
        if tag is not None and tag != (_MAP_TAG if is_mapping else _SEQ_TAG):
            raise ConstructorError(
                None, None, f"the tag {tag!r} is not supported here", event.start_mark
            )
        value: Any = Mapping() if is_mapping else []
        if is_mapping:
            value.line = event.start_mark.line + 1
        self._check_anchor(event)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Collection(value, event, self.nodes - 1))

    def _close(self) -> None:
        collection = self.stack.pop()
        value = collection.value
        if isinstance(value, Mapping) and collection.merges:
            value = self._merged(collection)
        anchor = collection.event.anchor
        if anchor is not None:
            self.open_anchors.discard(anchor)
        self._add(value, collection.event, self.nodes - collection.start, anchored=True)

    def _merged(self, collection: _Collection) -> Mapping:
        """PyYAML's order: keys written here win over merged ones; of merged ones, the first
        merged wins (`<<: [*a, *b]`: a's over b's; an earlier `<<` over a later one)."""
        merged = Mapping()
        merged.line = collection.value.line
        for group in collection.merges:
            for mapping in group:
                lines = getattr(mapping, "lines", {})
                for key, value in mapping.items():
                    if key not in merged:
                        merged[key] = value
                        if key in lines:
                            merged.lines[key] = lines[key]
        merged.update(collection.value)
        merged.lines.update(collection.value.lines)
        return merged

    def _add(self, value: Any, event: events.Event, size: int, anchored: bool = False) -> None:
        """Place a finished node in its parent (or as the document)."""
        if not anchored and isinstance(event, events.ScalarEvent):
            self._check_anchor(event)
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, events.AliasEvent):
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        if isinstance(parent.value, list):
            parent.value.append(value)
        elif not parent.has_key:
            parent.key, parent.key_event, parent.has_key = value, event, True
        else:
            parent.has_key = False
            self._put(parent, parent.key, parent.key_event, value)

    def _put(self, parent: _Collection, key: Any, key_event: Any, value: Any) -> None:
        mark = key_event.start_mark
        if key is _MERGE:
            parent.merges.append(self._merge_sources(value, parent, mark))
            return
        try:
            first = parent.written.get(key)
        except TypeError:
            raise ConstructorError(
                "while constructing a mapping",
                parent.event.start_mark,
                "found unhashable key",
                mark,
            ) from None
        if first is not None:
            raise ConstructorError(
                "while reading a mapping",
                parent.event.start_mark,
                f"found the key {excerpt(key)} twice (first on line {first})",
                mark,
            )
        parent.written[key] = mark.line + 1
        parent.value[key] = value
        parent.value.lines[key] = mark.line + 1

    def _merge_sources(self, value: Any, parent: _Collection, mark: Any) -> list[Any]:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            raise ConstructorError(
                "while constructing a mapping",
                parent.event.start_mark,
                "expected a mapping or list of mappings for merging",
                mark,
            )
        return sources

    def _check_anchor(self, event: events.NodeEvent) -> None:
        if event.anchor is not None and (
            event.anchor in self.anchors or event.anchor in self.open_anchors
        ):
            raise yaml.composer.ComposerError(
                None, None, f"found duplicate anchor {event.anchor!r}", event.start_mark
            )

    def _scalar(self, event: events.ScalarEvent) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        parent = self.stack[-1] if self.stack else None
        is_key = parent is not None and isinstance(parent.value, Mapping) and not parent.has_key
        if tag == _BOOL_TAG and is_key and event.implicit[0] and event.value.lower() not in _BOOLS:
            # YAML 1.1 reads a key `on:` (`off`, `yes`, `no`) as a boolean; no declaration
            # means that (`on: [down, up]` is a field), so a key keeps its words.
            tag = _STR_TAG
        if (
            tag == _MERGE_TAG
            and parent
            and isinstance(parent.value, Mapping)
            and not parent.has_key
        ):
            return _MERGE
        if tag == _VALUE_TAG:
            tag = _STR_TAG  # `=`, as PyYAML reads it
        if tag not in _SCALAR_TAGS:
            raise ConstructorError(
                None, None, f"the tag {tag!r} is not supported here", event.start_mark
            )
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return self.constructor.yaml_constructors[tag](self.constructor, node)
        except Exception as exc:
            # int() past 4,300 digits, a date that does not exist, `!!bool maybe`: a refusal
            # with the line, not a traceback.
            raise ConstructorError(
                None, None, f"cannot read {excerpt(event.value)}: {exc}", event.start_mark
            ) from exc


class _Merge:
    """The `<<` key, kept apart from any string key."""


_MERGE = _Merge()


class LimitError(yaml.MarkedYAMLError):
    """Valid YAML, maybe, but past what a declaration may be."""


def _limit(problem: str, event: events.Event) -> LimitError:
    return LimitError(None, None, problem, event.start_mark)

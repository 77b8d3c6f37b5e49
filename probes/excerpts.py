"""Short excerpts of values for messages, costing little however large the value is.

Not `repr()`: the repr of a value that YAML aliases expand a billion times is built whole
before it could be cut short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

ITEMS = 4  # shown of each mapping or list
LEVELS = 2  # of nesting shown


def excerpt(value: Any, length: int = 60) -> str:
    text = _excerpt(value, 0)
    return text if len(text) <= length else text[: length - 3] + "..."


def _excerpt(value: Any, level: int) -> str:
    if isinstance(value, str | bytes):
        return repr(value[:200])
    if isinstance(value, Mapping):
        if level >= LEVELS:
            return "{...}"
        shown = [
            f"{_excerpt(k, level + 1)}: {_excerpt(v, level + 1)}" for k, v in _some(value.items())
        ]
        return "{" + ", ".join(shown) + (", ..." if len(value) > ITEMS else "") + "}"
    if isinstance(value, list | tuple):
        if level >= LEVELS:
            return "[...]"
        shown = [_excerpt(item, level + 1) for item in _some(value)]
        return "[" + ", ".join(shown) + (", ..." if len(value) > ITEMS else "") + "]"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"<an integer of {value.bit_length()} bits>"
    return repr(value)


def _some(items: Iterable[Any]) -> list[Any]:
    return list(islice(items, ITEMS))


def shorten(text: str, length: int = 200) -> str:
    """Text cut to `length` characters, on one line."""
    line = " ".join(text[: length * 2].split())
    return line if len(line) <= length else line[: length - 3] + "..."

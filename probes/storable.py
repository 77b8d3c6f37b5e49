"""What the Dependency columns can hold: the last guard between a declaration and a sync the
database would fail."""

from __future__ import annotations

import math
from typing import Any

from django.db import models

from probes import json_values
from probes.models import Dependency

# What the database's columns hold: PostgreSQL's integer, and JSON numbers Python writes back
# exactly. No text column or JSON string holds NUL (PostgreSQL refuses it).
_COLUMN_INTEGERS = range(0, 2**31)
_JSON_INTEGERS = range(-(2**63), 2**63)


def unstorable(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for each value the Dependency columns could not hold.

    The fields' own checks refuse all of these first, with better words; this is the last
    guard between a declaration and a sync that the database would fail, which would
    otherwise stop every probe (DataError) or the prober (OverflowError)."""
    problems = []
    for name, value in values.items():
        column = Dependency._meta.get_field(name)
        if isinstance(column, models.CharField) and len(value) > column.max_length:
            problems.append((name, f"longer than {column.max_length} characters"))
        elif isinstance(column, models.IntegerField) and value not in _COLUMN_INTEGERS:
            problems.append(
                (name, f"outside {_COLUMN_INTEGERS.start}..{_COLUMN_INTEGERS.stop - 1}")
            )
        elif isinstance(column, models.JSONField):
            problem = _json_problem(value)
            if problem:
                problems.append((name, problem))
        if isinstance(value, str) and "\x00" in value:
            problems.append((name, "holds a NUL character"))
    return problems


def _json_problem(value: Any) -> str | None:
    """Why `value` is not JSON that both databases store and give back as it was, or None."""
    for _, item in json_values.walk(value):
        if isinstance(item, dict) and any("\x00" in str(key) for key in item):
            return "holds a NUL character"
        if isinstance(item, str) and "\x00" in item:
            return "holds a NUL character"
        if isinstance(item, int) and not isinstance(item, bool) and item not in _JSON_INTEGERS:
            return "holds an integer outside 64 bits"
        if isinstance(item, float) and not math.isfinite(item):
            return "holds a number that is not finite"
        if not isinstance(item, dict | list | tuple | str | int | float | bool | type(None)):
            return f"holds a {type(item).__name__}, which JSON has not"
    return None

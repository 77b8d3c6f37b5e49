"""Typed reads of one entry of dependencies.yaml, collecting every problem rather than the first.

Each kind reads its own fields through a `Fields`; whatever nobody read is an unknown field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from probes.durations import parse_duration


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a declaration, located as precisely as we can."""

    source: str  # the file
    where: str  # `defaults`, or `entry 3 'mailer'`
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        # file:line: first, as compilers write it, so that editors can jump there.
        location = f"{self.source}:{self.line}" if self.line else self.source
        field = f", field '{self.field}'" if self.field else ""
        return f"{location}: {self.where}{field}: {self.message}"


_MISSING: Any = object()


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Fields:
    def __init__(
        self,
        data: Mapping[str, Any],
        source: str,
        where: str,
        problems: list[Problem],
        line: int | None = None,
    ):
        self.data = data
        self.source = source
        self.where = where
        self.problems = problems
        self.line = getattr(data, "line", None) or line
        self._read: set[str] = set()

    def problem(self, field: str | None, message: str) -> None:
        line = getattr(self.data, "lines", {}).get(field) or self.line
        self.problems.append(Problem(self.source, self.where, field, message, line))

    def value(self, name: str, default: Any = _MISSING) -> Any:
        """The raw value of `name` (marked as read); a problem if it is required and absent."""
        self._read.add(name)
        if name in self.data and self.data[name] is not None:
            return self.data[name]
        if default is _MISSING:
            self.problem(name, "required")
        return default

    def _typed(self, name: str, default: Any, check: type, expected: str) -> Any:
        value = self.value(name, default)
        if value is default:
            return value
        # YAML's true is an int to Python: an integer field must still refuse it.
        if not isinstance(value, check) or (isinstance(value, bool) and check is not bool):
            self.problem(name, f"expected {expected}, got {_shown(value)}")
            return default if default is not _MISSING else None
        return value

    def string(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        choices: Collection[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_help: str = "",
    ) -> Any:
        value = self._typed(name, default, str, "a string")
        if not isinstance(value, str) or value is default:
            return value
        if choices is not None and value not in choices:
            self.problem(name, f"{_shown(value)} is not one of: {', '.join(choices)}")
        elif pattern is not None and not pattern.fullmatch(value):
            self.problem(name, f"{_shown(value)} {pattern_help}")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        return self._typed(name, default, bool, "true or false")

    def integer(self, name: str, default: Any = _MISSING, *, minimum: int | None = None) -> Any:
        value = self._typed(name, default, int, "an integer")
        if isinstance(value, int) and minimum is not None and value < minimum:
            self.problem(name, f"must be at least {minimum}, got {value}")
        return value

    def duration(self, name: str, default: Any = _MISSING) -> Any:
        """Seconds, from `500ms`, `5s`, `2m` or `1h`."""
        value = self.value(name, default)
        if value is default:
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.problem(name, str(exc))
            return None
        if seconds <= 0:
            self.problem(name, "must be longer than zero")
        return seconds

    def integers(self, name: str, default: Any = _MISSING) -> Any:
        """A list of integers; a single integer is a list of one."""
        value = self.value(name, default)
        if value is default:
            return value
        items = [value] if isinstance(value, int) else value
        if not isinstance(items, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in items
        ):
            self.problem(name, f"expected an integer or a list of integers, got {_shown(value)}")
            return None
        return items

    def string_map(self, name: str, default: Any = _MISSING) -> Any:
        value = self.value(name, default)
        if value is default:
            return value
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            self.problem(name, f"expected a mapping of names to strings, got {_shown(value)}")
            return None
        return {k: str(v) for k, v in value.items()}

    def section(self, name: str) -> Fields | None:
        """A nested mapping (like `breaker:`), read with the same collector."""
        value = self.value(name, {})
        if not isinstance(value, Mapping):
            self.problem(name, f"expected a mapping, got {_shown(value)}")
            return None
        line = getattr(self.data, "lines", {}).get(name) or self.line
        return Fields(value, self.source, f"{self.where}, {name}", self.problems, line)

    def unread(self) -> list[str]:
        return [key for key in self.data if key not in self._read]

    def reject_unread(self, known: Collection[str] = ()) -> None:
        """Report each field nobody read, with the closest known name as a hint."""
        for key in self.unread():
            self.unknown(key, known)

    def unknown(self, key: str, known: Collection[str] = ()) -> None:
        close = difflib.get_close_matches(str(key), sorted({*self._read, *known}), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        self.problem(str(key), f"unknown field{hint}")

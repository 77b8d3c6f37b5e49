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
from probes.excerpts import excerpt
from probes.placeholders import holds_placeholder

# A dependency's (or a pool's) name: a slug, as URLs and labels take it.
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
NAME_HELP = (
    "is not a name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
)


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
WRITE_AS_PLACEHOLDER = (
    "holds a credential written out: write it as ${VAR} and set VAR in the environment, "
    "so that it never reaches the database"
)
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
# The bounds every value of a declaration is held to, unless its field sets tighter ones
# (README, "Limits"): whatever passes them, the database can hold.
# A year: longer is a typo, and past what a timedelta column holds comfortably.
LONGEST_DURATION = 365 * 86400.0
SHORTEST_DURATION = 0.001  # a timedelta keeps microseconds: less would be stored as zero
LONGEST_STRING = 1000
LONGEST_LIST = 50  # items in a list, or names in a mapping such as headers
LONGEST_NAME = 200  # of a name in such a mapping
LARGEST_INTEGER = 2**31 - 1  # an integer column's
LARGEST_SIZE = 64 * 1024**2
# Control characters: none in a line of text, tab and line breaks in text of several lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_problem(value: str, longest: int = LONGEST_STRING, lines: bool = False) -> str | None:
    """Why a string cannot be declared (too long, a control character), or None."""
    if len(value) > longest:
        return f"is longer than {longest} characters ({len(value)})"
    found = (_CONTROL_IN_TEXT if lines else _CONTROL).search(value)
    if found:
        return f"holds the control character {found[0]!r} (at character {found.start() + 1})"
    return None


_shown = excerpt


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
        return self._given(name, default)[1]

    def _given(self, name: str, default: Any) -> tuple[bool, Any]:
        """(whether `name` was given, its value); a missing required field reads as None."""
        self._read.add(name)
        if name in self.data and self.data[name] is not None:
            return True, self.data[name]
        if default is _MISSING:
            self.problem(name, "required")
            return False, None
        return False, default

    def _typed(self, name: str, default: Any, check: type, expected: str) -> tuple[bool, Any]:
        given, value = self._given(name, default)
        # YAML's true is an int to Python: an integer field must still refuse it.
        if given and (
            not isinstance(value, check) or (isinstance(value, bool) and check is not bool)
        ):
            self.problem(name, f"expected {expected}, got {_shown(value)}")
            return False, None if default is _MISSING else default
        return given, value

    def _text(self, name: str, default: Any, longest: int, lines: bool = False) -> tuple[bool, Any]:
        """A string field, refused when too long or holding control characters."""
        given, value = self._typed(name, default, str, "a string")
        problem = text_problem(value, longest, lines) if given else None
        if problem:
            self.problem(name, problem)
            return False, None if default is _MISSING else default
        return given, value

    def string(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        choices: Collection[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_help: str = "",
        longest: int = LONGEST_STRING,
        lines: bool = False,
    ) -> Any:
        """A string; `lines` allows tabs and line breaks (a request body, say)."""
        given, value = self._text(name, default, longest, lines)
        if not given:
            return value
        if choices is not None and value not in choices:
            self.problem(name, f"{_shown(value)} is not one of: {', '.join(choices)}")
        elif pattern is not None and not pattern.fullmatch(value):
            self.problem(name, f"{_shown(value)} {pattern_help}")
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        return self._typed(name, default, bool, "true or false")[1]

    def integer(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int = LARGEST_INTEGER,
    ) -> Any:
        given, value = self._typed(name, default, int, "an integer")
        if given and minimum is not None and value < minimum:
            self.problem(name, f"must be at least {minimum}, got {_shown(value)}")
            return None
        if given and value > maximum:
            self.problem(name, f"must be at most {maximum}, got {_shown(value)}")
            return None
        return value

    def duration(self, name: str, default: Any = _MISSING, *, zero: bool = False) -> Any:
        """Seconds, from `500ms`, `5s`, `2m` or `1h`; `zero` allows `0s` (no wait)."""
        given, value = self._given(name, default)
        if not given:
            return value
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.problem(name, str(exc))
            return None
        if zero and seconds == 0:
            return 0.0
        if not 0 < seconds <= LONGEST_DURATION:
            self.problem(
                name, f"must be longer than zero and at most {LONGEST_DURATION // 86400:g} days"
            )
            return None
        if seconds < SHORTEST_DURATION:
            self.problem(name, "must be at least 1ms")
            return None
        return seconds

    def secret(self, name: str, default: Any = _MISSING) -> Any:
        """A credential: a string that takes its secret from a ${VAR} placeholder."""
        given, value = self._text(name, default, LONGEST_STRING)
        if given and not holds_placeholder(value):
            self.problem(name, WRITE_AS_PLACEHOLDER)
        return value

    def size(self, name: str, default: Any = _MISSING) -> Any:
        """Bytes, from a number or `512KiB`, `1MiB`, `10MB`."""
        given, value = self._given(name, default)
        if not given:
            return value
        match = None
        if isinstance(value, int | str) and not isinstance(value, bool) and len(str(value)) < 30:
            match = _SIZE.fullmatch(str(value).strip())
        if not match or float(match[1]) <= 0:
            self.problem(name, f"{_shown(value)} is not a size (use bytes, or 512KiB, 1MiB, 10MB)")
            return None
        size = int(float(match[1]) * _SIZE_UNITS[(match[2] or "B").lower()])
        if size > LARGEST_SIZE:
            self.problem(name, f"must be at most {LARGEST_SIZE // 1024**2}MiB")
            return None
        return size

    def integers(
        self,
        name: str,
        default: Any = _MISSING,
        *,
        minimum: int = -LARGEST_INTEGER - 1,
        maximum: int = LARGEST_INTEGER,
        out_of_range: str = "",
    ) -> Any:
        """A list of integers from `minimum` to `maximum`; a single integer is a list of one."""
        given, value = self._given(name, default)
        if not given:
            return value
        items = [value] if isinstance(value, int) else value
        if not isinstance(items, list) or not all(
            isinstance(item, int) and not isinstance(item, bool) for item in items
        ):
            self.problem(name, f"expected an integer or a list of integers, got {_shown(value)}")
            return None
        if len(items) > LONGEST_LIST:
            self.problem(name, f"lists more than {LONGEST_LIST} values")
            return None
        for item in items:
            if not minimum <= item <= maximum:
                why = out_of_range or f"is not from {minimum} to {maximum}"
                self.problem(name, f"{_shown(item)} {why}")
                return None
        return items

    def names(self, name: str, most: int = LONGEST_LIST) -> list[str] | None:
        """A name or a list of names of dependencies or groups, at most 100 characters each
        (as a list, each once, in order); None when not given or not that (a problem said)."""
        value = self.value(name, None)
        if value is None:
            return None
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(values, list)
            or not values
            or len(values) > most
            or not all(isinstance(item, str) and len(item) <= 100 for item in values)
        ):
            self.problem(name, "expected a name or a list of names")
            return None
        return list(dict.fromkeys(values))

    def string_map(
        self, name: str, default: Any = _MISSING, *, longest: int = LONGEST_STRING
    ) -> Any:
        given, value = self._given(name, default)
        if not given:
            return value
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            self.problem(name, f"expected a mapping of names to strings, got {_shown(value)}")
            return None
        if len(value) > LONGEST_LIST:
            self.problem(name, f"names more than {LONGEST_LIST} values")
            return None
        for key, item in value.items():
            problem = text_problem(key, LONGEST_NAME) or (
                text_problem(item, longest) if isinstance(item, str) else _number_problem(item)
            )
            if problem:
                self.problem(name, f"{_shown(key)} {problem}")
                return None
        return {key: str(item) for key, item in value.items()}

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

    def unknown(self, key: Any, known: Collection[str] = ()) -> None:
        # Never the key itself: `name` is a known field, yet not one that defaults may set.
        candidates = sorted({*self._read, *known} - {key})
        label = key if isinstance(key, str) and not text_problem(key, 60) else _shown(key)
        close = difflib.get_close_matches(label, candidates, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        self.problem(label, f"unknown field{hint}")


def _number_problem(value: float) -> str | None:
    if isinstance(value, int) and value.bit_length() > 64:
        return "is a number too large to be a value here"
    return None

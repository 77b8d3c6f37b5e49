"""Durations as declared in dependencies.yaml (500ms, 5s, 2m, 1h, 14d), and as people read them."""

from __future__ import annotations

import re
from decimal import Decimal

from probes.excerpts import excerpt

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError when it is not a duration."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) and len(text) < 40 else None
    if not match:
        raise ValueError(
            f"{excerpt(text)} is not a duration (use a number and a unit: 500ms, 5s, 2m, 1h, 14d)"
        )
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def format_duration(seconds: float) -> str:
    """The shortest exact form of `seconds` in the declaration's syntax."""
    for unit in ("d", "h", "m", "s"):
        count = seconds / _UNIT_SECONDS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    # In decimal, to the microsecond a timedelta keeps: `:g` would print 1000.5s as
    # 1.0005e+06ms, and float arithmetic 1.5ms as 1.5000000000000002ms.
    exact = Decimal(repr(round(seconds, 6)))
    millis = exact * 1000
    return f"{millis.normalize():f}ms" if millis >= 1 or exact == 0 else f"{exact.normalize():f}s"


# The largest unit that fits, for a span a person reads: 45 s, 12 min, 3 h, 8 d.
_ROUGH_UNITS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"))


def rough_duration(seconds: float) -> str:
    """`seconds` (not negative) in its largest whole unit, rounded down: "3 min", not "3.2m"."""
    for size, unit in _ROUGH_UNITS:
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"

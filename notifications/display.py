"""How channels and routes read for people: on /notifications/, in the admin and in
check_dependencies. A channel's config is shown redacted: its placeholders (which name a
variable, not its value) as they are, anything else secret-looking as `***`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from probes import placeholders
from probes.durations import format_duration
from probes.redaction import redact_spec


def target(config: Mapping[str, Any]) -> str:
    """Where a channel sends, in a line: its URL, or its addresses; redacted."""
    shown = redact_spec(dict(config))
    if shown.get("url"):
        return str(shown["url"])
    if shown.get("to"):
        return ", ".join(map(str, shown["to"]))
    # A type with neither: its fields, each redacted.
    return " ".join(f"{key}={value}" for key, value in shown.items()) or "-"


def needs(config: Mapping[str, Any]) -> list[str]:
    """The environment variables a channel's config takes its secrets from."""
    return sorted(placeholders.names(dict(config)))


def route_match(match: Mapping[str, Any]) -> str:
    """`critical group=payments kind=http,rpc`; `every dependency` when it matches all."""
    words = []
    if "critical" in match:
        words.append("critical" if match["critical"] else "not critical")
    for name in ("group", "name", "kind"):
        if name in match:
            words.append(f"{name}={','.join(match[name])}")
    return " ".join(words) or "every dependency"


def duration(value: timedelta | float | None, none: str = "never") -> str:
    """As declared (`30s`, `4h`); `0s` rather than format_duration's `0ms`: a wait of none."""
    if value is None:
        return none
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return format_duration(seconds) if seconds else "0s"

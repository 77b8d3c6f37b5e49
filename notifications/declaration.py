"""The `notifications:` section of dependencies.yaml -> NotificationsSpec, or its problems.

    notifications:
      defaults: {notify_after: 0s, repeat_every: 4h, group_wait: 0s, on: [down, up]}
      channels:
        ops-hook: {type: webhook, url: "https://hooks.example.com/x", secret: "${HOOK_SECRET}"}
      routes:
        - match: {critical: true}
          channels: [ops-hook]

Every default may be set in `defaults`; a route may set notify_after, repeat_every and on;
a channel group_wait and give_up_after.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notifications.channels import CHANNEL_TYPES, channel_type
from probes.excerpts import excerpt
from probes.fields import LONGEST_LIST, Fields, Problem
from probes.kinds import KINDS
from probes.statuses import Status

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
# The statuses whose start may be told: `up` is a recovery.
TOLD = (Status.DOWN.value, Status.DEGRADED.value, Status.UP.value)
# Not a status: the SLO's burn alert raised, changed or cleared (notifications/slo_burns.py).
SLO_BURN = "slo_burn"
ON = (*TOLD, SLO_BURN)
MATCHED = ("critical", "group", "name", "kind")
NEVER = "never"  # repeat_every: no reminders
# The names and groups the dependencies have, when they are known.
Known = dict[str, set[str]] | None


@dataclass(frozen=True)
class Settings:
    notify_after: float = 0.0
    repeat_every: float | None = 4 * 3600.0
    group_wait: float = 0.0
    on: tuple[str, ...] = (Status.DOWN.value, Status.UP.value)
    give_up_after: float = 24 * 3600.0


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    type: str
    config: dict[str, Any]  # as declared: placeholders kept
    group_wait: float
    give_up_after: float


@dataclass(frozen=True)
class RouteSpec:
    match: dict[str, Any]
    channels: tuple[str, ...]
    on: tuple[str, ...]
    notify_after: float
    repeat_every: float | None


@dataclass(frozen=True)
class NotificationsSpec:
    channels: tuple[ChannelSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = field(default=())


def parse_notifications(
    section: Fields | None, dependencies: Sequence[Any] | None = None
) -> NotificationsSpec:
    """The section read through `section` (problems go to its collector). A route that
    matches by a name or group none of `dependencies` has is refused: a typo there would
    silence it."""
    if section is None:
        return NotificationsSpec()
    defaults = _read_defaults(section.section("defaults"))
    channels = _read_channels(section, defaults)
    known = None
    if dependencies is not None:
        known = {
            "name": {d.name for d in dependencies},
            "group": {d.group for d in dependencies if d.group},
        }
    # Every channel named, good or not: a route to a channel refused for its own fields is
    # not a second problem (the file is refused either way).
    declared = section.data.get("channels")
    named = (
        {name for name in declared if isinstance(name, str)}
        if isinstance(declared, Mapping)
        else set()
    )
    routes = _read_routes(section, defaults, named, known)
    section.reject_unread()
    return NotificationsSpec(channels=tuple(channels), routes=tuple(routes))


def _read_defaults(fields: Fields | None) -> Settings:
    base = Settings()
    if fields is None:
        return base
    settings = Settings(
        notify_after=fields.duration("notify_after", base.notify_after, zero=True),
        repeat_every=_repeat_every(fields, base.repeat_every),
        group_wait=fields.duration("group_wait", base.group_wait, zero=True),
        on=_statuses(fields, base.on),
        give_up_after=fields.duration("give_up_after", base.give_up_after),
    )
    fields.reject_unread()
    return settings


def _repeat_every(fields: Fields, default: float | None) -> float | None:
    if fields.data.get("repeat_every") == NEVER:
        fields.value("repeat_every")
        return None
    return fields.duration("repeat_every", default)


def _statuses(fields: Fields, default: tuple[str, ...]) -> tuple[str, ...]:
    value = fields.value("on", default)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        fields.problem("on", f"expected a list of statuses from: {', '.join(ON)}")
        return default
    unknown = [item for item in items if item not in ON]
    if unknown:
        fields.problem("on", f"{excerpt(unknown[0])} is not one of: {', '.join(ON)}")
        return default
    return tuple(dict.fromkeys(items))


def _read_channels(section: Fields, defaults: Settings) -> list[ChannelSpec]:
    declared = section.value("channels", {})
    if not isinstance(declared, Mapping):
        section.problem("channels", "expected a mapping of channel names to channels")
        return []
    if len(declared) > LONGEST_LIST:
        section.problem("channels", f"declares more than {LONGEST_LIST} channels")
        return []
    channels = []
    for name, entry in declared.items():
        where = f"{section.where}, channel {name!r}"[:200]
        if not isinstance(name, str) or not NAME.fullmatch(name):
            _channel_problem(section, declared, name, "is not a channel name (a-z, 0-9, - and _)")
            continue
        if not isinstance(entry, Mapping):
            _channel_problem(section, declared, name, "expected a mapping of fields")
            continue
        fields = Fields(entry, section.source, where, section.problems)
        channel = _read_channel(name, fields, defaults)
        if channel is not None:
            channels.append(channel)
    return channels


def _channel_problem(section: Fields, declared: Mapping[Any, Any], name: Any, why: str) -> None:
    """A problem of one channel as a whole, on the line its name is written on."""
    line = getattr(declared, "lines", {}).get(name) or section.line
    problem = Problem(section.source, section.where, "channels", f"{excerpt(name)} {why}", line)
    section.problems.append(problem)


def _read_channel(name: str, fields: Fields, defaults: Settings) -> ChannelSpec | None:
    before = len(fields.problems)
    type_name = fields.string("type", choices=sorted(CHANNEL_TYPES))
    if type_name not in CHANNEL_TYPES:
        fields.value("group_wait", None)
        fields.value("give_up_after", None)
        return None
    kind = channel_type(type_name)
    config = kind.parse(fields)
    group_wait = fields.duration(
        "group_wait", defaults.group_wait if kind.GROUPS else 0.0, zero=True
    )
    if group_wait and not kind.GROUPS:
        fields.problem("group_wait", f"a {type_name} channel takes one event per message")
    give_up_after = fields.duration("give_up_after", defaults.give_up_after)
    fields.reject_unread(("type", "group_wait", "give_up_after"))
    if len(fields.problems) > before:
        return None
    return ChannelSpec(name, type_name, config, group_wait, give_up_after)


def _read_routes(
    section: Fields, defaults: Settings, channels: set[str], known: Known
) -> list[RouteSpec]:
    declared = section.value("routes", [])
    if not isinstance(declared, list):
        section.problem("routes", "expected a list of routes")
        return []
    if len(declared) > LONGEST_LIST:
        section.problem("routes", f"lists more than {LONGEST_LIST} routes")
        return []
    routes = []
    for index, entry in enumerate(declared, start=1):
        where = f"{section.where}, route {index}"
        if not isinstance(entry, Mapping):
            section.problem("routes", f"route {index}: expected a mapping of fields")
            continue
        fields = Fields(entry, section.source, where, section.problems)
        route = _read_route(fields, defaults, channels, known)
        if route is not None:
            routes.append(route)
    return routes


def _read_route(
    fields: Fields, defaults: Settings, channels: set[str], known: Known
) -> RouteSpec | None:
    before = len(fields.problems)
    match = _read_match(fields.section("match"), known)
    route = RouteSpec(
        match=match,
        channels=_route_channels(fields, channels),
        on=_statuses(fields, defaults.on),
        notify_after=fields.duration("notify_after", defaults.notify_after, zero=True),
        repeat_every=_repeat_every(fields, defaults.repeat_every),
    )
    fields.reject_unread()
    return None if len(fields.problems) > before else route


def _route_channels(fields: Fields, channels: set[str]) -> tuple[str, ...]:
    """The channels a route names (one, or a list), each of them declared."""
    value = fields.value("channels")
    names = [value] if isinstance(value, str) else value
    if names is None:
        return ()
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        fields.problem("channels", f"expected a list of channel names, got {excerpt(value)}")
        return ()
    for name in names:
        if name not in channels:
            declared = ", ".join(sorted(channels)) or "none is declared"
            fields.problem(
                "channels", f"no channel is named {excerpt(name)} (channels: {declared})"
            )
    return tuple(dict.fromkeys(names))


def _read_match(fields: Fields | None, known: Known) -> dict[str, Any]:
    """Every field given must hold: `critical: true`, and names (one or a list) otherwise."""
    if fields is None:
        return {}
    match: dict[str, Any] = {}
    critical = fields.boolean("critical", None)
    if critical is not None:
        match["critical"] = critical
    for name in ("group", "name", "kind"):
        values = fields.names(name)
        if values is None:
            continue
        if name == "kind" and (unknown := [v for v in values if v not in KINDS]):
            fields.problem(name, f"unknown kind {unknown[0]!r} (known kinds: {', '.join(KINDS)})")
            continue
        if known is not None and name in known and (absent := set(values) - known[name]):
            fields.problem(name, f"no dependency has the {name} {sorted(absent)[0]!r}")
            continue
        match[name] = values
    fields.reject_unread(MATCHED)
    return match


def matches(match: Mapping[str, Any], dependency: Any) -> bool:
    """Whether a route's `match` holds for a dependency (a row or a DependencySpec)."""
    if "critical" in match and dependency.critical != match["critical"]:
        return False
    return all(
        getattr(dependency, name) in match[name]
        for name in ("group", "name", "kind")
        if name in match
    )

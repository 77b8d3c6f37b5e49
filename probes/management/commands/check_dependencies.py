from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from notifications import display
from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from probes import placeholders
from probes.declarations import DeclarationError, load_document
from probes.dependency_spec import DependencySpec
from probes.durations import format_duration
from probes.kinds import kind
from probes.maintenance import Window

COLUMNS = (
    "NAME",
    "KIND",
    "CRITICAL",
    "GROUP",
    "EVERY",
    "TIMEOUT",
    "BREAKER (fail/wait/ok)",
    "TARGET",
    "NEEDS",
)
CHANNEL_COLUMNS = ("CHANNEL", "TYPE", "SENDS TO", "GROUP WAIT", "GIVE UP AFTER", "NEEDS")
ROUTE_COLUMNS = ("ROUTE", "MATCH", "CHANNELS", "ON", "NOTIFY AFTER", "REPEAT EVERY")
WINDOW_COLUMNS = ("WINDOW", "MATCH", "WHEN")


class Command(BaseCommand):
    help = (
        "Validate a dependencies.yaml and print what would be probed and whom its changes "
        "would be told (secrets redacted); touches no database. "
        "Exit code 0 when the file is valid, 1 when it is not."
    )
    requires_system_checks: Sequence[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="default: $SEAHEALTH_DEPENDENCIES")

    def handle(self, *args: Any, path: Path | None, **options: Any) -> None:
        path = path or Path(settings.SEAHEALTH_DEPENDENCIES)
        try:
            declared = load_document(path)
        except DeclarationError as exc:
            self.stderr.write(str(exc))
            raise SystemExit(1) from exc
        specs, notifications = declared.dependencies, declared.notifications
        rows = [_row(spec) for spec in specs]
        self.stdout.write(_table([COLUMNS, *rows]))
        if notifications.channels:
            channels = [_channel_row(channel) for channel in notifications.channels]
            self.stdout.write("\n" + _table([CHANNEL_COLUMNS, *channels]))
        if notifications.routes:
            routes = [_route_row(n, route) for n, route in enumerate(notifications.routes, 1)]
            self.stdout.write("\n" + _table([ROUTE_COLUMNS, *routes]))
        if declared.maintenance:
            windows = [_window_row(window) for window in declared.maintenance]
            self.stdout.write("\n" + _table([WINDOW_COLUMNS, *windows]))
        counts = _counts(len(specs), notifications)
        if declared.maintenance:
            counts += ", " + _plural(
                len(declared.maintenance), "maintenance window", "maintenance windows"
            )
        self.stdout.write(f"\n{path}: {counts}, valid.")
        unset = sorted({n for spec in specs for n in _needs(spec) if not _is_set(n)})
        if unset:
            self.stdout.write(
                "Not set in this environment (those probes fail with a config error "
                f"until they are): {', '.join(unset)}"
            )
        unset = sorted(
            {n for c in notifications.channels for n in display.needs(c.config) if not _is_set(n)}
        )
        if unset:
            self.stdout.write(
                "Not set in this environment (notifications to those channels fail until "
                f"they are): {', '.join(unset)}"
            )


def _row(spec: DependencySpec) -> tuple[str, ...]:
    policy = spec.policy
    needs = sorted(_needs(spec))
    return (
        spec.name,
        spec.kind,
        "yes" if spec.critical else "no",
        spec.group or "-",
        format_duration(spec.interval),
        format_duration(spec.timeout),
        f"{policy.failure_threshold} / {format_duration(policy.recovery_timeout)}"
        f" / {policy.success_threshold}",
        kind(spec.kind).describe(spec.target),
        ", ".join(f"{n}{'' if _is_set(n) else ' (unset)'}" for n in needs) or "-",
    )


def _channel_row(channel: ChannelSpec) -> tuple[str, ...]:
    needs = display.needs(channel.config)
    return (
        channel.name,
        channel.type,
        display.target(channel.config),
        display.duration(channel.group_wait),
        display.duration(channel.give_up_after),
        ", ".join(f"{n}{'' if _is_set(n) else ' (unset)'}" for n in needs) or "-",
    )


def _route_row(number: int, route: RouteSpec) -> tuple[str, ...]:
    return (
        str(number),
        display.route_match(route.match),
        ", ".join(route.channels),
        ", ".join(route.on),
        display.duration(route.notify_after),
        display.duration(route.repeat_every),
    )


def _window_row(window: Window) -> tuple[str, ...]:
    if window.rrule:
        assert window.duration is not None
        length = format_duration(window.duration.total_seconds())
        when = f"{window.rrule} for {length} ({window.timezone})"
    else:
        assert window.start is not None
        assert window.end is not None
        when = f"{window.start.isoformat()} until {window.end.isoformat()}"
    return (window.name, display.route_match(window.match), when)


def _counts(dependencies: int, notifications: NotificationsSpec) -> str:
    counts = [_plural(dependencies, "dependency", "dependencies")]
    if notifications.channels or notifications.routes:
        counts.append(_plural(len(notifications.channels), "channel", "channels"))
        counts.append(_plural(len(notifications.routes), "route", "routes"))
    return ", ".join(counts)


def _plural(count: int, one: str, more: str) -> str:
    return f"{count} {one if count == 1 else more}"


def _needs(spec: DependencySpec) -> set[str]:
    return placeholders.names(spec.target_fields())


def _is_set(name: str) -> bool:
    return name in os.environ or f"{name}_FILE" in os.environ


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from probes import placeholders
from probes.declarations import DeclarationError, load_declaration
from probes.dependency_spec import DependencySpec
from probes.durations import format_duration
from probes.kinds import kind

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


class Command(BaseCommand):
    help = (
        "Validate a dependencies.yaml and print what would be probed; touches no database. "
        "Exit code 0 when the file is valid, 1 when it is not."
    )
    requires_system_checks: Sequence[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="default: $SEAHEALTH_DEPENDENCIES")

    def handle(self, *args: Any, path: Path | None, **options: Any) -> None:
        path = path or Path(settings.SEAHEALTH_DEPENDENCIES)
        try:
            specs = load_declaration(path)
        except DeclarationError as exc:
            self.stderr.write(str(exc))
            raise SystemExit(1) from exc
        rows = [_row(spec) for spec in specs]
        self.stdout.write(_table([COLUMNS, *rows]))
        unset = sorted({n for spec in specs for n in _needs(spec) if not _is_set(n)})
        self.stdout.write(
            f"\n{path}: {len(specs)} dependenc{'y' if len(specs) == 1 else 'ies'}, valid."
        )
        if unset:
            self.stdout.write(
                "Not set in this environment (those probes fail with a config error "
                f"until they are): {', '.join(unset)}"
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

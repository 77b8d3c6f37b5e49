"""Rows for tests, made directly (the declaration path has its own tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from probes.models import Dependency, StateVersion

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def make_dependency(name: str = "api", **fields: Any) -> Dependency:
    values: dict[str, Any] = {
        "kind": "http",
        "spec": {"url": "http://127.0.0.1:9/health", "method": "GET", "headers": {}},
        "interval": timedelta(seconds=30),
        "timeout": timedelta(seconds=5),
        "failure_threshold": 3,
        "recovery_timeout": timedelta(seconds=60),
        "success_threshold": 1,
        "next_due_at": T0,
    }
    values.update(fields)
    row = Dependency.objects.create(name=name, **values)
    StateVersion.bump()  # as sync does when it declares one
    return row

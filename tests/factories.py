"""Rows for tests, made directly (the declaration path has its own tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from probes.dependency_spec import DependencySpec, target_of
from probes.engine import Job
from probes.kinds import http
from probes.models import Dependency, StateVersion

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/health"


def make_dependency(name: str = "api", **fields: Any) -> Dependency:
    """A row as sync makes it from an http entry with every default, and `fields` over it."""
    declared = DependencySpec(name=name, kind="http", target=http.Spec(url=URL))
    values: dict[str, Any] = {
        **declared.row_values(),
        "spec": {"url": URL, "method": "GET", "headers": {}},
        "next_due_at": T0,
    }
    values.update(fields)
    row = Dependency.objects.create(name=name, **values)
    StateVersion.bump()  # as sync does when it declares one
    return row


def make_job(
    kind: str, spec: dict[str, Any], *, name: str = "dep", number: int = 1, **declared: Any
) -> Job:
    """A job of the kind's `spec` (placeholders kept), the declaration's defaults under
    `declared` (timeout=2.0, ca_file=...)."""
    return Job(
        number, DependencySpec(name=name, kind=kind, target=target_of(kind, spec), **declared)
    )

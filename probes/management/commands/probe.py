from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from probes import kinds, placeholders
from probes.declarations import DeclarationError, load_declaration
from probes.dependency_spec import DependencySpec
from probes.durations import format_duration
from probes.engine import Job, run_batch_sync
from probes.models import Dependency
from probes.outcomes import Outcome, Result
from probes.redaction import shown_resolved
from probes.scheduler import job_for


class Command(BaseCommand):
    help = (
        "Probe one dependency now, without recording it, and show what an operator needs to "
        "debug it: the target (secrets redacted), each step with its time, the observations "
        "and the outcome. Exit code 0 when it is up, 1 otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the dependency's name")
        parser.add_argument(
            "--file",
            type=Path,
            help="read it from this declaration instead of the database (nothing is synced)",
        )

    def handle(self, *args: Any, name: str, file: Path | None, **options: Any) -> None:
        job = _from_file(file, name) if file else _from_database(name)
        spec = job.spec
        self.stdout.write(f"{spec.name} ({spec.kind}{', critical' if spec.critical else ''})")
        self.stdout.write(f"  target   {resolved_target(spec, os.environ)}")
        self.stdout.write(f"  timeout  {format_duration(spec.timeout)}")
        [(_, outcome)] = run_batch_sync([job])
        self.stdout.write("\n".join(["", *report(outcome)]))
        if outcome.result is not Result.SUCCESS:
            raise SystemExit(1)


def _from_database(name: str) -> Job:
    row = Dependency.objects.filter(name=name).first()
    if row is None:
        known = ", ".join(Dependency.objects.active().values_list("name", flat=True)[:20])
        raise CommandError(
            f"no dependency named {name!r} in the database (known: {known or 'none'})"
        )
    return job_for(row)


def _from_file(path: Path, name: str) -> Job:
    try:
        specs = load_declaration(path)
    except DeclarationError as exc:
        raise CommandError(str(exc)) from exc
    spec = next((spec for spec in specs if spec.name == name), None)
    if spec is None:
        raise CommandError(f"{path} declares no dependency named {name!r}")
    return Job(0, spec)  # probed as the prober would; nothing is written


def resolved_target(spec: DependencySpec, environ: Mapping[str, str]) -> str:
    """What the probe will reach, placeholders resolved and every secret redacted."""
    kind = kinds.kind(spec.kind)
    fields = spec.target_fields()
    try:
        resolved, _ = placeholders.resolve(fields, environ)
    except placeholders.UnsetVariable as exc:
        return f"{kind.describe(spec.target)}  ({exc})"
    return kind.describe(kind.Spec(**shown_resolved(fields, resolved)))


def report(outcome: Outcome) -> list[str]:
    lines = ["steps"]
    lines += [
        f"  {step.ms:9.1f} ms  {'ok    ' if step.ok else 'FAILED'}  {step.name}"
        for step in outcome.steps
    ] or ["  (none: it failed before reaching the peer)"]
    if outcome.observations:
        lines += ["", "observations"]
        width = max(len(key) for key in outcome.observations)
        lines += [
            f"  {key.ljust(width)}  {_shown(value)}" for key, value in outcome.observations.items()
        ]
    lines.append("")
    if outcome.result is Result.FAILURE:
        lines.append(f"outcome  FAILURE  {outcome.error}")
        lines.append(f"         error class: {outcome.error_class}")
    else:
        lines.append(f"outcome  {outcome.result.upper()}  in {outcome.latency_ms:.1f} ms")
        lines += [f"         {warning}" for warning in outcome.warnings]
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    return value if isinstance(value, str) else json.dumps(value)

"""A declared dependency as one frozen value, with its defaults and its conversions.

dependencies.yaml is read into it (declarations.py), the Dependency row is written from it
and read back into it (sync, the scheduler), a Job carries it to the engine, and the
dependency's page shows it as a declaration. Its field defaults are the only defaults.

Columns follow from the fields: a field is stored in the column of its name; a field in
seconds (metadata DURATION) as a timedelta; the breaker's policy in the columns of the
policy's fields; the kind's own fields (`target`) as the JSON column `spec`, with their
${VAR} placeholders. No Django here: the engine uses it too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from probes import kinds
from probes.breaker import Policy
from probes.durations import format_duration
from probes.redaction import redact_spec
from probes.slo import Slo

DURATION = {"duration": True}
# A tuple of names, kept as a JSON list.
NAMES = {"names": True}
# Shown on the page only when the dependency may speak TLS.
TLS_ONLY = {"tls": True}
# The kinds that speak HTTP (rpc over HTTP or a websocket): a rate limit is theirs to answer.
HTTP_KINDS = ("http", "rpc", "s3")
RATE_LIMITED_IS = ("degraded", "down")
# Declared, and shown on the page, only for the HTTP kinds.
HTTP_ONLY = {"kinds": HTTP_KINDS}
RPC_ONLY = {"kinds": ("rpc",)}
BREAKER = Policy()
# A value of its own kept whole in a JSON column (stored(), from_stored(), declared()).
JSON_VALUE = {"json_value": True}
# What the YAML calls a field, where it is not the field's own name.
DECLARED_AS = {"policy": "breaker"}


@dataclass(frozen=True, kw_only=True)
class DependencySpec:
    name: str
    kind: str
    # The kind's Spec: its own fields, placeholders kept (their plain mapping when the row's
    # kind, or its fields, are not this release's: the probe fails, not the claim).
    target: Any
    critical: bool = False
    group: str = ""
    interval: float = field(default=30.0, metadata=DURATION)
    timeout: float = field(default=5.0, metadata=DURATION)
    policy: Policy = BREAKER  # Policy's own defaults: 3 failures, 60s, 1 success
    max_latency: float | None = field(default=None, metadata=DURATION)  # slower is degraded
    ca_file: str = field(default="", metadata=TLS_ONLY)  # trust only this CA bundle
    cert_expiry_warn: float = field(default=14 * 86400.0, metadata=DURATION | TLS_ONLY)
    # The dependencies this one reaches through (a VPN, a DNS): while one of them is down,
    # this one is "affected by" it rather than a problem of its own.
    depends_on: tuple[str, ...] = field(default=(), metadata=NAMES)
    # Its service level objective (probes/slo.py), None when it has none.
    slo: Slo | None = field(default=None, metadata=JSON_VALUE)
    # Shown on the public status page (/status/) and its badges; under display_name there
    # when given, never under its internal name.
    public: bool = False
    display_name: str = ""
    # What a rate-limited answer (429, SlowDown, JSON-RPC -32005) makes it: `degraded` (the
    # peer is there, and asks for less), or `down` where being throttled is an outage.
    rate_limited_is: str = field(default="degraded", metadata=HTTP_ONLY)
    # RPC nodes of one chain declared together (probes/kinds/rpc_pool.py): probed at once,
    # each judged against the others' heads.
    pool: str = field(default="", metadata=RPC_ONLY)

    # The Dependency columns it is stored in (set below, from the fields).
    COLUMNS: ClassVar[tuple[str, ...]]

    def row_values(self) -> dict[str, Any]:
        """The Dependency columns this declaration owns, but the name (the row's key)."""
        values: dict[str, Any] = {}
        for spec_field in dataclasses.fields(self):
            value = getattr(self, spec_field.name)
            if spec_field.name == "name":
                continue
            if spec_field.name == "target":
                values["spec"] = self.target_fields()
            elif dataclasses.is_dataclass(value) and not spec_field.metadata.get("json_value"):
                values |= {
                    f.name: _column(getattr(value, f.name), f) for f in dataclasses.fields(value)
                }
            else:
                values[spec_field.name] = _column(value, spec_field)
        return values

    def target_fields(self) -> dict[str, Any]:
        """The kind's fields, as the `spec` column keeps them."""
        if dataclasses.is_dataclass(self.target):
            return dataclasses.asdict(self.target)
        return dict(self.target or {})

    @classmethod
    def from_row(cls, row: Any) -> DependencySpec:
        """The declaration a Dependency row holds (the columns of COLUMNS must be loaded)."""
        values: dict[str, Any] = {}
        for spec_field in dataclasses.fields(cls):
            if spec_field.name == "target":
                values["target"] = target_of(row.kind, row.spec)
            elif spec_field.name == "slo":
                values["slo"] = Slo.from_stored(row.slo)
            elif spec_field.name == "policy":
                values["policy"] = Policy(
                    **{f.name: _value(getattr(row, f.name), f) for f in dataclasses.fields(Policy)}
                )
            else:
                values[spec_field.name] = _value(getattr(row, spec_field.name), spec_field)
        return cls(**values)

    def declaration(self) -> dict[str, Any]:
        """The entry as dependencies.yaml would declare it, for the dependency's page: every
        field that applies to it (no certificate fields where it never speaks TLS), with the
        kind's fields that differ from their defaults; secrets redacted."""
        tls = kinds.speaks_tls(self.kind, self.target) if self.kind in kinds.KINDS else None
        entry: dict[str, Any] = {}
        for spec_field in dataclasses.fields(self):
            value = getattr(self, spec_field.name)
            if spec_field.name == "target" or (spec_field.metadata.get("tls") and tls is False):
                continue
            if self.kind not in spec_field.metadata.get("kinds", (self.kind,)):
                continue
            if spec_field.metadata.get("json_value"):
                if value is not None:
                    entry[spec_field.name] = value.declared()
            elif dataclasses.is_dataclass(value):
                entry[DECLARED_AS.get(spec_field.name, spec_field.name)] = _declared(value, True)
            elif value not in (None, "", ()):
                entry[spec_field.name] = _shown(value, spec_field)
        target = _declared(self.target) if dataclasses.is_dataclass(self.target) else self.target
        return entry | redact_spec(target)


def target_of(kind: str, fields: dict[str, Any]) -> Any:
    """The kind's Spec of `fields`; the fields as they are when the kind cannot take them."""
    try:
        return kinds.kind(kind).Spec(**fields)
    except (KeyError, TypeError):
        return dict(fields)


def _column(value: Any, spec_field: dataclasses.Field) -> Any:
    if spec_field.metadata.get("json_value"):
        return None if value is None else value.stored()
    if spec_field.metadata.get("duration") and value is not None:
        return timedelta(seconds=value)
    if spec_field.metadata.get("names"):
        return list(value)
    return value


def _value(column: Any, spec_field: dataclasses.Field) -> Any:
    if spec_field.metadata.get("duration") and column is not None:
        return column.total_seconds()
    if spec_field.metadata.get("names"):
        return tuple(column or ())
    return column


def _shown(value: Any, spec_field: dataclasses.Field) -> Any:
    if spec_field.metadata.get("names"):
        return list(value)
    return format_duration(value) if spec_field.metadata.get("duration") else value


def _declared(value: Any, with_defaults: bool = False) -> dict[str, Any]:
    """A dataclass's fields as declared: durations written as such; without the fields that
    hold their default, unless `with_defaults`."""
    declared = {}
    for spec_field in dataclasses.fields(value):
        item = getattr(value, spec_field.name)
        if not with_defaults and item == _default(spec_field):
            continue
        declared[spec_field.name] = item if item is None else _shown(item, spec_field)
    return declared


def _default(spec_field: dataclasses.Field) -> Any:
    if spec_field.default is not dataclasses.MISSING:
        return spec_field.default
    if spec_field.default_factory is not dataclasses.MISSING:
        return spec_field.default_factory()
    return dataclasses.MISSING


def _columns() -> tuple[str, ...]:
    names: list[str] = []
    for spec_field in dataclasses.fields(DependencySpec):
        if spec_field.name == "target":
            names.append("spec")
        elif dataclasses.is_dataclass(spec_field.default) and not spec_field.metadata.get(
            "json_value"
        ):
            names += [f.name for f in dataclasses.fields(spec_field.default)]
        else:
            names.append(spec_field.name)
    return tuple(names)


DependencySpec.COLUMNS = _columns()

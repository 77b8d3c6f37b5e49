"""dependencies.yaml -> validated specs -> Dependency rows.

A file with any problem is refused whole: nothing in the database changes. An entry that
leaves the file is archived (its history stays readable), and comes back if it returns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.utils import timezone

from probes import json_values, located_yaml
from probes.breaker import Policy
from probes.excerpts import excerpt, shorten
from probes.fields import Fields, Problem, text_problem
from probes.kinds import KINDS
from probes.kinds import kind as kind_module
from probes.models import Dependency, StateVersion

log = logging.getLogger(__name__)

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
COMMON_FIELDS = (
    "name",
    "kind",
    "critical",
    "group",
    "interval",
    "timeout",
    "breaker",
    "max_latency",
    "ca_file",
    "cert_expiry_warn",
)
TOP_LEVEL = ("defaults", "dependencies")
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 5.0
SHORTEST_INTERVAL = 1.0
DEFAULT_CERT_EXPIRY_WARN = 14 * 86400.0
GROUP_MAX_LENGTH = Dependency._meta.get_field("group").max_length
CA_FILE_MAX_LENGTH = Dependency._meta.get_field("ca_file").max_length
# Consecutive results before the breaker moves: more is never meant.
LARGEST_THRESHOLD = 1000
# A declaration larger than this is refused before it is parsed: 10,000 dependencies of
# several fields each take 2.5 MB.
LARGEST_FILE = 8 * 1024 * 1024


class DeclarationError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line or 0)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"declaration refused ({count}); nothing was changed:\n{lines}")


@dataclass(frozen=True)
class DependencySpec:
    name: str
    kind: str
    critical: bool
    group: str
    interval: float  # seconds
    timeout: float  # seconds
    policy: Policy
    target: Any  # the kind's Spec
    max_latency: float | None = None  # seconds; slower is degraded
    ca_file: str = ""  # trust only this CA bundle, not the system's
    cert_expiry_warn: float = DEFAULT_CERT_EXPIRY_WARN  # seconds

    def row_values(self) -> dict[str, Any]:
        """The Dependency fields this declaration owns."""
        return {
            "kind": self.kind,
            "critical": self.critical,
            "group": self.group,
            "spec": dataclasses.asdict(self.target),
            "interval": timedelta(seconds=self.interval),
            "timeout": timedelta(seconds=self.timeout),
            "failure_threshold": self.policy.failure_threshold,
            "recovery_timeout": timedelta(seconds=self.policy.recovery_timeout),
            "success_threshold": self.policy.success_threshold,
            "max_latency": None
            if self.max_latency is None
            else timedelta(seconds=self.max_latency),
            "ca_file": self.ca_file,
            "cert_expiry_warn": timedelta(seconds=self.cert_expiry_warn),
        }


# --- reading the file -----------------------------------------------------------------


def load_declaration(path: Path) -> list[DependencySpec]:
    try:
        data = read_bytes(path)
    except OSError as exc:
        problem = _file_problem(str(path), f"cannot read it: {exc.strerror or exc}")
        raise DeclarationError([problem]) from exc
    return parse_declaration(decode(data, str(path)), str(path))


def read_bytes(path: Path) -> bytes:
    """The file's bytes, and one more if it is larger than LARGEST_FILE (never all of it)."""
    with path.open("rb") as file:
        return file.read(LARGEST_FILE + 1)


def decode(data: bytes, source: str) -> str:
    """The text of a declaration file; DeclarationError when it is too large or not UTF-8."""
    if len(data) > LARGEST_FILE:
        problem = f"it is larger than {LARGEST_FILE // 1024**2} MiB: refused unread"
        raise DeclarationError([_file_problem(source, problem)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeclarationError([_file_problem(source, f"cannot read it: {exc}")]) from exc


def _file_problem(source: str, message: str) -> Problem:
    return Problem(source, "the file", None, message)


def parse_declaration(text: str, source: str) -> list[DependencySpec]:
    """Every dependency declared in `text`; DeclarationError listing every problem otherwise."""
    problems: list[Problem] = []
    try:
        document = located_yaml.load(text)
    except yaml.YAMLError as exc:
        raise DeclarationError([_yaml_problem(exc, source)]) from exc

    if not isinstance(document, Mapping):
        shape = (
            "it is empty: declare `dependencies: []` to probe nothing"
            if document is None
            else "expected a mapping with a `dependencies:` list"
        )
        raise DeclarationError([Problem(source, "the file", None, shape)])
    top = Fields(document, source, "top level", problems)
    defaults = top.value("defaults", {})
    entries = top.value("dependencies")
    top.reject_unread(TOP_LEVEL)
    if not isinstance(defaults, Mapping):
        top.problem("defaults", "expected a mapping of fields")
        defaults = {}
    before = len(problems)
    _check_defaults(Fields(defaults, source, "defaults", problems, _line(document, "defaults")))
    # A bad default is reported once, as `defaults`: the entries do not inherit it to report
    # it again, each at a line where it is not written.
    defaults = _without(defaults, {_top_field(problem) for problem in problems[before:]})
    if entries is not None and not isinstance(entries, list):
        top.problem("dependencies", "expected a list of dependencies")
        entries = []

    specs: list[DependencySpec] = []
    first_entry: dict[str, int] = {}
    for index, entry in enumerate(entries or [], start=1):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name in first_entry:
            problems.append(
                Problem(
                    source,
                    _where(index, entry),
                    "name",
                    f"'{name}' is already declared by entry {first_entry[name]}",
                    _line(entry, "name"),
                )
            )
        elif isinstance(name, str):
            first_entry[name] = index
        spec = _parse_entry(index, entry, defaults, source, problems)
        if spec is not None:
            specs.append(spec)
    if problems:
        raise DeclarationError(problems)
    return specs


def _yaml_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    where = f"column {mark.column + 1}" if mark else "the file"
    # libyaml's "did not find expected ',' or ']'" says no more than PyYAML's "expected".
    reason = (getattr(exc, "problem", None) or str(exc)).removeprefix("did not find ")
    context = getattr(exc, "context", None)
    if isinstance(exc, located_yaml.LimitError):
        message = f"refused: {reason}"
    else:
        message = f"not valid YAML: {reason}" + (f" ({context})" if context else "")
    return Problem(source, where, None, message, mark.line + 1 if mark else None)


def _check_defaults(defaults: Fields) -> None:
    """The common fields are checked here once; a kind's fields in each entry that gets them."""
    kind_fields = _all_kind_fields()
    defaults.string("kind", None, choices=sorted(KINDS))
    _read_common(defaults)
    for key in defaults.unread():
        if key not in kind_fields:
            defaults.unknown(key, [*COMMON_FIELDS, *kind_fields])


def _top_field(problem: Problem) -> str | None:
    """The top-level field a problem is about: `breaker` for `defaults, breaker`."""
    return problem.where.partition(", ")[2] or problem.field


def _without(mapping: Mapping[str, Any], fields: set[str | None]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if key not in fields}


def _parse_entry(
    index: int, entry: Any, defaults: Mapping[str, Any], source: str, problems: list[Problem]
) -> DependencySpec | None:
    where = _where(index, entry)
    if not isinstance(entry, Mapping):
        problems.append(Problem(source, where, None, "expected a mapping of fields", None))
        return None
    before = len(problems)
    kind_name = entry.get("kind", defaults.get("kind"))
    kind = kind_module(kind_name) if isinstance(kind_name, str) and kind_name in KINDS else None
    own = _spec_fields(kind) if kind else ()
    # Defaults reach an entry only for fields its kind has: `method` is not an smtp field.
    merged = {key: value for key, value in defaults.items() if key in COMMON_FIELDS + own}
    merged.update(entry)
    if isinstance(defaults.get("breaker"), Mapping) and isinstance(entry.get("breaker"), Mapping):
        merged["breaker"] = {**defaults["breaker"], **entry["breaker"]}
    fields = Fields(located_yaml.Mapping.like(entry, merged), source, where, problems)

    name = fields.string("name", pattern=NAME, pattern_help=_NAME_HELP)
    if isinstance(fields.string("kind"), str) and kind is None:
        known = ", ".join(KINDS)
        fields.problem("kind", f"unknown kind {excerpt(kind_name)} (known kinds: {known})")
    common = _read_common(fields)
    target = kind.parse(fields) if kind else None
    known = COMMON_FIELDS + (own if kind else _all_kind_fields())
    for key in fields.unread():
        # Without a known kind, the kind is the mistake: a field some kind has is not unknown.
        if kind or key not in known:
            fields.unknown(key, known)
    if len(problems) > before:
        return None
    spec = DependencySpec(name=name, kind=kind_name, target=target, **common)
    for field, problem in unstorable(spec.row_values()):
        fields.problem(field, f"cannot be stored: {problem}")
    return None if len(problems) > before else spec


_NAME_HELP = (
    "is not a name: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
)


def _read_common(fields: Fields) -> dict[str, Any]:
    """The fields every kind has, with their defaults."""
    interval = fields.duration("interval", DEFAULT_INTERVAL)
    timeout = fields.duration("timeout", DEFAULT_TIMEOUT)
    if isinstance(interval, float) and interval < SHORTEST_INTERVAL:
        fields.problem("interval", f"must be at least {SHORTEST_INTERVAL:g}s")
    elif isinstance(interval, float) and isinstance(timeout, float) and timeout > interval:
        fields.problem(
            "timeout", "must not be longer than the interval (a probe would overlap the next)"
        )
    breaker = fields.section("breaker")
    policy = Policy()
    if breaker is not None:
        policy = Policy(
            failure_threshold=breaker.integer(
                "failure_threshold", 3, minimum=1, maximum=LARGEST_THRESHOLD
            ),
            recovery_timeout=breaker.duration("recovery_timeout", 60.0),
            success_threshold=breaker.integer(
                "success_threshold", 1, minimum=1, maximum=LARGEST_THRESHOLD
            ),
        )
        breaker.reject_unread()
    group = fields.string("group", "", longest=GROUP_MAX_LENGTH)
    max_latency = fields.duration("max_latency", None)
    if isinstance(max_latency, float) and isinstance(timeout, float) and max_latency >= timeout:
        fields.problem("max_latency", "must be shorter than the timeout, or it can never apply")
    return {
        "critical": fields.boolean("critical", False),
        "group": group,
        "interval": interval,
        "timeout": timeout,
        "policy": policy,
        "max_latency": max_latency,
        "ca_file": fields.string("ca_file", "", longest=CA_FILE_MAX_LENGTH),
        "cert_expiry_warn": fields.duration("cert_expiry_warn", DEFAULT_CERT_EXPIRY_WARN),
    }


def _spec_fields(kind: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind.Spec))


def _all_kind_fields() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for kind in KINDS for name in _spec_fields(kind_module(kind))))


def _where(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    if not isinstance(name, str):
        return f"entry {index}"
    return f"entry {index} " + (f"'{name}'" if not text_problem(name, 100) else excerpt(name))


def _line(entry: Any, field: str | None = None) -> int | None:
    lines = getattr(entry, "lines", {})
    return lines.get(field) or getattr(entry, "line", None)


# --- writing the rows ---------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived or self.restored)

    def __str__(self) -> str:
        parts = [
            f"{label} {len(names)} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("restored", self.restored),
                ("archived", self.archived),
            )
            if names
        ]
        return "; ".join([*parts, f"unchanged {self.unchanged}"])


def sync(specs: list[DependencySpec], now: datetime | None = None) -> SyncReport:
    """Make the rows match the declaration, in one transaction; idempotent."""
    now = now or timezone.now()
    declared = {spec.name: spec for spec in specs}
    created, updated, restored, archived = [], [], [], []
    with transaction.atomic():
        _lock_declarations()
        # Locked in id order, as recording locks them, so the two never deadlock.
        locked = Dependency.objects.select_for_update().order_by("id").only(*_SYNCED_FIELDS)
        rows = {row.name: row for row in locked}
        new_rows = []
        for name, spec in declared.items():
            row = rows.get(name)
            if row is None:
                # A new dependency is due at once: its first probe sets its phase.
                new_rows.append(Dependency(name=name, next_due_at=now, **spec.row_values()))
                created.append(name)
                continue
            changed = _apply(row, spec.row_values(), now)
            if row.archived_at is not None:
                row.archived_at = None
                row.next_due_at = now
                restored.append(name)
            elif changed:
                updated.append(name)
            if changed or name in restored:
                # Only what the declaration owns: the current state is the recorder's. Its
                # metrics may carry the old kind or criticality: /metrics renders it afresh.
                row.metrics_text = ""
                row.save(update_fields=[*_SYNCED_FIELDS[1:], "metrics_text"])
        Dependency.objects.bulk_create(new_rows)
        for name, row in rows.items():
            if name not in declared and row.archived_at is None:
                archived.append(name)
        Dependency.objects.filter(name__in=archived).update(archived_at=now)
        if created or updated or restored or archived:
            StateVersion.bump()
    return SyncReport(
        created=tuple(created),
        updated=tuple(updated),
        archived=tuple(archived),
        restored=tuple(restored),
        unchanged=len(declared) - len(created) - len(updated) - len(restored),
    )


# What sync reads and writes: the declared fields and the schedule, never the current state.
_SYNCED_FIELDS = (
    "name",
    "kind",
    "critical",
    "group",
    "spec",
    "interval",
    "timeout",
    "failure_threshold",
    "recovery_timeout",
    "success_threshold",
    "max_latency",
    "ca_file",
    "cert_expiry_warn",
    "archived_at",
    "next_due_at",
)


# What the database's columns hold: PostgreSQL's integer, and JSON numbers Python writes back
# exactly. No text column or JSON string holds NUL (PostgreSQL refuses it).
_COLUMN_INTEGERS = range(0, 2**31)
_JSON_INTEGERS = range(-(2**63), 2**63)


def unstorable(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for each value the Dependency columns could not hold.

    The fields' own checks refuse all of these first, with better words; this is the last
    guard between a declaration and a sync that the database would fail, which would
    otherwise stop every probe (DataError) or the prober (OverflowError)."""
    problems = []
    for name, value in values.items():
        column = Dependency._meta.get_field(name)
        if isinstance(column, models.CharField) and len(value) > column.max_length:
            problems.append((name, f"longer than {column.max_length} characters"))
        elif isinstance(column, models.IntegerField) and value not in _COLUMN_INTEGERS:
            problems.append(
                (name, f"outside {_COLUMN_INTEGERS.start}..{_COLUMN_INTEGERS.stop - 1}")
            )
        elif isinstance(column, models.JSONField):
            problem = _json_problem(value)
            if problem:
                problems.append((name, problem))
        if isinstance(value, str) and "\x00" in value:
            problems.append((name, "holds a NUL character"))
    return problems


def _json_problem(value: Any) -> str | None:
    """Why `value` is not JSON that both databases store and give back as it was, or None."""
    for _, item in json_values.walk(value):
        if isinstance(item, dict) and any("\x00" in str(key) for key in item):
            return "holds a NUL character"
        if isinstance(item, str) and "\x00" in item:
            return "holds a NUL character"
        if isinstance(item, int) and not isinstance(item, bool) and item not in _JSON_INTEGERS:
            return "holds an integer outside 64 bits"
        if isinstance(item, float) and not math.isfinite(item):
            return "holds a number that is not finite"
        if not isinstance(item, dict | list | tuple | str | int | float | bool | type(None)):
            return f"holds a {type(item).__name__}, which JSON has not"
    return None


def _apply(row: Dependency, values: dict[str, Any], now: datetime) -> bool:
    if row.interval != values["interval"]:
        # A shorter interval takes effect now, not after the old, longer wait.
        row.next_due_at = min(row.next_due_at, now + values["interval"])
    changed = False
    for field, value in values.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed = True
    return changed


def _lock_declarations() -> None:
    """One sync at a time across processes (SQLite's IMMEDIATE transactions already are)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('seahealth.declarations'))")


# --- watching the file ---------------------------------------------------------------


class DeclarationWatcher:
    """Syncs the declaration when its content changes; a refused file changes nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._digest: str | None = None
        self.last_problem: str | None = None

    @classmethod
    def from_settings(cls) -> DeclarationWatcher:
        return cls(Path(settings.SEAHEALTH_DEPENDENCIES))

    def sync_if_changed(self) -> SyncReport | None:
        """The sync's report when the file changed and was accepted; None otherwise.

        Never raises: whatever goes wrong, the rows stay as the last accepted declaration
        left them, and the prober goes on probing them."""
        # Read and hashed every time: a file of a thousand entries takes well under a
        # millisecond, and no same-size edit within one clock tick can slip through.
        try:
            data = read_bytes(self.path)
        except OSError as exc:
            # Forget the last version: when the file is back, even unchanged, it is synced
            # again, and that clears this problem.
            self._digest = None
            return self._refused(f"{self.path}: cannot read it ({exc.strerror or exc})")
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._digest:
            return None
        # Marked before it is read: a file refused once is not read again until it changes.
        self._digest = digest
        source = str(self.path)
        try:
            specs = parse_declaration(decode(data, source), source)
        except DeclarationError as exc:
            return self._refused(str(exc))
        except Exception as exc:  # a bug in reading must not stop the prober
            log.exception("reading %s crashed (a bug in seahealth)", self.path)
            return self._refused(f"{self.path}: declaration refused: {_failure(exc)}")
        try:
            report = sync(specs)
        except (OperationalError, InterfaceError) as exc:
            # The database is away or busy, not the declaration wrong: try again next time.
            self._digest = None
            return self._refused(
                f"{self.path}: not synced yet, the database is unavailable ({_failure(exc)})"
            )
        except Exception as exc:  # whatever the database refuses is a refusal
            log.exception("the database refused %s", self.path)
            return self._refused(
                f"{self.path}: declaration refused, the database could not store it "
                f"({_failure(exc)}); nothing was changed"
            )
        self.last_problem = None
        if report.changed:
            log.info("%s synced: %s", self.path, report)
        return report

    def _refused(self, problem: str) -> None:
        if problem != self.last_problem:
            log.error("%s\nStill probing the dependencies declared before.", problem)
        self.last_problem = problem
        return None


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {shorten(str(exc))}"

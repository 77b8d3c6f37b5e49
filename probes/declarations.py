"""dependencies.yaml -> validated DependencySpecs, or every problem of the file.

A file with any problem is refused whole (sync.py then writes nothing). Every value is
bounded here, where it is declared, so that whatever passes can be stored.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from notifications.declaration import NotificationsSpec, parse_notifications
from probes import depends_on, located_yaml, slo
from probes.breaker import Policy
from probes.dependency_spec import DECLARED_AS, RATE_LIMITED_IS, DependencySpec
from probes.excerpts import excerpt
from probes.fields import NAME, NAME_HELP, Fields, Problem, text_problem
from probes.kinds import KINDS, rpc_pool
from probes.kinds import kind as kind_module
from probes.maintenance import Window
from probes.maintenance_declaration import parse_maintenance
from probes.models import Dependency
from probes.storable import unstorable

log = logging.getLogger(__name__)

# The fields every entry may have, as dependencies.yaml names them.
COMMON_FIELDS = tuple(
    DECLARED_AS.get(field.name, field.name)
    for field in dataclasses.fields(DependencySpec)
    if field.name != "target"
)
# The common fields only some kinds have (rate_limited_is: the HTTP kinds), by their kinds.
KIND_BOUND = {
    field.name: field.metadata["kinds"]
    for field in dataclasses.fields(DependencySpec)
    if "kinds" in field.metadata
}
TOP_LEVEL = ("defaults", "dependencies", "notifications", "maintenance")
SHORTEST_INTERVAL = 1.0
GROUP_MAX_LENGTH = Dependency._meta.get_field("group").max_length
CA_FILE_MAX_LENGTH = Dependency._meta.get_field("ca_file").max_length
DISPLAY_NAME_MAX_LENGTH = Dependency._meta.get_field("display_name").max_length
# Consecutive results before the breaker moves: more is never meant.
LARGEST_THRESHOLD = 1000
# A declaration larger than this is refused before it is parsed: 10,000 dependencies of
# several fields each take 2.5 MB.
LARGEST_FILE = 8 * 1024 * 1024
# Every default of an entry, from the one place that holds them.
_DEFAULTS = DependencySpec(name="", kind="", target=None)


@dataclass(frozen=True)
class Declaration:
    """What a dependencies.yaml declares: the dependencies, and whom to tell of them."""

    dependencies: list[DependencySpec]
    notifications: NotificationsSpec = dataclasses.field(default_factory=NotificationsSpec)
    maintenance: tuple[Window, ...] = ()


class DeclarationError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda problem: problem.line or 0)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"declaration refused ({count}); nothing was changed:\n{lines}")


# --- reading the file -----------------------------------------------------------------


def load_declaration(path: Path) -> list[DependencySpec]:
    return load_document(path).dependencies


def load_document(path: Path) -> Declaration:
    try:
        data = read_bytes(path)
    except OSError as exc:
        problem = _file_problem(str(path), f"cannot read it: {exc.strerror or exc}")
        raise DeclarationError([problem]) from exc
    return parse_document(decode(data, str(path)), str(path))


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
    return parse_document(text, source).dependencies


def parse_document(text: str, source: str) -> Declaration:
    """Everything `text` declares; DeclarationError listing every problem otherwise."""
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

    specs, located = _parse_entries(entries or [], defaults, source, problems)
    # What refers to other entries is checked only when every entry was read.
    if not problems:
        depends_on.check(specs, lambda name: _located(*located[name]), source, problems)
        rpc_pool.check_declaration(
            specs, lambda name, field: _located(*located[name], field), source, problems
        )
    known = None if problems else specs
    notifications = parse_notifications(top.section("notifications"), known)
    windows = parse_maintenance(top.value("maintenance", None), top, known)
    top.reject_unread(TOP_LEVEL)
    if problems:
        raise DeclarationError(problems)
    return Declaration(specs, notifications, tuple(windows))


def _parse_entries(
    entries: list[Any], defaults: Mapping[str, Any], source: str, problems: list[Problem]
) -> tuple[list[DependencySpec], dict[str, tuple[int, Any]]]:
    """The specs of the entries that have no problem, and where each name is declared."""
    specs: list[DependencySpec] = []
    located: dict[str, tuple[int, Any]] = {}
    for index, entry in enumerate(entries, start=1):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name in located:
            problems.append(
                Problem(
                    source,
                    _where(index, entry),
                    "name",
                    f"'{name}' is already declared by entry {located[name][0]}",
                    _line(entry, "name"),
                )
            )
        elif isinstance(name, str):
            located[name] = (index, entry)
        spec = _parse_entry(index, entry, defaults, source, problems)
        if spec is not None:
            specs.append(spec)
    return specs, located


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
    # Defaults reach an entry only for fields its kind has: `method` is not an smtp field, nor
    # `pool` an http one.
    merged = {
        key: value
        for key, value in defaults.items()
        if key in COMMON_FIELDS + own and kind_name in KIND_BOUND.get(key, (kind_name,))
    }
    merged.update(entry)
    for section in ("breaker", "slo"):  # a section's fields each come from one or the other
        if isinstance(defaults.get(section), Mapping) and isinstance(entry.get(section), Mapping):
            merged[section] = {**defaults[section], **entry[section]}
    fields = Fields(located_yaml.Mapping.like(entry, merged), source, where, problems)

    name = fields.string("name", pattern=NAME, pattern_help=NAME_HELP)
    if isinstance(fields.string("kind"), str) and kind is None:
        known = ", ".join(KINDS)
        fields.problem("kind", f"unknown kind {excerpt(kind_name)} (known kinds: {known})")
    common = _read_common(fields)
    if common["pool"] and not common["group"]:
        common["group"] = common["pool"]  # a pool is shown as a group unless grouped otherwise
    breaker = merged.get("breaker")
    declared = breaker if isinstance(breaker, Mapping) else {}
    if getattr(kind, "PASSIVE", False) and "failure_threshold" not in declared:
        # What reports in says it is down once: no second report is coming to confirm it.
        common["policy"] = dataclasses.replace(common["policy"], failure_threshold=1)
    target = kind.parse(fields) if kind else None
    known = COMMON_FIELDS + (own if kind else _all_kind_fields())
    for key in fields.unread():
        # Without a known kind, the kind is the mistake: a field some kind has is not unknown.
        if kind or key not in known:
            fields.unknown(key, known)
    for field, kinds in KIND_BOUND.items():
        if field in entry and kind and kind_name not in kinds:
            fields.problem(field, f"only for the kind{'s' * (len(kinds) > 1)} {', '.join(kinds)}")
    if len(problems) > before:
        return None
    spec = DependencySpec(name=name, kind=kind_name, target=target, **common)
    for field, problem in unstorable(spec.row_values()):
        fields.problem(field, f"cannot be stored: {problem}")
    return None if len(problems) > before else spec


_POOL_HELP = NAME_HELP.replace("a name", "a pool's name")


def _read_common(fields: Fields) -> dict[str, Any]:
    """The fields every kind has, with their defaults."""
    interval = fields.duration("interval", _DEFAULTS.interval)
    timeout = fields.duration("timeout", _DEFAULTS.timeout)
    if isinstance(interval, float) and interval < SHORTEST_INTERVAL:
        fields.problem("interval", f"must be at least {SHORTEST_INTERVAL:g}s")
    elif isinstance(interval, float) and isinstance(timeout, float) and timeout > interval:
        fields.problem(
            "timeout", "must not be longer than the interval (a probe would overlap the next)"
        )
    policy = _read_breaker(fields.section("breaker"))
    group = fields.string("group", _DEFAULTS.group, longest=GROUP_MAX_LENGTH)
    max_latency = fields.duration("max_latency", _DEFAULTS.max_latency)
    if isinstance(max_latency, float) and isinstance(timeout, float) and max_latency >= timeout:
        fields.problem("max_latency", "must be shorter than the timeout, or it can never apply")
    return {
        "critical": fields.boolean("critical", _DEFAULTS.critical),
        "group": group,
        "interval": interval,
        "timeout": timeout,
        "policy": policy,
        "max_latency": max_latency,
        "ca_file": fields.string("ca_file", _DEFAULTS.ca_file, longest=CA_FILE_MAX_LENGTH),
        "cert_expiry_warn": fields.duration("cert_expiry_warn", _DEFAULTS.cert_expiry_warn),
        "depends_on": depends_on.read(fields),
        "slo": slo.read(fields),
        "public": fields.boolean("public", _DEFAULTS.public),
        "display_name": fields.string(
            "display_name", _DEFAULTS.display_name, longest=DISPLAY_NAME_MAX_LENGTH
        ),
        "rate_limited_is": fields.string(
            "rate_limited_is", _DEFAULTS.rate_limited_is, choices=RATE_LIMITED_IS
        ),
        "pool": fields.string("pool", _DEFAULTS.pool, pattern=NAME, pattern_help=_POOL_HELP),
    }


def _read_breaker(breaker: Fields | None) -> Policy:
    default = _DEFAULTS.policy
    if breaker is None:
        return default
    policy = Policy(
        failure_threshold=breaker.integer(
            "failure_threshold",
            default.failure_threshold,
            minimum=1,
            maximum=LARGEST_THRESHOLD,
        ),
        recovery_timeout=breaker.duration("recovery_timeout", default.recovery_timeout),
        success_threshold=breaker.integer(
            "success_threshold",
            default.success_threshold,
            minimum=1,
            maximum=LARGEST_THRESHOLD,
        ),
    )
    breaker.reject_unread()
    return policy


def _spec_fields(kind: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind.Spec))


def _all_kind_fields() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for kind in KINDS for name in _spec_fields(kind_module(kind))))


def _where(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    if not isinstance(name, str):
        return f"entry {index}"
    return f"entry {index} " + (f"'{name}'" if not text_problem(name, 100) else excerpt(name))


def _located(index: int, entry: Any, field: str = "depends_on") -> tuple[str, int | None]:
    return _where(index, entry), _line(entry, field)


def _line(entry: Any, field: str | None = None) -> int | None:
    lines = getattr(entry, "lines", {})
    return lines.get(field) or getattr(entry, "line", None)

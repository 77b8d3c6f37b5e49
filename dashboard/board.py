"""The status page's content: every dependency, filtered, grouped, problems first; or, on
request (`?sort=budget`), in one list by the error budget left, lowest first. A group of more
than COLLAPSE_OVER rows shows its problems and sums up the rest in a line ("930 up"), with a
link to them all (`?group=<name>&expand=1`): at 10,000 dependencies a browser lays out the
problems, not 10,000 rows, and the server reads and writes only those.

Six queries whatever the number of dependencies: how many rows of each group the filters
leave and how many of those are not problems (a line per group), the rows shown (their
current state, recent checks and uptime windows ride on them), the counts by status, kind
and group (the banner, the filter choices, and the newest check: whether the prober went
quiet), the prober's backlog (the banner's line when it is behind), the declaration's state
(a banner when the file was refused) and each group's 90 days (summed in the database, a row
per group and day); and the maintenance windows in effect, when this process's copy of them
is read again.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from urllib.parse import urlencode

from django import forms
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.safestring import SafeString

from dashboard import history_bars, prober_silence
from dashboard.error_budgets import remaining
from dashboard.formatting import duration_changes_in
from probes import backlog, breaker, declaration_state, maintenance_reader
from probes.kinds import KINDS
from probes.maintenance import Active
from probes.models import DeclarationState, Dependency
from probes.statuses import ServiceStatus, Status, service_status

# Problems first: the order in which a person wants to read statuses.
STATUS_ORDER = {Status.DOWN: 0, Status.DEGRADED: 1, Status.UNKNOWN: 2, Status.UP: 3}
# What the status page does not read of a row: the large columns.
UNREAD_FIELDS = ("spec", "last_observations", "totals", "metrics_text")
# A group of more rows than this shows its problems alone, and the number of the others.
COLLAPSE_OVER = 50
BY_BUDGET = "budget"
# What a pool's node shows of its last observations (the rest is not read): its lag, and
# the pool's best head (probes/kinds/rpc_pool.py).
POOL_FIGURES = {
    "pool_lag": KT("last_observations__lag_blocks"),
    "pool_head": KT("last_observations__pool_head"),
}
BY_BUDGET_CAPTION = "all groups, lowest error budget first"


class FilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "any status"), *((s.value, s.value) for s in STATUS_ORDER)], required=False
    )
    kind = forms.ChoiceField(choices=[("", "any kind"), *((k, k) for k in KINDS)], required=False)
    group = forms.CharField(max_length=100, required=False)
    q = forms.CharField(max_length=100, required=False, strip=True)
    sort = forms.ChoiceField(
        choices=[("", "problems first"), (BY_BUDGET, "lowest error budget first")],
        required=False,
        label="Order",
    )
    # Every row of each group, the healthy ones too (a collapsed group's link sets it).
    expand = forms.BooleanField(required=False)


@dataclass
class Row:
    dependency: Dependency
    affected_by: list[str] = field(default_factory=list)  # what it depends on that is down
    maintenance: Active | None = None  # the window it is in now

    @property
    def problem(self) -> str:
        """Why it is not up, in a line: its error, or its warnings."""
        d = self.dependency
        return d.last_error or "; ".join(d.last_warnings)

    @property
    def next_trial_at(self) -> datetime | None:
        return breaker.next_trial_at(self.dependency.breaker, self.dependency.policy)

    @property
    def pool_lag(self) -> int | None:
        """Blocks behind its pool's best head when last probed; None out of a pool, or when
        it did not answer."""
        return _number(getattr(self.dependency, "pool_lag", None))


@dataclass
class Group:
    name: str
    rows: list[Row]
    history: list[history_bars.Day] = field(default_factory=list)  # of all its members
    collapsed: int = 0  # members left out of `rows`: up, or (by budget) further down the list
    collapsed_are: str = "up"
    expand_url: str = ""  # the page of every row of this group (or list)

    @property
    def size(self) -> int:
        return len(self.rows) + self.collapsed

    @property
    def worst(self) -> int:
        return min(
            (STATUS_ORDER[Status(row.dependency.status)] for row in self.rows),
            default=STATUS_ORDER[Status.UP],
        )

    @property
    def pool_heads(self) -> list[tuple[str, int]]:
        """Each pool among its rows, with the best head its nodes last saw."""
        heads: dict[str, int] = {}
        for row in self.rows:
            d = row.dependency
            head = _number(getattr(d, "pool_head", None))
            if d.pool and head is not None:
                heads[d.pool] = max(head, heads.get(d.pool, head))
        return sorted(heads.items())

    @property
    def history_bar(self) -> SafeString | str:
        if not self.history:
            return ""
        # Ids that outlive a poll, whatever the group's name: focus stays on its day.
        ids = f"history-{zlib.crc32(self.name.encode())}"
        return history_bars.render(self.history, self.name or "ungrouped", ids)


@dataclass
class Board:
    status: ServiceStatus
    counts: dict[str, int]
    total: int
    groups: list[Group]
    kinds: list[str]
    group_names: list[str]
    filtered: bool
    behind: backlog.Backlog  # of every active dependency, whatever the filters
    budgets: bool  # some row shown has an SLO: the page has a budget column
    by_budget: bool
    silence: prober_silence.Silence | None  # the prober recorded nothing for too long
    declaration: DeclarationState | None  # as the prober last read dependencies.yaml
    # When what the page shows changes though no state does: a maintenance window starts or
    # ends, or the prober's silence begins or its age reads differently.
    expires: datetime
    shown: int = field(init=False)

    def __post_init__(self) -> None:
        self.shown = sum(group.size for group in self.groups)


def _number(value: object) -> int | None:
    """A figure read out of JSON: the databases give a number, or its text."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _down_among(names: set[str]) -> set[str]:
    """Which of `names` are down: a query only when some row depends on another."""
    if not names:
        return set()
    rows = Dependency.objects.active().filter(name__in=names, status=Status.DOWN)
    return set(rows.values_list("name", flat=True))


def build(filters: dict[str, str]) -> Board:
    now = timezone.now()
    active = Dependency.objects.active()
    summary = list(
        active.values("status", "critical", "kind", "group").annotate(
            n=Count("id"), newest=Max("last_checked_at"), shortest=Min("interval")
        )
    )
    counts: Counter[str] = Counter()
    for line in summary:
        counts[line["status"]] += line["n"]

    rows = _filtered(active.defer(*UNREAD_FIELDS), filters)
    filtered = any(value for name, value in filters.items() if name not in ("sort", "expand"))
    windows = maintenance_reader.now_in_effect()
    by_budget = filters.get("sort") == BY_BUDGET
    if filters.get("expand"):
        shown, collapsed = rows, Counter()
    elif by_budget:
        shown, collapsed = _lowest_budgets(rows)
    else:
        shown, collapsed = _shown(rows, windows)
    dependencies = list(shown.annotate(**POOL_FIGURES))
    down = _down_among({parent for d in dependencies for parent in d.depends_on})

    def row(d: Dependency) -> Row:
        return Row(d, [p for p in d.depends_on if p in down], maintenance=windows.of(d))

    if by_budget:
        groups = _by_budget(dependencies, row, collapsed[BY_BUDGET_CAPTION], filters)
    else:
        groups = _grouped(dependencies, row, collapsed, filters)
    _add_history(groups, rows, by_budget)
    return Board(
        status=service_status((Status(line["status"]), line["critical"]) for line in summary),
        counts={status.value: counts[status.value] for status in STATUS_ORDER},
        total=sum(counts.values()),
        groups=groups,
        kinds=sorted({line["kind"] for line in summary}),
        group_names=sorted({line["group"] for line in summary if line["group"]}),
        filtered=filtered,
        behind=backlog.measure(),
        budgets=any(d.slo for d in dependencies),
        by_budget=by_budget,
        silence=_silence(summary, now),
        declaration=declaration_state.current(),
        expires=min(filter(None, (windows.expires, _silence_changes(summary, now)))),
    )


def _filtered(rows: QuerySet[Dependency], filters: dict[str, str]) -> QuerySet[Dependency]:
    if filters.get("status"):
        rows = rows.filter(status=filters["status"])
    if filters.get("kind"):
        rows = rows.filter(kind=filters["kind"])
    if filters.get("group"):
        rows = rows.filter(group=filters["group"])
    if filters.get("q"):
        rows = rows.filter(name__icontains=filters["q"])
    return rows


def _shown(
    rows: QuerySet[Dependency], windows: maintenance_reader.InEffect
) -> tuple[QuerySet[Dependency], Counter[str]]:
    """The rows to show, and per group the number of those left out: every member of a group
    of COLLAPSE_OVER or fewer, the problems alone of a larger one (not up, acknowledged, or
    in a maintenance window). Counted in the database, a line per group: the rows left out
    are never read."""
    quiet = Q(status=Status.UP, acknowledged_at__isnull=True)
    if windows.effective:
        quiet &= ~_in_maintenance(windows)
    counts = rows.values("group").annotate(n=Count("id"), quiet=Count("id", filter=quiet))
    large = {line["group"]: line["quiet"] for line in counts if line["n"] > COLLAPSE_OVER}
    collapsed = Counter({group: n for group, n in large.items() if n})
    if not collapsed:
        return rows, collapsed
    return rows.exclude(quiet & Q(group__in=collapsed.keys())), collapsed


def _in_maintenance(windows: maintenance_reader.InEffect) -> Q:
    """The rows some window in effect matches, as a condition: probes.maintenance.matches
    in SQL."""
    matched = Q(pk__in=[])  # none, until a window matches some
    for window, _ in windows.effective:
        match = window.match
        condition = Q()
        if "critical" in match:
            condition &= Q(critical=match["critical"])
        for key in ("group", "name"):
            if key in match:
                condition &= Q(**{f"{key}__in": match[key]})
        matched |= condition
    return matched


def _silence(summary: list[dict], now: datetime) -> prober_silence.Silence | None:
    """The prober's silence, when it has recorded something and then nothing for too long."""
    newest, shortest = _newest_and_shortest(summary)
    return prober_silence.stale(newest, shortest, now)


def _silence_changes(summary: list[dict], now: datetime) -> datetime | None:
    """When the silence banner next reads differently: it appears, or its age ("for 40 s",
    "for 3 min") moves on; None when the prober has recorded nothing yet."""
    newest, shortest = _newest_and_shortest(summary)
    if newest is None:
        return None
    starts = newest + prober_silence.max_age(shortest)
    if now < starts:
        return starts
    return now + duration_changes_in(now - newest)


def _newest_and_shortest(summary: list[dict]) -> tuple[datetime | None, timedelta | None]:
    newest = max((line["newest"] for line in summary if line["newest"]), default=None)
    shortest = min((line["shortest"] for line in summary), default=None)
    return newest, shortest


def _grouped(
    dependencies: list[Dependency],
    row: Callable[[Dependency], Row],
    collapsed: Counter[str],
    filters: dict[str, str],
) -> list[Group]:
    """By group, the groups with the worst status first, problems first within each."""

    def order(d: Dependency) -> tuple:
        return (d.group, STATUS_ORDER[Status(d.status)], d.name)

    shown = {
        name: [row(d) for d in members]
        for name, members in groupby(sorted(dependencies, key=order), key=lambda d: d.group)
    }
    groups = [
        Group(
            name,
            shown.get(name, []),
            collapsed=collapsed[name],
            expand_url=_expand_url(filters, name) if collapsed[name] else "",
        )
        for name in sorted(shown.keys() | collapsed.keys())
    ]
    groups.sort(key=lambda group: (group.worst, group.name))
    return groups


def _by_budget(
    dependencies: list[Dependency],
    row: Callable[[Dependency], Row],
    rest: int,
    filters: dict[str, str],
) -> list[Group]:
    """One list, lowest budget first, with the number of rows further down left out."""
    if not dependencies:
        return []
    ordered = sorted(dependencies, key=_budget_order)
    expand_url = _expand_url(filters) if rest else ""
    rows = [row(d) for d in ordered]
    return [
        Group(BY_BUDGET_CAPTION, rows, collapsed=rest, collapsed_are="more", expand_url=expand_url)
    ]


def _expand_url(filters: dict[str, str], group: str | None = None) -> str:
    """The page of `group` alone (or of every group) with every row, the filters kept."""
    query = (
        {**filters, "expand": "1"} if group is None else {**filters, "group": group, "expand": "1"}
    )
    return "?" + urlencode({name: value for name, value in query.items() if value})


def _add_history(groups: list[Group], rows: QuerySet[Dependency], by_budget: bool) -> None:
    """Each group's 90 days, of the rows it shows; in one list, all of them together."""
    if not groups:
        return
    # By budget, one list: every group's days summed (the ungrouped named, so there is one).
    names = [""] if by_budget else [group.name for group in groups]
    days = history_bars.group_daily_uptimes(rows, names)
    if by_budget:
        groups[0].history = history_bars.combine(list(days.values()))
        return
    for group in groups:
        group.history = days[group.name]


def _lowest_budgets(rows: QuerySet[Dependency]) -> tuple[QuerySet[Dependency], Counter[str]]:
    """The first COLLAPSE_OVER rows in budget order, and how many come after them: the order
    decided on the few columns it needs, the rows after never read whole."""
    lines = list(rows.values_list("id", "slo", "slo_figures", "status", "name"))
    if len(lines) <= COLLAPSE_OVER:
        return rows, Counter()

    def order(line: tuple) -> tuple:
        _, slo, figures, status, name = line
        return _budget_key((figures or {}).get("remaining") if slo else None, slo, status, name)

    first = sorted(lines, key=order)[:COLLAPSE_OVER]
    rest = Counter({BY_BUDGET_CAPTION: len(lines) - len(first)})
    return rows.filter(id__in=[line[0] for line in first]), rest


def _budget_order(d: Dependency) -> tuple:
    return _budget_key(remaining(d), d.slo, d.status, d.name)


def _budget_key(left: float | None, slo: dict | None, status: str, name: str) -> tuple:
    """Lowest budget left first; then SLOs with no figures yet, then rows without an SLO,
    problems first among equals."""
    rank = 0 if left is not None else 1 if slo else 2
    return (rank, left or 0.0, STATUS_ORDER[Status(status)], name)

from __future__ import annotations

import random

from django.db import connection, models
from django.db.models import Q

from probes.breaker import Breaker, Policy, State
from probes.outcomes import Result
from probes.statuses import Status

# How many checks a row keeps in `recent` (and the status page's check bar shows).
RECENT_CHECKS = 40


def _choices(enum: type) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ")) for member in enum]


class DependencyQuerySet(models.QuerySet["Dependency"]):
    def active(self) -> DependencyQuerySet:
        return self.filter(archived_at__isnull=True)


class Dependency(models.Model):
    """A declared dependency: its spec (owned by dependencies.yaml) and its current state."""

    # --- declared in dependencies.yaml; `sync` writes these, nothing else does. Their
    # defaults are DependencySpec's (probes/dependency_spec.py), none here. ---
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20)
    critical = models.BooleanField()
    group = models.CharField(max_length=100, blank=True)
    # The kind's own fields as declared: ${VAR} placeholders are kept, never their values.
    spec = models.JSONField()
    interval = models.DurationField()
    timeout = models.DurationField()
    failure_threshold = models.PositiveIntegerField()
    recovery_timeout = models.DurationField()
    success_threshold = models.PositiveIntegerField()
    max_latency = models.DurationField(null=True, blank=True)
    ca_file = models.CharField(max_length=500, blank=True)
    cert_expiry_warn = models.DurationField()
    depends_on = models.JSONField(blank=True)  # names of other dependencies
    slo = models.JSONField(null=True, blank=True)  # probes.slo.Slo.stored(); None: no SLO
    # On the public status page and badges (/status/, /badges/), as display_name if given.
    public = models.BooleanField(default=False)
    display_name = models.CharField(max_length=100, blank=True)
    rate_limited_is = models.CharField(max_length=10, default="degraded")
    pool = models.CharField(max_length=100, blank=True, default="")  # rpc nodes probed together
    declared_at = models.DateTimeField(auto_now_add=True)
    # Set when the entry leaves the file: no longer probed, history kept.
    archived_at = models.DateTimeField(null=True, blank=True)

    # --- the schedule ---
    next_due_at = models.DateTimeField()

    # --- the current state, so that readers never scan history for it ---
    status = models.CharField(max_length=10, choices=_choices(Status), default=Status.UNKNOWN)
    status_since = models.DateTimeField(null=True, blank=True)
    breaker_state = models.CharField(max_length=10, choices=_choices(State), default=State.CLOSED)
    breaker_failures = models.PositiveIntegerField(default=0)
    breaker_successes = models.PositiveIntegerField(default=0)
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=10, choices=_choices(Result), blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_error_class = models.CharField(max_length=30, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_warnings = models.JSONField(default=list, blank=True)
    last_observations = models.JSONField(default=dict, blank=True)
    # The last RECENT_CHECKS checks, newest last, as [epoch seconds, result, latency ms or
    # null]: the status page draws its sparkline and check bar from here, without a query.
    recent = models.JSONField(default=list, blank=True)
    # Counts since the dependency was declared, that only grow (Prometheus counters):
    # {"results": {result: n}, "errors": {class: n}, "transitions": {"from>to": n},
    #  "latency": {"buckets": [n per rollups.LATENCY_BOUNDS_MS bucket], "sum_ms": x}}
    totals = models.JSONField(default=dict, blank=True)
    # Uptime over 24h, 7d and 30d, from rollups, refreshed every minute (rollups.refresh_uptimes):
    # the page and /metrics read them here instead of aggregating rollups on every request.
    uptime_24h = models.FloatField(null=True, blank=True)
    uptime_7d = models.FloatField(null=True, blank=True)
    uptime_30d = models.FloatField(null=True, blank=True)
    # The seconds each uptime window was measured over ({"24h": 10800.0, ...}): less than
    # the window when the prober did not run all of it (the page says "over 3 h of data").
    uptime_coverage = models.JSONField(default=dict, blank=True)
    # Its SLO's figures, refreshed with the uptimes (probes/error_budgets.py): availability,
    # budget remaining, burn rates per window, the burn alert in force.
    slo_figures = models.JSONField(default=dict, blank=True)
    # This dependency's /metrics samples, rendered by recording (probes/exposition.py): a
    # scrape puts them together instead of rendering thousands of rows. Empty: render afresh.
    metrics_text = models.TextField(blank=True, editable=False)
    # Who said "I'm on it" of the outage it is in, and when: cleared when it leaves down.
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = DependencyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "dependencies"
        ordering = ["name"]
        permissions = [("acknowledge_dependency", "Can acknowledge a dependency that is down")]
        indexes = [
            # The scheduler's questions: which active dependencies are due? Who else is in
            # the pools it claimed?
            models.Index(
                fields=["next_due_at"],
                condition=Q(archived_at__isnull=True),
                name="probes_dep_due_idx",
            ),
            models.Index(
                fields=["pool"],
                condition=Q(archived_at__isnull=True) & ~Q(pool=""),
                name="probes_dep_pool_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def policy(self) -> Policy:
        return Policy(
            failure_threshold=self.failure_threshold,
            recovery_timeout=self.recovery_timeout.total_seconds(),
            success_threshold=self.success_threshold,
        )

    @property
    def breaker(self) -> Breaker:
        return Breaker(
            state=State(self.breaker_state),
            failures=self.breaker_failures,
            successes=self.breaker_successes,
            opened_at=self.breaker_opened_at,
        )

    @breaker.setter
    def breaker(self, value: Breaker) -> None:
        self.breaker_state = value.state
        self.breaker_failures = value.failures
        self.breaker_successes = value.successes
        self.breaker_opened_at = value.opened_at


class ProbeResult(models.Model):
    """One probe of one dependency: the raw history."""

    dependency = models.ForeignKey(Dependency, on_delete=models.CASCADE, related_name="results")
    checked_at = models.DateTimeField()
    result = models.CharField(max_length=10, choices=_choices(Result))
    latency_ms = models.FloatField(null=True, blank=True)
    error_class = models.CharField(max_length=30, blank=True)
    # Why it failed, or why it was degraded; secrets scrubbed.
    detail = models.CharField(max_length=500, blank=True)
    observations = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["dependency", "-checked_at"], name="probes_result_dep_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.dependency_id} {self.result} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class BreakerTransition(models.Model):
    """Every change of a dependency's circuit-breaker state, with its reason."""

    dependency = models.ForeignKey(Dependency, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=10, choices=_choices(State))
    to_state = models.CharField(max_length=10, choices=_choices(State))
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["dependency", "at"], name="probes_transition_dep_at_idx")]

    def __str__(self) -> str:
        return f"{self.dependency_id}: {self.from_state} -> {self.to_state} at {self.at}"


class StatusTransition(models.Model):
    """Every change of a dependency's status (up, degraded, down), written by recording with
    the check that made it: the public page's feed of status changes reads these. Kept as
    long as incidents."""

    dependency = models.ForeignKey(
        Dependency, on_delete=models.CASCADE, related_name="status_transitions"
    )
    at = models.DateTimeField()
    from_status = models.CharField(max_length=10, choices=_choices(Status))
    to_status = models.CharField(max_length=10, choices=_choices(Status))

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["-at"], name="probes_status_change_at_idx")]

    def __str__(self) -> str:
        return f"{self.dependency_id}: {self.from_status} -> {self.to_status} at {self.at}"


class Incident(models.Model):
    """One period a dependency spent down, from the check that took it down to the one that
    brought it back: opened and closed by recording, never recomputed from raw results."""

    dependency = models.ForeignKey(Dependency, on_delete=models.CASCADE, related_name="incidents")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)  # None: still down
    first_error = models.CharField(max_length=500, blank=True)
    last_error = models.CharField(max_length=500, blank=True)  # set when it ends

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dependency"],
                condition=Q(ended_at__isnull=True),
                name="probes_incident_one_open",
            )
        ]
        indexes = [
            models.Index(fields=["dependency", "-started_at"], name="probes_incident_dep_idx"),
            models.Index(fields=["-started_at"], name="probes_incident_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dependency_id} down at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def open(self) -> bool:
        return self.ended_at is None


class Acknowledgement(models.Model):
    """Somebody said "I'm on it" of an outage, with a note: reminders stop until it ends."""

    dependency = models.ForeignKey(
        Dependency, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="acknowledgements"
    )
    by = models.CharField(max_length=150)  # the user's name: it outlives the user
    at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.dependency_id} acknowledged by {self.by} at {self.at:%Y-%m-%d %H:%M:%S}"


class Period(models.TextChoices):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class Rollup(models.Model):
    """One dependency's checks and time in one minute, hour or (UTC) day: windows come from here.

    The seconds it spent up, degraded, down or in a maintenance window (probes/status_time.py);
    what the bucket's length leaves is unknown (the prober was not running). Latencies are of
    successful checks (a failure has none), counted in a fixed histogram
    (rollups.LATENCY_BOUNDS_MS) that gives percentiles and Prometheus buckets alike.
    """

    dependency = models.ForeignKey(Dependency, on_delete=models.CASCADE, related_name="rollups")
    period = models.CharField(max_length=6, choices=Period.choices)
    start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    degraded = models.PositiveIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum = models.FloatField(default=0.0)  # ms
    latency_min = models.FloatField(null=True, blank=True)
    latency_max = models.FloatField(null=True, blank=True)
    histogram = models.JSONField(default=list, blank=True)
    up_seconds = models.FloatField(default=0.0)
    degraded_seconds = models.FloatField(default=0.0)
    down_seconds = models.FloatField(default=0.0)
    maintenance_seconds = models.FloatField(default=0.0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dependency", "period", "start"], name="probes_rollup_unique_bucket"
            )
        ]
        indexes = [
            # The status page's question: every dependency's buckets since a moment.
            models.Index(fields=["period", "start"], name="probes_rollup_period_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.dependency_id} {self.period} {self.start:%Y-%m-%d %H:%M}"


class StateVersion(models.Model):
    """One row whose token changes whenever what /health/* shows of the dependencies does.

    The health endpoints keep their answer per process and make it afresh only when the token
    has moved: a request costs one small query, and every worker answers the same. Its
    writers (recording and sync) bump it last in their transaction, so its row lock is held
    only until they commit. A random token, not a counter: a rolled-back transaction cannot
    make an old token current again.
    """

    ROW_ID = 1
    token = models.BigIntegerField()

    def __str__(self) -> str:
        return f"state version {self.token}"

    @classmethod
    def bump(cls) -> None:
        token = random.getrandbits(62)
        if not cls.objects.filter(pk=cls.ROW_ID).update(token=token):
            cls.objects.bulk_create([cls(pk=cls.ROW_ID, token=token)], ignore_conflicts=True)

    @classmethod
    def current(cls) -> int | None:
        """The token; None before the first write (nothing may be cached on it).

        In plain SQL: every health request asks, and building the ORM's query would cost
        more than the database's answer."""
        with connection.cursor() as cursor:
            table = cls._meta.db_table  # ours, not input
            cursor.execute(f"SELECT token FROM {table} WHERE id = %s", [cls.ROW_ID])  # noqa: S608
            row = cursor.fetchone()
        return row[0] if row else None


class DeclarationState(models.Model):
    """One row: whether dependencies.yaml, as last read, was accepted, and if not, why.

    The watcher (probes/declaration_watcher.py) writes it when that changes, in whichever
    process syncs: the page's banner, /metrics and the log read the same answer."""

    ROW_ID = 1
    valid = models.BooleanField()
    # Each problem in a line, as the refusal names it: "file:line: entry 'x', field: why".
    problems = models.JSONField(default=list, blank=True)
    # When the declaration being probed was accepted, and when the file was first refused.
    synced_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "declaration accepted" if self.valid else "declaration refused"


class WindowSource(models.TextChoices):
    DECLARED = "declared"  # dependencies.yaml's `maintenance:`, synced
    API = "api"  # made through the API; sync leaves these alone


class MaintenanceWindow(models.Model):
    """A maintenance window: one-off (start, end) or recurring (rrule, duration, timezone).

    Dependencies in one are still probed and reported as they are; notifications of them are
    muted and their checks left out of uptime (probes/maintenance.py, README). A window
    written or archived moves StateVersion, so that every reader sees it at once."""

    name = models.CharField(max_length=100)
    source = models.CharField(max_length=10, choices=WindowSource.choices)
    # {"critical": bool, "group": [..], "name": [..]}: every field given must hold.
    match = models.JSONField()
    start = models.DateTimeField(null=True, blank=True)
    end = models.DateTimeField(null=True, blank=True)
    rrule = models.CharField(max_length=500, blank=True)
    duration = models.DurationField(null=True, blank=True)
    timezone = models.CharField(max_length=100, blank=True)
    declared_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "name"], name="probes_window_unique_name"),
            models.CheckConstraint(
                condition=Q(start__isnull=False, end__isnull=False, end__gt=models.F("start"))
                | Q(rrule__gt="", duration__isnull=False, timezone__gt=""),
                name="probes_window_one_off_or_recurring",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} window {self.name}"

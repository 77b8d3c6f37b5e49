from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from freezegun import freeze_time

from probes.engine import Job
from probes.kinds import http
from probes.models import Dependency
from probes.scheduler import batches, claim_due, next_due_at, unclaim
from tests.factories import T0, make_dependency, make_job

INTERVAL = timedelta(seconds=30)


@pytest.mark.django_db
class TestClaimDue:
    def test_claims_only_active_dependencies_that_are_due(self) -> None:
        make_dependency("due", next_due_at=T0 - timedelta(seconds=5))
        make_dependency("due-now", next_due_at=T0)
        make_dependency("later", next_due_at=T0 + timedelta(seconds=1))
        make_dependency("archived", next_due_at=T0 - timedelta(seconds=5), archived_at=T0)
        jobs = claim_due(limit=100, now=T0)
        assert [job.spec.name for job in jobs] == ["due", "due-now"]

    def test_a_job_carries_what_the_engine_needs_and_keeps_placeholders(self) -> None:
        spec = {"url": "https://x/health", "headers": {"Authorization": "Bearer ${TOKEN}"}}
        row = make_dependency("api", spec=spec, timeout=timedelta(seconds=2.5))
        [job] = claim_due(limit=10, now=T0)
        declared = job.spec
        assert (job.dependency_id, declared.kind, declared.timeout, declared.interval) == (
            row.id,
            "http",
            2.5,
            30,
        )
        assert declared.target == http.Spec(**spec)

    def test_claims_the_most_overdue_first_up_to_the_limit(self) -> None:
        for n in range(5):
            make_dependency(f"dep-{n}", next_due_at=T0 - timedelta(seconds=n))
        assert [job.spec.name for job in claim_due(limit=2, now=T0)] == ["dep-4", "dep-3"]
        assert [job.spec.name for job in claim_due(limit=10, now=T0)] == ["dep-2", "dep-1", "dep-0"]

    def test_a_claimed_dependency_is_not_due_again_within_its_interval(self) -> None:
        make_dependency("api", last_checked_at=T0 - INTERVAL)
        assert len(claim_due(limit=10, now=T0)) == 1
        assert claim_due(limit=10, now=T0) == []
        assert claim_due(limit=10, now=T0 + INTERVAL - timedelta(milliseconds=1)) == []

    def test_a_claim_never_recorded_is_due_again_next_interval(self) -> None:
        # What a worker killed mid-batch leaves behind: nothing stuck.
        make_dependency("api", last_checked_at=T0 - INTERVAL)
        claim_due(limit=10, now=T0)
        assert [job.spec.name for job in claim_due(limit=10, now=T0 + INTERVAL)] == ["api"]

    def test_a_dependency_due_every_tick_is_claimed_every_tick(self) -> None:
        # Ticks come a second apart plus the work they do; a 1s interval must not slip to 2s.
        make_dependency("fast", interval=timedelta(seconds=1), last_checked_at=T0)
        tick = T0 + timedelta(milliseconds=30)
        for _ in range(10):
            assert [job.spec.name for job in claim_due(limit=10, now=tick)] == ["fast"]
            tick += timedelta(seconds=1, milliseconds=30)

    def test_claims_ahead_what_comes_due_and_each_job_starts_when_due(self) -> None:
        make_dependency("overdue", next_due_at=T0 - timedelta(seconds=3), last_checked_at=T0)
        make_dependency("soon", next_due_at=T0 + timedelta(seconds=1.5), last_checked_at=T0)
        make_dependency("later", next_due_at=T0 + timedelta(seconds=3), last_checked_at=T0)

        jobs = claim_due(limit=10, now=T0, ahead=2.0)

        assert {job.spec.name: job.start_at for job in jobs} == {
            "overdue": T0,  # at once
            "soon": T0 + timedelta(seconds=1.5),  # when it is due, not when it was claimed
        }
        due = dict(Dependency.objects.values_list("name", "next_due_at"))
        assert due["soon"] == T0 + timedelta(seconds=1.5) + INTERVAL  # its phase kept
        assert due["later"] == T0 + timedelta(seconds=3)

    def test_unclaim_gives_a_claim_that_never_started_back(self) -> None:
        make_dependency("soon", next_due_at=T0 + timedelta(seconds=1), last_checked_at=T0)
        [job] = claim_due(limit=10, now=T0, ahead=2.0)

        unclaim([job])

        assert Dependency.objects.get().next_due_at == T0 + timedelta(seconds=1)
        assert [j.spec.name for j in claim_due(limit=10, now=T0, ahead=2.0)] == ["soon"]

    @freeze_time(T0)
    def test_uses_the_clock_when_no_time_is_given(self) -> None:
        make_dependency("api", next_due_at=T0)
        assert len(claim_due(limit=10)) == 1
        assert Dependency.objects.get().next_due_at > T0


class TestNextDueAt:
    @pytest.mark.parametrize(
        "late", [-timedelta(seconds=1), timedelta(0), timedelta(seconds=1), INTERVAL]
    )
    def test_a_probe_up_to_an_interval_late_or_claimed_early_keeps_its_phase(self, late) -> None:
        now = T0 + late
        assert next_due_at(INTERVAL, T0, first_probe=False, now=now) == T0 + INTERVAL

    @pytest.mark.parametrize(
        ("first_probe", "late"), [(True, timedelta(0)), (False, INTERVAL * 1.5)]
    )
    def test_first_or_very_late_probes_are_spread_over_a_whole_interval(
        self, first_probe, late
    ) -> None:
        rng = random.Random(2)
        now = T0 + late
        dues = [next_due_at(INTERVAL, T0, first_probe, now, rng) for _ in range(1000)]
        assert min(dues) >= now + INTERVAL
        assert max(dues) <= now + INTERVAL * 2
        # A thousand dependencies declared together do not fire together: every tenth of
        # the interval gets some of them.
        tenths = {int((due - now - INTERVAL) / (INTERVAL / 10)) for due in dues}
        assert tenths == set(range(10))


def _node(name: str, **fields: object) -> Dependency:
    """An rpc row of the pool `main`, checked an interval ago, due at T0 (unless said)."""
    values = {
        "kind": "rpc",
        "spec": {"url": f"http://{name}"},
        "pool": "main",
        "last_checked_at": T0 - INTERVAL,
    }
    return make_dependency(name, **(values | fields))


@pytest.mark.django_db
class TestPools:
    def test_a_due_member_brings_its_pool_and_they_start_and_stay_together(self) -> None:
        _node("a", next_due_at=T0 - timedelta(seconds=2))
        _node("b", next_due_at=T0 + timedelta(seconds=20))
        _node("c", next_due_at=T0 + timedelta(seconds=9), interval=timedelta(seconds=10))
        make_dependency("alone", next_due_at=T0 + timedelta(seconds=5))
        jobs = claim_due(limit=10, now=T0)
        assert sorted(job.spec.name for job in jobs) == ["a", "b", "c"]
        # At once, when the first was due; their next time is one, at the shortest interval.
        assert {job.start_at for job in jobs} == {T0}
        due = set(Dependency.objects.filter(pool="main").values_list("next_due_at", flat=True))
        assert due == {T0 - timedelta(seconds=2) + timedelta(seconds=10)}

    def test_a_member_held_back_by_its_breaker_or_a_retry_after_is_left_to_its_time(self) -> None:
        _node("due", next_due_at=T0)
        # Opened 10 s ago, with 60 s before its trial.
        _node(
            "open",
            next_due_at=T0 + timedelta(seconds=50),
            breaker_state="open",
            breaker_opened_at=T0 - timedelta(seconds=10),
        )
        # Told 40 s ago to come back in 120 s.
        _node(
            "throttled",
            next_due_at=T0 + timedelta(seconds=80),
            last_checked_at=T0 - timedelta(seconds=40),
            last_error_class="rate_limited",
            last_observations={"retry_after_seconds": 120},
        )
        # Throttled before, and free again.
        _node(
            "free",
            next_due_at=T0 + timedelta(seconds=80),
            last_checked_at=T0 - timedelta(seconds=200),
            last_error_class="rate_limited",
            last_observations={"retry_after_seconds": 120},
        )
        assert sorted(job.spec.name for job in claim_due(limit=10, now=T0)) == ["due", "free"]

    def test_another_pool_and_archived_members_stay_out(self) -> None:
        _node("a", next_due_at=T0)
        _node("gone", next_due_at=T0 + timedelta(seconds=5), archived_at=T0)
        _node("other", next_due_at=T0 + timedelta(seconds=5), pool="polygon")
        assert [job.spec.name for job in claim_due(limit=10, now=T0)] == ["a"]


def test_batches_cut_in_order() -> None:
    jobs = [make_job("http", {"url": "http://x"}, number=n) for n in range(1, 6)]
    numbers = [[job.dependency_id for job in batch] for batch in batches(jobs, 2)]
    assert numbers == [[1, 2], [3, 4], [5]]
    assert list(batches([], 2)) == []


def test_a_pools_members_stay_in_one_batch() -> None:
    def node(number: int, pool: str = "") -> Job:
        return make_job("rpc", {"url": "http://n"}, name=f"n{number}", number=number, pool=pool)

    jobs = [node(1), node(2, "main"), node(3), node(4, "main"), node(5, "main"), node(6)]
    numbers = [[job.dependency_id for job in batch] for batch in batches(jobs, 2)]
    # The pool goes where its first member is, whole: that batch is larger than the size.
    assert numbers == [[1, 2, 4, 5], [3, 6]]


def _race(claimers: int, limit: int) -> list[list[str]]:
    """Claim from several threads at once, each with its own database connection."""
    barrier = threading.Barrier(claimers)
    claimed: list[list[str]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []

    def claim(index: int) -> None:
        try:
            barrier.wait()
            claimed[index] = [job.spec.name for job in claim_due(limit=limit, now=T0)]
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return claimed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("claimers", [2, 4])
def test_racing_claimers_claim_disjoint_sets(claimers) -> None:
    for n in range(200):
        make_dependency(f"dep-{n:03}", next_due_at=T0 - timedelta(seconds=n % 7))
    claimed = _race(claimers, limit=60)
    names = [name for claim in claimed for name in claim]
    assert len(names) == len(set(names)), "a dependency was claimed twice"
    assert len(names) == min(200, 60 * claimers)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_claimers_on_postgresql_skip_what_another_has_locked() -> None:
    assert connection.vendor == "postgresql"
    for n in range(300):
        make_dependency(f"dep-{n:03}", next_due_at=T0)
    claimed = _race(6, limit=40)
    names = [name for claim in claimed for name in claim]
    assert len(names) == len(set(names)) == 240
    # SKIP LOCKED: every claimer got a full share instead of waiting or coming back empty.
    assert all(len(claim) == 40 for claim in claimed)

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from dashboard import history_bars, live_state
from dashboard.formatting import NO_VALUE
from probes import maintenance_reader, rollups
from probes.models import (
    BreakerTransition,
    DeclarationState,
    MaintenanceWindow,
    Period,
    ProbeResult,
    Rollup,
    WindowSource,
)
from probes.rollups import bucket_start
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def dependency(name: str, status: str = "up", **fields):
    now = timezone.now()
    values = {"status": status, "last_checked_at": now, "status_since": now - timedelta(minutes=3)}
    if status == "down":
        values |= {
            "breaker_state": "open",
            "breaker_opened_at": now,
            "last_error": "connect: connection refused",
        }
    return make_dependency(name, **(values | fields))


def day_bucket(row, start, up: float = 86400.0, down: float = 0.0) -> Rollup:
    return Rollup.objects.create(
        dependency=row, period=Period.DAY, start=start, count=10, up_seconds=up, down_seconds=down
    )


def names_in_order(page: str) -> list[str]:
    return re.findall(r'href="/dependencies/([^/]+)/"', page)


class TestAccess:
    @pytest.mark.parametrize("path", ["/", "/dependencies/api/"])
    def test_pages_need_a_login(self, client, path) -> None:
        dependency("api")
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"

    def test_a_poll_after_the_session_ended_sends_the_whole_page_to_the_login(self, client) -> None:
        response = client.get("/?status=down", **HTMX)
        assert response.status_code == 200
        assert response["HX-Redirect"] == "/accounts/login/?next=/%3Fstatus%3Ddown"

    def test_a_public_dashboard_needs_no_login(self, client, settings) -> None:
        settings.SEAHEALTH_PUBLIC_DASHBOARD = True
        dependency("api")
        assert client.get("/").status_code == 200
        assert client.get("/dependencies/api/").status_code == 200
        assert client.post("/").status_code == 405  # read-only

    @pytest.mark.parametrize("path", ["/health/dependencies", "/health/live"])
    def test_health_endpoints_need_no_login(self, client, path) -> None:
        assert client.get(path).status_code == 200

    def test_logging_in_leads_back_to_the_page(self, client, django_user_model) -> None:
        django_user_model.objects.create_user("ops", password="pw-for-tests")
        response = client.post(
            "/accounts/login/",
            {"username": "ops", "password": "pw-for-tests", "next": "/?kind=http"},
        )
        assert (response.status_code, response["Location"]) == (302, "/?kind=http")
        assert client.get("/?kind=http").status_code == 200


class TestStatusPage:
    def test_the_banner_gives_the_overall_status_and_counts(self, viewer) -> None:
        dependency("payments", critical=True)
        dependency("mailer", "down")
        dependency("search", "degraded", last_warnings=["slow"])
        page = viewer.get("/").content.decode()
        assert "Service degraded" in page
        assert "3 dependencies:" in page
        assert '<span class="count status-down">1 down</span>' in page
        assert '<span class="count status-up">1 up</span>' in page

    def test_status_is_written_out_not_only_coloured(self, viewer) -> None:
        dependency("mailer", "down")
        page = viewer.get("/").content.decode()
        assert (
            '<span class="status status-down"><span aria-hidden="true">✕</span> down</span>' in page
        )

    def test_problems_come_first_within_and_across_groups(self, viewer) -> None:
        dependency("a-up", group="alpha")
        dependency("b-down", "down", group="alpha")
        dependency("c-degraded", "degraded", group="alpha")
        dependency("z-fine", group="beta")
        dependency("y-down", "down", group="gamma")
        page = viewer.get("/").content.decode()
        assert names_in_order(page) == ["b-down", "c-degraded", "a-up", "y-down", "z-fine"]

    def test_a_down_dependency_shows_its_error_since_when_and_next_trial(self, viewer) -> None:
        dependency("mailer", "down")
        page = viewer.get("/").content.decode()
        assert "connect: connection refused" in page
        assert re.search(
            r'since <time datetime="[^"]+Z" title="[^"]+ UTC" data-relative>3 min ago</time>', page
        )
        assert "trial <time" in page

    def test_text_from_a_peer_is_escaped(self, viewer) -> None:
        dependency(
            "mailer",
            "down",
            last_error='unexpected_response: banner: 554 <script>alert("x")</script>',
        )
        page = viewer.get("/").content.decode()
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page

    def test_uptime_comes_from_rollups_as_last_refreshed(self, viewer) -> None:
        row = dependency("api")
        now = timezone.now()
        Rollup.objects.create(
            dependency=row,
            period=Period.HOUR,
            start=bucket_start(now, Period.HOUR),
            up_seconds=3582,
            down_seconds=18,
        )
        Rollup.objects.create(
            dependency=row,
            period=Period.DAY,
            start=bucket_start(now, Period.DAY),
            up_seconds=85536,
            down_seconds=864,
        )
        assert "99.50%" not in viewer.get("/").content.decode()  # not refreshed yet
        rollups.refresh_uptimes()
        page = viewer.get("/").content.decode()
        # One hour of 24, one day of 7 and of 30 measured: the page says so.
        assert (
            "99.50% <small>over 1 h of data</small> · 99.00% <small>over 1 d of data</small> · "
            "99.00% <small>over 1 d of data</small>"
        ) in page

    def test_an_uptime_window_not_measured_whole_says_over_how_much_data(self, viewer) -> None:
        make_dependency("api", interval=timedelta(seconds=30))
        simulation.run(lambda name, at: True, T0, T0 + timedelta(hours=1))
        rollups.refresh_uptimes(T0 + timedelta(hours=1))

        with freeze_time(T0 + timedelta(hours=1)):
            status = viewer.get("/").content.decode()
            page = viewer.get("/dependencies/api/").content.decode()

        # Every window holds the same hour: said once.
        measured = "100% <small>over 1 h of data</small>"
        assert f'<td class="num uptime">{measured}</td>' in status
        assert "Uptime: 24h 100% over 1 h of data · 7d 100% over 1 h of data" in page

    def test_each_group_carries_its_90_days_in_its_caption(self, viewer) -> None:
        today = bucket_start(timezone.now(), Period.DAY)
        yesterday = today - timedelta(days=1)
        for name, group, down in (("a", "alpha", 864), ("b", "alpha", 0), ("c", "", 43200)):
            row = dependency(name, group=group)
            day_bucket(row, yesterday, up=86400 - down, down=down)
        page = viewer.get("/").content.decode()
        alpha = page.split("<caption>alpha")[1].split("</caption>")[0]
        assert 'aria-label="alpha, last 90 days: 99.50% up, 1 day with downtime"' in alpha
        assert f'aria-label="{yesterday:%Y-%m-%d}: 99.50% up, down 14 min"' in alpha
        assert alpha.count('tabindex="0"') == 90
        # Each cell's id outlives a poll (htmx focuses it again) and is the group's alone.
        ids = re.findall(r'<li [^>]*id="([^"]+)"', page)
        assert len(set(ids)) == 180
        assert re.findall(r'<li [^>]*id="([^"]+)"', viewer.get("/", **HTMX).content.decode()) == ids
        ungrouped = page.split("<caption>ungrouped")[1].split("</caption>")[0]
        assert 'aria-label="ungrouped, last 90 days: 50.00% up, 1 day with downtime"' in ungrouped
        # Filtered, a group's bar is of the rows it shows.
        filtered = viewer.get("/?q=b").content.decode()
        assert 'aria-label="alpha, last 90 days: 100% up"' in filtered
        # By error budget, one list: one bar of every row.
        by_budget = viewer.get("/?sort=budget").content.decode()
        assert by_budget.count('<ol class="history-days"') == 1
        assert "last 90 days: 83.00% up, 1 day with downtime" in by_budget

    def test_recent_checks_draw_a_sparkline_and_a_bar(self, viewer) -> None:
        t = int(timezone.now().timestamp())
        recent = [[t - 60, "s", 40.0], [t - 30, "d", 90.0], [t, "f", None]]
        dependency("api", recent=recent)
        page = viewer.get("/").content.decode()
        assert '<svg class="sparkline"' in page
        assert 'aria-label="last 3 checks: 1 passed, 1 degraded, 1 failed"' in page

    def test_a_pool_is_a_group_with_its_best_head_and_each_nodes_lag(self, viewer) -> None:
        def node(name: str, lag: int | None) -> None:
            observations = {"pool_head": 19_000_123, "lag_blocks": lag} if lag is not None else {}
            dependency(
                name, kind="rpc", pool="mainnet", group="mainnet", last_observations=observations
            )

        node("infura", 0)
        node("alchemy", 7)
        node("silent", None)
        page = viewer.get("/").content.decode()
        assert '<small class="pool-head">pool mainnet: best head 19000123</small>' in page
        assert '<small class="pool">pool mainnet · at the head</small>' in page
        assert '<small class="pool">pool mainnet · 7 behind</small>' in page
        assert '<small class="pool">pool mainnet</small>' in page  # no answer: no lag

    def test_critical_is_a_neutral_tag_and_no_figures_read_once(self, viewer) -> None:
        dependency("payments", critical=True)
        page = viewer.get("/").content.decode()
        assert '<small class="tag critical">critical</small>' in page
        # No uptime in any window yet: one mark, not three.
        assert f'<td class="num uptime">{NO_VALUE}</td>' in page

    def test_every_group_has_the_same_columns(self, viewer) -> None:
        dependency("api", group="alpha", slo={"objective": 0.999, "window": 86400.0})
        dependency("mailer", group="beta")
        page = viewer.get("/").content.decode()
        colgroups = re.findall(r"<colgroup>.*?</colgroup>", page)
        assert len(colgroups) == 2
        assert colgroups[0] == colgroups[1]
        assert colgroups[0].count("<col ") == 9  # the error budget's column in both

    @pytest.mark.parametrize(
        ("query", "shown"),
        [
            ("status=down", ["mailer"]),
            ("kind=smtp", ["mailer"]),
            ("group=payments", ["payments-api", "payments-db"]),
            ("q=DB", ["payments-db"]),
            ("status=up&group=payments", ["payments-api", "payments-db"]),
        ],
    )
    def test_filters(self, viewer, query, shown) -> None:
        dependency("payments-api", group="payments")
        dependency("payments-db", group="payments")
        dependency("mailer", "down", kind="smtp")
        page = viewer.get(f"/?{query}").content.decode()
        assert sorted(names_in_order(page)) == shown
        assert "5 dependencies" not in page
        assert "3 dependencies:" in page

    @pytest.mark.parametrize(
        ("query", "reason"),
        [
            ("status=sideways", "status: Select a valid choice"),
            ("kind=ftp", "kind: Select a valid choice"),
        ],
    )
    def test_a_bad_filter_is_a_400_with_its_reason(self, viewer, query, reason) -> None:
        response = viewer.get(f"/?{query}")
        assert response.status_code == 400
        assert reason in response.content.decode()

    def test_htmx_gets_the_live_part_alone_and_it_keeps_polling_the_filtered_url(
        self, viewer, settings
    ) -> None:
        settings.SEAHEALTH_REFRESH_SECONDS = 7
        dependency("mailer", "down", kind="smtp")
        page = viewer.get("/?kind=smtp&q=mail", **HTMX).content.decode()
        assert page.lstrip().startswith(
            '<section id="live" hx-get="/?kind=smtp&amp;q=mail" hx-trigger="every 7s"'
        )
        assert "<html" not in page
        assert "mailer" in page

    def test_the_page_works_without_javascript(self, viewer) -> None:
        # A real form and real links: htmx only makes them faster.
        page = viewer.get("/").content.decode()
        assert '<form class="filters" method="get" action="/"' in page
        assert '<button type="submit">Apply</button>' in page
        assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page

    def test_an_empty_declaration_says_what_to_do(self, viewer) -> None:
        page = viewer.get("/").content.decode()
        assert "No dependencies declared: edit <code>dependencies.yaml</code>" in page

    def test_no_match_says_so_and_offers_all(self, viewer) -> None:
        dependency("api")
        page = viewer.get("/?q=zzz").content.decode()
        assert "No dependency matches these filters." in page

    @freeze_time(T0)
    @pytest.mark.parametrize("headers", [{}, HTMX])
    def test_says_when_the_prober_is_behind_whatever_the_filters(self, viewer, headers) -> None:
        now = timezone.now()
        dependency("fine", next_due_at=now + timedelta(seconds=30))
        dependency("waiting", next_due_at=now - timedelta(minutes=3, seconds=20))
        dependency("waiting-too", next_due_at=now - timedelta(seconds=40))
        page = viewer.get("/?q=fine", **headers).content.decode()
        assert names_in_order(page) == ["fine"]
        assert (
            '<p class="behind"><strong>The prober is behind:</strong> 2 dependencies overdue, '
            "the oldest by 3 min. Until it catches up, dependencies are probed less often than "
            "declared.</p>"
        ) in page

    @freeze_time(T0)
    def test_says_nothing_of_the_prober_while_it_keeps_up(self, viewer) -> None:
        now = timezone.now()
        dependency("fine", next_due_at=now + timedelta(seconds=30))
        dependency("just-due", next_due_at=now)  # the next tick claims it
        dependency("old", archived_at=now, next_due_at=now - timedelta(days=3))
        assert "prober is behind" not in viewer.get("/").content.decode()

    def test_archived_dependencies_are_not_listed(self, viewer) -> None:
        dependency("old", archived_at=timezone.now())
        assert "old" not in names_in_order(viewer.get("/").content.decode())

    @pytest.mark.parametrize("headers", [{}, HTMX])
    def test_the_query_count_does_not_grow_with_the_dependencies(self, viewer, headers) -> None:
        def queries_with(count: int) -> int:
            for n in range(count):
                row = dependency(
                    f"dep-{count}-{n}", "down" if n % 7 == 0 else "up", group=f"g{n % 4}"
                )
                Rollup.objects.create(
                    dependency=row,
                    period=Period.HOUR,
                    start=bucket_start(timezone.now(), Period.HOUR),
                    count=10,
                )
                day_bucket(row, bucket_start(timezone.now(), Period.DAY) - timedelta(days=n % 90))
            maintenance_reader.forget()  # each reads the windows in effect afresh
            history_bars.forget()  # and the groups' days before today
            live_state.forget()  # and renders the live part, not shares the last render
            with CaptureQueriesContext(connection) as captured:
                assert viewer.get("/", **headers).status_code == 200
            return len(captured)

        assert queries_with(10) == queries_with(200)


class TestBanners:
    """What the status page says above the dependencies about the prober and its file."""

    def test_states_the_prober_has_not_refreshed_are_said_to_be_old(self, viewer, settings):
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
        dependency("api", last_checked_at=T0 - timedelta(seconds=30))
        dependency("db", last_checked_at=T0)
        with freeze_time(T0 + timedelta(minutes=3)):
            page = viewer.get("/", **HTMX).content.decode()
        assert "The prober has recorded nothing for 3 min:</strong>" in page
        assert 'these states are from <time datetime="2026-11-23T10:00:00Z"' in page
        assert ">10:00 UTC</time>, not current." in page

    def test_no_stale_banner_while_the_prober_records(self, viewer, settings):
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
        dependency("api", last_checked_at=T0)
        with freeze_time(T0 + timedelta(minutes=1)):
            assert "alert-stale" not in viewer.get("/").content.decode()

    def test_a_refused_declaration_shows_each_problem_escaped(self, viewer):
        dependency("api")
        DeclarationState.objects.create(
            pk=DeclarationState.ROW_ID,
            valid=False,
            problems=["deps.yaml:4: entry 1 'api', field 'url': <script>alert(1)</script>"],
            synced_at=T0,
            refused_at=T0 + timedelta(hours=1),
        )
        page = viewer.get("/").content.decode()
        assert "dependencies.yaml was refused</strong> at <time" in page
        assert "(1 problem)." in page
        assert ">2026-11-23 10:00 UTC</time>." in page  # still probing what was accepted then
        assert "field &#x27;url&#x27;: &lt;script&gt;alert(1)&lt;/script&gt;</code>" in page
        assert "<script>alert(1)" not in page

    def test_no_declaration_banner_once_the_file_is_accepted(self, viewer):
        dependency("api")
        DeclarationState.objects.create(pk=DeclarationState.ROW_ID, valid=True, synced_at=T0)
        assert "alert-declaration" not in viewer.get("/").content.decode()


class TestDependencyPage:
    def test_shows_the_chart_timeline_observations_and_declaration(self, viewer) -> None:
        row = dependency(
            "infura",
            kind="rpc",
            spec={
                "url": "https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161",
                "headers": {},
                "chain_id": 1,
                "max_block_age": 60.0,
            },
            last_observations={"chain_id": 1, "block_number": 123, "syncing": False},
        )
        now = timezone.now()
        Rollup.objects.create(
            dependency=row,
            period=Period.MINUTE,
            start=bucket_start(now, Period.MINUTE),
            count=2,
            failures=1,
            latency_count=1,
            latency_sum=40,
            latency_min=40,
            latency_max=40,
            histogram=[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )
        BreakerTransition.objects.create(
            dependency=row,
            at=now,
            from_state="closed",
            to_state="open",
            reason="3 consecutive failures",
        )
        page = viewer.get("/dependencies/infura/?window=1h").content.decode()
        assert '<svg class="latency-chart"' in page
        assert "1 of 2 checks failed" in page
        assert "closed → open" in page
        assert "3 consecutive failures" in page
        assert '<th scope="row">block number</th><td>123</td>' in page
        assert "<td>false</td>" in page
        assert "url: https://mainnet.infura.io/v3/***" in page
        assert "9aa3d95b3bc440fa88ea12eaa4456161" not in page
        assert "max_block_age: 1m" in page
        assert "headers" not in page.split('<pre class="declaration">')[1].split("</pre>")[0]

    @pytest.mark.parametrize(
        ("kind", "spec", "shows_certificate_fields"),
        [
            ("http", {"url": "http://api.example.com/health"}, False),
            ("http", {"url": "https://api.example.com/health"}, True),
            ("http", {"url": "${API_URL}"}, True),  # cannot tell before it is resolved
            ("smtp", {"host": "mail.example.com", "port": 25, "tls": "none"}, False),
            ("smtp", {"host": "mail.example.com", "port": 587, "tls": "starttls"}, True),
            ("s3", {"bucket": "docs"}, True),  # AWS: HTTPS
            ("s3", {"bucket": "docs", "endpoint_url": "http://127.0.0.1:9000"}, False),
            ("rpc", {"url": "wss://node.example.com"}, True),
        ],
    )
    def test_the_declaration_shows_only_the_fields_that_apply(
        self, viewer, kind, spec, shows_certificate_fields
    ) -> None:
        dependency("api", kind=kind, spec=spec, ca_file="/etc/ssl/private-ca.pem")
        page = viewer.get("/dependencies/api/").content.decode()
        declared = page.split('<pre class="declaration">')[1].split("</pre>")[0]
        assert "interval: 30s" in declared
        assert ("cert_expiry_warn: 14d" in declared) is shows_certificate_fields
        assert ("ca_file: /etc/ssl/private-ca.pem" in declared) is shows_certificate_fields

    def test_shows_the_last_90_days(self, viewer) -> None:
        row = dependency("api")
        today = bucket_start(timezone.now(), Period.DAY)
        day_bucket(row, today - timedelta(days=3), up=86400 - 240, down=240)
        page = viewer.get("/dependencies/api/").content.decode()
        bar = page.split("<h2>Last 90 days</h2>")[1].split("</section>")[0]
        assert 'aria-label="api, last 90 days: 99.72% up, 1 day with downtime"' in bar
        day = today - timedelta(days=3)
        assert f'<li class="day-down" tabindex="0" aria-label="{day:%Y-%m-%d}: 99.72% up' in bar
        assert bar.count('class="day-none"') == 89

    @pytest.mark.parametrize(
        ("oldest", "period", "window"),
        [
            (None, None, "1h"),  # nothing yet: the shortest
            (timedelta(minutes=2), Period.MINUTE, "1h"),
            (timedelta(minutes=58), Period.MINUTE, "1h"),
            (timedelta(minutes=61), Period.MINUTE, "24h"),
            (timedelta(hours=23), Period.MINUTE, "24h"),
            (timedelta(hours=25), Period.MINUTE, "7d"),
            # Minute buckets pruned: hour buckets say how far back the data goes.
            (timedelta(hours=30), Period.HOUR, "7d"),
            (timedelta(days=3), Period.HOUR, "7d"),
            (timedelta(days=8), Period.HOUR, "30d"),
            (timedelta(days=200), Period.HOUR, "30d"),
        ],
    )
    def test_the_chart_window_is_the_shortest_that_holds_the_data(
        self, viewer, oldest, period, window
    ) -> None:
        row = dependency("api")
        now = T0 + timedelta(minutes=30)
        if oldest is not None:
            for moment in (now - oldest, now):  # the oldest bucket, and one holding now
                Rollup.objects.create(
                    dependency=row, period=period, start=bucket_start(moment, period), count=1
                )
        with freeze_time(now):
            page = viewer.get("/dependencies/api/").content.decode()
        assert f'<a href="?window={window}" aria-current="page">' in page
        assert f'aria-label="latency over the last {window}: p50 and p95"' in page

    def test_an_explicit_window_is_kept(self, viewer) -> None:
        dependency("api")
        page = viewer.get("/dependencies/api/?window=30d").content.decode()
        assert '<a href="?window=30d" aria-current="page">' in page
        assert re.search(r'text-anchor="end">\w{3} \d+ \d\d:\d\d UTC</text>', page)

    def test_a_bad_window_is_a_400_with_its_reason(self, viewer) -> None:
        dependency("api")
        response = viewer.get("/dependencies/api/?window=2y")
        assert response.status_code == 400
        assert "one of 1h, 24h, 7d, 30d" in response.content.decode()

    def test_an_unknown_name_is_a_404(self, viewer) -> None:
        assert viewer.get("/dependencies/nope/").status_code == 404

    def test_an_archived_dependency_keeps_a_readable_page(self, viewer) -> None:
        dependency("old", archived_at=timezone.now() - timedelta(days=2))
        page = viewer.get("/dependencies/old/").content.decode()
        assert "Archived <time" in page
        assert "Its history stays readable here." in page

    def test_results_are_paginated(self, viewer) -> None:
        row = dependency("api")
        now = timezone.now()
        ProbeResult.objects.bulk_create(
            ProbeResult(
                dependency=row,
                checked_at=now - timedelta(seconds=n),
                result="success",
                latency_ms=n,
            )
            for n in range(120)
        )
        first = viewer.get("/dependencies/api/").content.decode()
        assert "page 1 of 3" in first
        assert "older →" in first
        third = viewer.get("/dependencies/api/?page=3").content.decode()
        assert "page 3 of 3" in third
        assert third.count('class="result-success"') == 20


class TestLargeGroups:
    """A group of more than board.COLLAPSE_OVER rows shows its problems and a line for the
    rest, with a link (no JavaScript needed) to every row."""

    @staticmethod
    def group_of(size: int, down: int = 0, group: str = "payments") -> None:
        for n in range(size):
            dependency(f"{group}-{n:03}", "down" if n < down else "up", group=group)

    def test_a_large_group_shows_its_problems_and_counts_the_rest(self, viewer) -> None:
        self.group_of(60, down=3)
        self.group_of(5, group="mail")
        page = viewer.get("/").content.decode()
        assert names_in_order(page) == [
            "payments-000",
            "payments-001",
            "payments-002",
            *(f"mail-{n:03}" for n in range(5)),
        ]
        assert "payments <small>60</small>" in page
        assert (
            '<tbody class="collapsed"><tr><td colspan="8">'
            '<a href="?group=payments&amp;expand=1">57 up, not shown: show all 60</a>'
        ) in page
        assert page.count('class="collapsed"') == 1  # the small group shows every row

    def test_a_group_mostly_down_shows_its_problems_alone_too(self, viewer) -> None:
        self.group_of(60, down=40)
        page = viewer.get("/").content.decode()
        assert names_in_order(page) == [f"payments-{n:03}" for n in range(40)]
        assert "20 up, not shown: show all 60" in page

    def test_its_link_shows_every_row_the_filters_kept(self, viewer) -> None:
        self.group_of(60, down=3)
        page = viewer.get("/?kind=http&q=pay").content.decode()
        assert '<a href="?kind=http&amp;group=payments&amp;q=pay&amp;expand=1">' in page
        page = viewer.get("/?kind=http&group=payments&q=pay&expand=1").content.decode()
        assert len(names_in_order(page)) == 60
        assert 'class="collapsed"' not in page

    def test_a_group_all_up_is_one_line(self, viewer) -> None:
        self.group_of(60)
        page = viewer.get("/", **HTMX).content.decode()
        assert names_in_order(page) == []
        assert '<a href="?group=payments&amp;expand=1">60 up: show all 60</a>' in page
        assert "No dependency matches" not in page

    def test_acknowledged_and_in_maintenance_rows_stay_shown(self, viewer) -> None:
        self.group_of(60)
        now = timezone.now()
        dependency("payments-acked", group="payments", acknowledged_at=now, acknowledged_by="ops")
        MaintenanceWindow.objects.create(
            name="upgrade",
            source=WindowSource.API,
            match={"name": ["payments-001"]},
            start=now - timedelta(minutes=1),
            end=now + timedelta(hours=1),
        )
        maintenance_reader.forget()
        page = viewer.get("/").content.decode()
        assert sorted(names_in_order(page)) == ["payments-001", "payments-acked"]
        assert "59 up, not shown: show all 61" in page

    @pytest.mark.parametrize(
        ("match", "shown"),
        [
            ({"name": ["payments-002", "payments-004"]}, ["payments-002", "payments-004"]),
            ({"critical": True}, ["payments-000", "payments-003"]),
            ({"critical": False, "name": ["payments-000", "payments-001"]}, ["payments-001"]),
            ({"group": ["mail"]}, []),
            ({"group": ["payments"], "name": ["payments-005"]}, ["payments-005"]),
        ],
    )
    def test_a_window_shows_the_rows_it_matches_as_maintenance_reads_them(
        self, viewer, match, shown
    ) -> None:
        for n in range(60):
            dependency(f"payments-{n:03}", group="payments", critical=n in (0, 3))
        now = timezone.now()
        MaintenanceWindow.objects.create(
            name="upgrade",
            source=WindowSource.API,
            match=match,
            start=now - timedelta(minutes=1),
            end=now + timedelta(hours=1),
        )
        maintenance_reader.forget()
        assert sorted(names_in_order(viewer.get("/").content.decode())) == shown

    @pytest.mark.parametrize("headers", [{}, HTMX])
    def test_the_query_count_is_the_same_collapsed_or_not(self, viewer, headers) -> None:
        def queries_with(count: int) -> int:
            for n in range(count):
                dependency(f"dep-{count}-{n}", "down" if n % 7 == 0 else "up", group=f"g{n % 2}")
            maintenance_reader.forget()
            history_bars.forget()
            live_state.forget()
            with CaptureQueriesContext(connection) as captured:
                page = viewer.get("/", **headers).content.decode()
            assert ('class="collapsed"' in page) == (count > 100)
            return len(captured)

        assert queries_with(10) == queries_with(200)

"""The status page's polls: an unchanged live part costs one query and swaps nothing; a
change, or the moment what it shows ages, renders it again, once for every viewer of the
same view for half a refresh period."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from dashboard import live_state
from probes import declaration_state, maintenance_reader
from probes.models import MaintenanceWindow, StateVersion, WindowSource
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# How long a render is shared with the other viewers of its view, at the default refresh.
SHARED = timedelta(seconds=2.5)


def stamp_of(page: str) -> str:
    found = re.search(r"""hx-headers='\{"X-Seahealth-Shown": "(\d+\.\d+)"\}'""", page)
    assert found, "the live part carries no stamp"
    return found.group(1)


def poll(client, stamp: str, path: str = "/"):
    return client.get(path, HTTP_X_SEAHEALTH_SHOWN=stamp, **HTMX)


@pytest.fixture
def public(client, settings):
    """Anyone reads the page: no session nor user to look up, the poll's own queries alone."""
    settings.SEAHEALTH_PUBLIC_DASHBOARD = True
    return client


@freeze_time(T0)
def test_an_unchanged_poll_is_a_204_after_one_query(public) -> None:
    make_dependency("api", status="up", last_checked_at=T0)
    stamp = stamp_of(public.get("/", **HTMX).content.decode())
    with CaptureQueriesContext(connection) as captured:
        answer = poll(public, stamp)
    assert answer.status_code == 204
    assert answer.content == b""
    assert answer["Cache-Control"] == "no-store"
    assert [query["sql"] for query in captured] == [
        "SELECT token FROM probes_stateversion WHERE id = 1"
    ]


@freeze_time(T0)
def test_the_whole_page_and_the_partial_carry_the_same_stamp(public) -> None:
    make_dependency("api", status="up", last_checked_at=T0)
    assert stamp_of(public.get("/").content.decode()) == stamp_of(
        public.get("/", **HTMX).content.decode()
    )


def test_a_state_written_since_renders_the_live_part(public) -> None:
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0)
        stamp = stamp_of(public.get("/", **HTMX).content.decode())
        make_dependency("mailer", status="down", last_checked_at=T0)  # bumps the token
    with freeze_time(T0 + SHARED):
        answer = poll(public, stamp)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "mailer" in page
    assert stamp_of(page) != stamp
    with freeze_time(T0 + SHARED * 2):
        assert poll(public, stamp_of(page)).status_code == 204


def test_viewers_of_one_view_share_a_render_for_half_a_refresh_period(public, settings) -> None:
    settings.SEAHEALTH_REFRESH_SECONDS = 4
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0)
        first = public.get("/", **HTMX).content
        make_dependency("mailer", status="down", last_checked_at=T0)
    with freeze_time(T0 + timedelta(seconds=1.9)):
        with CaptureQueriesContext(connection) as captured:
            answer = poll(public, "1.1")  # another tab's stamp, long expired
        assert (answer.status_code, answer.content) == (200, first)
        assert len(captured) == 0  # no board built
        # The tab that rendered it has it already.
        assert poll(public, stamp_of(first.decode())).status_code == 204
        # Another view is rendered for itself.
        assert "mailer" in public.get("/?kind=http", **HTMX).content.decode()
    with freeze_time(T0 + timedelta(seconds=2)):
        answer = poll(public, stamp_of(first.decode()))
        assert answer.status_code == 200
        assert "mailer" in answer.content.decode()


def test_a_live_part_is_rendered_again_a_minute_on_at_the_latest(public) -> None:
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0, interval=timedelta(minutes=5))
        stamp = stamp_of(public.get("/", **HTMX).content.decode())
    with freeze_time(T0 + timedelta(seconds=59)):
        assert poll(public, stamp).status_code == 204
    with freeze_time(T0 + live_state.RENDERED_AT_MOST):
        assert poll(public, stamp).status_code == 200


def test_the_prober_falling_silent_renders_its_banner_though_nothing_was_written(
    public, settings
) -> None:
    settings.SEAHEALTH_READY_MAX_AGE = timedelta(seconds=20)
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0)
        stamp = stamp_of(public.get("/", **HTMX).content.decode())
    with freeze_time(T0 + timedelta(seconds=19)):
        assert poll(public, stamp).status_code == 204
    with freeze_time(T0 + timedelta(seconds=21)):
        answer = poll(public, stamp)
        assert answer.status_code == 200
        assert "The prober has recorded nothing for 21 s" in answer.content.decode()
    # Its age reads differently every second while under a minute (rendered again once
    # the render is no longer shared).
    with freeze_time(T0 + timedelta(seconds=21) + SHARED):
        answer = poll(public, stamp_of(answer.content.decode()))
        assert answer.status_code == 200
        assert "The prober has recorded nothing for 23 s" in answer.content.decode()


def test_a_maintenance_window_starting_renders_the_live_part(public) -> None:
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0, interval=timedelta(minutes=5))
        MaintenanceWindow.objects.create(
            name="upgrade",
            source=WindowSource.API,
            match={"name": ["api"]},
            start=T0 + timedelta(seconds=30),
            end=T0 + timedelta(hours=1),
        )
        StateVersion.bump()
        maintenance_reader.forget()
        page = public.get("/", **HTMX).content.decode()
        assert "in maintenance" not in page
        stamp = stamp_of(page)
    with freeze_time(T0 + timedelta(seconds=29)):
        assert poll(public, stamp).status_code == 204
    with freeze_time(T0 + timedelta(seconds=30)):
        answer = poll(public, stamp)
        assert answer.status_code == 200
        assert "in maintenance until" in answer.content.decode()


def test_a_refused_declaration_renders_its_banner(public) -> None:
    with freeze_time(T0):
        make_dependency("api", status="up", last_checked_at=T0)
        stamp = stamp_of(public.get("/", **HTMX).content.decode())
        declaration_state.refused(["deps.yaml:4: entry 1 'api', field 'kind': unknown kind"], T0)
    with freeze_time(T0 + SHARED):
        answer = poll(public, stamp)
    assert answer.status_code == 200
    assert "dependencies.yaml was refused" in answer.content.decode()


@freeze_time(T0)
@pytest.mark.parametrize(
    ("stamp", "headers"),
    [
        ("", HTMX),  # a filter change sends none: always rendered
        ("garbage", HTMX),
        ("12.notatime", HTMX),
        (None, {}),  # the whole page, never a 204
    ],
    ids=["none", "garbage", "bad-time", "not-htmx"],
)
def test_anything_but_a_current_stamp_from_htmx_renders(public, stamp, headers) -> None:
    make_dependency("api", status="up", last_checked_at=T0)
    current = stamp_of(public.get("/", **HTMX).content.decode())
    extra = {"HTTP_X_SEAHEALTH_SHOWN": current if stamp is None else stamp}
    assert public.get("/?kind=http", **headers, **extra).status_code == 200


@freeze_time(T0)
def test_an_unchanged_poll_still_asks_for_a_login(client) -> None:
    make_dependency("api", status="up", last_checked_at=T0)
    answer = poll(client, f"{StateVersion.current()}.{int(T0.timestamp()) + 60}")
    assert answer.status_code == 200
    assert answer["HX-Redirect"].startswith("/accounts/login/")


@freeze_time(T0)
def test_before_any_state_every_poll_renders(public) -> None:
    page = public.get("/", **HTMX).content.decode()
    assert "X-Seahealth-Shown" not in page
    # Shared with the next viewer, stampless as it is: never a 204 for want of a stamp.
    answer = public.get("/", **HTMX)
    assert (answer.status_code, answer.content.decode()) == (200, page)

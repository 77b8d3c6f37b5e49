"""The admin shows channels, routes and messages (with their attempts), changes none of them,
and shows no secret."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote

from notifications.models import MessageState, Route
from tests.factories import T0, make_dependency
from tests.notifications.rows import make_attempt, make_channel, make_event, make_message

pytestmark = pytest.mark.django_db

KEY = "9aa3d95b3bc440fa88ea12eaa4456161"


@pytest.fixture
def rows() -> dict[str, str]:
    """The id of a row of each model, by model name."""
    hook = make_channel(config={"url": f"https://hooks.example.com/v3/{KEY}", "secret": "${S}"})
    route = Route.objects.create(
        position=0,
        match={"critical": True, "group": ["payments"]},
        channels=["ops-hook"],
        on=["down", "up"],
        notify_after=timedelta(seconds=30),
    )
    message = make_message(hook, MessageState.DEAD, T0, (make_event(make_dependency("api")),))
    make_attempt(message, T0, "failed", status_code=503, error="HTTP 503 Service Unavailable")
    make_attempt(message, T0 + timedelta(minutes=1), "dead", status_code=410, error="HTTP 410 Gone")
    return {"channel": str(hook.pk), "route": str(route.pk), "message": quote(message.pk)}


@pytest.mark.parametrize("model", ["channel", "route", "message"])
def test_lists_and_shows_each_and_changes_none(admin_client, rows, model) -> None:
    base = f"/admin/notifications/{model}/"
    assert admin_client.get(base).status_code == 200
    assert admin_client.get(f"{base}{rows[model]}/change/").status_code == 200
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}{rows[model]}/delete/").status_code == 403


def test_a_channel_shows_its_config_redacted(admin_client, rows) -> None:
    listed = admin_client.get("/admin/notifications/channel/").content.decode()
    shown = admin_client.get(f"/admin/notifications/channel/{rows['channel']}/change/")
    page = shown.content.decode()
    assert "https://hooks.example.com/v3/***" in listed
    assert "https://hooks.example.com/v3/***" in page
    assert "${S}" in page
    assert KEY not in listed + page


def test_a_route_shows_what_it_matches(admin_client, rows) -> None:
    page = admin_client.get("/admin/notifications/route/").content.decode()
    assert "critical group=payments" in page


def test_a_message_shows_every_attempt_newest_first(admin_client, rows) -> None:
    page = admin_client.get(f"/admin/notifications/message/{rows['message']}/change/")
    text = page.content.decode()
    assert text.index("HTTP 410 Gone") < text.index("HTTP 503 Service Unavailable")
    [attempts] = page.context["inline_admin_formsets"]
    assert (attempts.has_add_permission, attempts.has_change_permission) == (False, False)
    assert not attempts.has_delete_permission


def test_messages_filter_by_state(admin_client, rows) -> None:
    make_message(make_channel("other"), MessageState.SENT, T0, id="msg_sent_one")
    dead = admin_client.get("/admin/notifications/message/?state__exact=dead").content.decode()
    assert rows["message"] in dead
    assert "msg_sent_one" not in dead

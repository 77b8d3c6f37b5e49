"""The Celery task and its place in beat's schedule."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from notifications.models import Message
from notifications.tasks import send_notifications
from tests.notifications.test_sender import declare, goes_down
from tests.servers import LocalHTTPServer, Route


@pytest.mark.django_db
def test_the_task_sends_what_is_due(http_server: LocalHTTPServer, monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "task-secret")
    http_server.routes["/hook"] = Route(200)
    declare(http_server.url("/hook"))
    goes_down()

    assert send_notifications() == {"sent": 1}
    assert [headers["webhook-id"] for _, _, headers in http_server.requests] == [
        Message.objects.get().id
    ]


def test_beat_sends_the_task_every_two_seconds_and_only_the_newest_runs() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["send-notifications"]
    assert entry["task"] == send_notifications.name == "notifications.tasks.send_notifications"
    assert entry["schedule"] == 2.0
    assert entry["options"]["expires"] <= 10.0

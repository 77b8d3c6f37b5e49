"""The Celery app for the distributed prober: `celery -A seahealth worker` and `... beat`."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seahealth.settings")

app = Celery("seahealth")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


@beat_init.connect
def sync_declaration_on_beat_start(**kwargs: object) -> None:
    """Beat owns the schedule, so it loads dependencies.yaml when it starts."""
    import django
    from django.apps import apps
    from django.db import connections

    # Celery's Django fixup has set Django up by now. Setting it up again would re-apply
    # LOGGING after Celery pointed sys.stderr at its logger, and silence beat's whole log.
    if not apps.ready:
        django.setup()
    from probes.declaration_watcher import DeclarationWatcher

    try:
        DeclarationWatcher.from_settings().sync_if_changed()
    finally:
        # Beat does not touch the database again: hold no idle connection for its lifetime.
        connections.close_all()

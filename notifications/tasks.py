"""Celery's sender: beat sends send_notifications every two seconds (CELERY_BEAT_SCHEDULE);
any worker runs it, and two at once share the work (claims skip what another holds)."""

from __future__ import annotations

from celery import shared_task

from notifications import sender


@shared_task(ignore_result=True)
def send_notifications() -> dict[str, int]:
    """Send what is due; the outcomes counted."""
    return dict(sender.send_due())

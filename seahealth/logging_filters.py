"""Logging filters named in settings.LOGGING (imported before the apps are ready: no models)."""

from __future__ import annotations

import logging


class HealthAnswersFilter(logging.Filter):
    """Drops django.request's error line for a 503 that a health endpoint meant to give."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path", "")
        return not (getattr(record, "status_code", None) == 503 and path.startswith("/health/"))

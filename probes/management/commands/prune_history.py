from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from probes import retention
from probes.durations import format_duration


class Command(BaseCommand):
    help = (
        "Delete probe results and minute rollups older than SEAHEALTH_RAW_RETENTION, and hour "
        "and day rollups older than SEAHEALTH_ROLLUP_RETENTION, notifications finished longer "
        "ago than SEAHEALTH_NOTIFICATION_RETENTION, in short batches, and print "
        "how many rows went. runprobes and Celery beat do this every ten minutes; run it by "
        "hand, or from cron when probing with `runprobes --once`."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        kept = retention.kept()
        for kind, deleted in retention.prune().items():
            age = format_duration(kept[kind].total_seconds())
            self.stdout.write(f"deleted {deleted} {kind.replace('_', ' ')} older than {age}")

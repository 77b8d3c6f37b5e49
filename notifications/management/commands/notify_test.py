from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications import display, sender
from notifications.models import Channel


class Command(BaseCommand):
    help = (
        "Send a seahealth.test message to a declared channel now, once (no retry), and print "
        "what happened; it shows on /notifications/ too. Exit code 0 when the receiver took "
        "it, 1 otherwise."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help="the channel's name, as dependencies.yaml declares it")

    def handle(self, *args: Any, channel: str, **options: Any) -> None:
        row = _declared(channel)
        self.stdout.write(
            f"{row.name} ({row.type}): sending a seahealth.test message to "
            f"{display.target(row.config)}"
        )
        tried = sender.send_test(row)
        reply, message = tried.reply, tried.claimed.outgoing.id
        took = f"in {tried.duration_ms:.0f} ms"
        if reply.sent:
            code = f" (HTTP {reply.status_code})" if reply.status_code else ""
            self.stdout.write(f"{row.name}: sent{code} {took}, message {message}")
            return
        self.stdout.write(f"{row.name}: failed: {reply.error} ({took}, message {message})")
        raise SystemExit(1)


def _declared(name: str) -> Channel:
    declared = list(Channel.objects.filter(archived_at__isnull=True).values_list("name", flat=True))
    listed = ", ".join(declared) or (
        "none: declare them under `notifications: channels:` in dependencies.yaml, then sync"
    )
    row = Channel.objects.filter(name=name).first()
    if row is None:
        raise CommandError(f"no channel is named {name!r} (declared: {listed})")
    if row.archived_at is not None:
        raise CommandError(
            f"channel {name!r} is archived: dependencies.yaml no longer declares it "
            f"(declared: {listed})"
        )
    return row

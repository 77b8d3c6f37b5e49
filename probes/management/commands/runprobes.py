from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from probes.declaration_watcher import DeclarationWatcher
from probes.embedded import EmbeddedProber
from probes.models import Dependency


class Command(BaseCommand):
    help = (
        "Run the embedded prober: sync dependencies.yaml (again whenever it changes), then "
        "claim, probe and record due dependencies every tick until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="probe everything that is due now, record it, send the notifications due, and "
            "exit (tests, cron)",
        )

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        watcher = DeclarationWatcher.from_settings()
        prober = EmbeddedProber(
            watcher=watcher,
            tick=settings.SEAHEALTH_TICK_SECONDS,
            claim_limit=settings.SEAHEALTH_CLAIM_LIMIT,
            max_in_flight=settings.SEAHEALTH_MAX_IN_FLIGHT,
        )
        if not once:
            watcher.sync_if_changed()
            active = Dependency.objects.active().count()
            noun = "dependency" if active == 1 else "dependencies"
            self.stdout.write(
                f"runprobes: {active} {noun} from {watcher.path}, every "
                f"{settings.SEAHEALTH_TICK_SECONDS:g}s; Ctrl-C stops it within 2s (probes "
                "still in flight after 1s are abandoned)"
            )
        asyncio.run(self._run(prober, once))
        if once and watcher.last_problem:
            raise CommandError(f"{watcher.path} was refused; probed what the database held")

    async def _run(self, prober: EmbeddedProber, once: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await prober.run(stop, once=once)

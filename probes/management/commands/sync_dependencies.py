from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from probes.declarations import DeclarationError, load_document
from probes.sync import sync_declaration


class Command(BaseCommand):
    help = (
        "Sync dependencies.yaml into the database now: create and update what it declares, "
        "archive what it no longer declares. A file with any problem changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, help="default: $SEAHEALTH_DEPENDENCIES")

    def handle(self, *args: Any, path: Path | None, **options: Any) -> None:
        path = path or Path(settings.SEAHEALTH_DEPENDENCIES)
        try:
            declaration = load_document(path)
        except DeclarationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{path}: {sync_declaration(declaration)}")

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

NAME = PASSWORD = "demo"  # noqa: S105 - the demo account, refused without DEBUG


class Command(BaseCommand):
    help = (
        "For make run: create the user demo (password demo, an administrator) when there is "
        "no user at all yet. Refuses when DEBUG is off: never a known password in production."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("DEBUG is off: create a real user with createsuperuser instead")
        users = get_user_model().objects
        if users.exists():
            self.stdout.write(
                "Users exist already: log in as one of them (createsuperuser adds one)."
            )
            return
        users.create_superuser(NAME, password=PASSWORD)
        self.stdout.write(f"Created the demo user: log in as {NAME} / {PASSWORD}.")

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

NAME = "demo"


class Command(BaseCommand):
    help = (
        "For make run: when there is no user at all yet, create the administrator demo with a "
        "random password, and print it. Never a known password, so a dashboard started this "
        "way is not open to whoever guesses one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if users.exists():
            self.stdout.write(
                "Users exist already: log in as one of them "
                "(python manage.py changepassword NAME sets a new password)."
            )
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(NAME, password=password)
        self.stdout.write(f"Created the user {NAME}: log in as {NAME} / {password}")

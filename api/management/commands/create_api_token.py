"""Makes an API token and prints its value, once; or revokes one (`--revoke NAME`)."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import tokens
from api.models import ApiToken, Scope

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class Command(BaseCommand):
    help = (
        "Make an API token NAME with --scope read|write and print it (only its hash is kept: "
        "it cannot be shown again), or revoke the token NAME with --revoke."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who or what the token is for, e.g. ci-deploy")
        parser.add_argument("--scope", choices=[s.value for s in Scope])
        parser.add_argument("--revoke", action="store_true", help="revoke the token NAME")

    def handle(
        self, *args: Any, name: str, scope: str | None, revoke: bool, **options: Any
    ) -> None:
        if revoke:
            token = ApiToken.objects.filter(name=name).first()
            if token is None:
                raise CommandError(f"no token named {name!r}")
            if not tokens.revoke([token], "command", "CLI", "create_api_token --revoke"):
                raise CommandError(f"the token {name!r} was revoked already")
            self.stdout.write(f"revoked the token {name!r}")
            return
        if scope is None:
            raise CommandError("--scope read|write is needed to make a token")
        if not NAME.fullmatch(name):
            raise CommandError("NAME: letters, digits, '.', '_' and '-', up to 100")
        try:
            token, value = tokens.create(name, Scope(scope))
        except tokens.TokenError as exc:
            raise CommandError(str(exc)) from exc
        # The value alone on stdout (a script reads it); the warning on stderr.
        self.stdout.write(value)
        self.stderr.write(f"{token.scope} token {name!r}: shown once, only its hash is kept")

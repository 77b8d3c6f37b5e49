"""manage.py heartbeat_token NAME: make a heartbeat's ping token and show it once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inbound import tokens
from probes.dependency_spec import target_of
from probes.models import Dependency


class Command(BaseCommand):
    help = (
        "Make a new ping token for the heartbeat NAME (the old one stops working) and print "
        "it: it is shown once, and stored only hashed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: object, name: str, **options: object) -> None:
        row = Dependency.objects.active().filter(name=name).first()
        if row is None:
            raise CommandError(f"no dependency named {name!r} (sync the declaration first)")
        if row.kind != "heartbeat":
            raise CommandError(f"{name} is a {row.kind} dependency, not a heartbeat")
        declared = getattr(target_of(row.kind, row.spec), "token", "")
        if declared:
            raise CommandError(f"{name} takes its token from {declared} in the declaration")
        token = tokens.new_token()
        tokens.store(row, token)
        self.stdout.write(f"{token}\n")
        self.stderr.write(
            f"the ping token of {name}, shown this once; in a crontab:\n"
            f"  0 3 * * * /usr/local/bin/backup && curl -fsS -m 10 --retry 3 "
            f"https://<seahealth>/ping/{token}\n"
        )

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from probes import reports
from probes.models import Dependency

FORMATS = ("text", "csv", "json")


class Command(BaseCommand):
    help = (
        "Print a month's report: per dependency, availability, the SLO met or not and the "
        "share of its error budget used, incidents (count, longest, time down), maintenance "
        "left out and time not measured. Months run midnight to midnight in "
        "SEAHEALTH_REPORT_TIMEZONE (UTC unless set). Lists the active dependencies and those "
        "archived during or after the month."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--month", help="YYYY-MM, such as 2026-11; default: the last whole month"
        )
        parser.add_argument("--format", choices=FORMATS, default="text", dest="output")
        parser.add_argument("--dependency", help="only this one (archived ones too)")

    def handle(
        self, *args: Any, month: str | None, output: str, dependency: str | None, **options: Any
    ) -> None:
        zone = reports.report_zone()
        try:
            chosen = reports.read_month(month, zone) if month else reports.last_whole_month(zone)
        except reports.BadMonth as exc:
            raise CommandError(f"--month: {exc}") from exc
        rows = None
        if dependency is not None:
            rows = Dependency.objects.filter(name=dependency)
            if not rows.exists():
                raise CommandError(f"--dependency: no dependency is named {dependency!r}")
        found = reports.compute(chosen, zone, rows)
        if output == "json":
            records = [figures.record() for figures in found]
            self.stdout.write(json.dumps(records, indent=2))
        elif output == "csv":
            self._csv(found)
        else:
            self._text(chosen, zone.key, found)

    def _csv(self, found: list[reports.MonthFigures]) -> None:
        writer = csv.DictWriter(self.stdout, fieldnames=reports.RECORD_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(figures.record() for figures in found)

    def _text(self, month: reports.Month, zone: str, found: list[reports.MonthFigures]) -> None:
        self.stdout.write(f"{month} ({zone})")
        if not found:
            self.stdout.write("No dependency was declared during the month.")
            return
        columns = ["dependency", *reports.readable(found[0])]
        rows = [[column.upper() for column in columns]]
        for figures in found:
            name = figures.dependency + (" (archived)" if figures.archived else "")
            if figures.partly_measured:
                name += " *"
            rows.append([name, *reports.readable(figures).values()])
        widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        if any(figures.partly_measured for figures in found):
            self.stdout.write(
                f"* measured over less than {reports.FULL_COVERAGE:.0%} of the month: the rest "
                "was in maintenance, or not measured (the prober not running, or the "
                "dependency not declared yet)"
            )

"""The `maintenance:` section: windows read, validated with file:line problems, and synced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from probes.declarations import DeclarationError, parse_document
from probes.maintenance import Window
from probes.models import MaintenanceWindow, StateVersion, WindowSource
from probes.sync import sync_declaration
from tests.probes.test_commands_declarations import check, table

DEPENDENCIES = """\
dependencies:
  - {name: payments-db, kind: http, url: "https://db.example.com/", group: payments}
  - {name: documents, kind: http, url: "https://docs.example.com/", critical: true}
"""
WINDOWS = """\
maintenance:
  - name: payments-db-upgrade
    match: {group: payments}
    start: 2026-12-05T02:00:00Z
    end: 2026-12-05T04:00:00+01:00
  - name: weekly-backup
    match: {names: [documents]}
    schedule:
      rrule: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0"
      duration: 1h
      timezone: Europe/Berlin
"""


def windows(text: str) -> tuple[Window, ...]:
    return parse_document(DEPENDENCIES + text, "dependencies.yaml").maintenance


def problems(window: str) -> list[str]:
    """The problems of a file declaring one window (`window`: its fields as YAML lines)."""
    text = "maintenance:\n  - name: w\n" + "".join(f"    {line}\n" for line in window.splitlines())
    try:
        windows(text)
    except DeclarationError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def test_reads_one_off_and_recurring_windows() -> None:
    one_off, recurring = windows(WINDOWS)
    assert one_off == Window(
        "payments-db-upgrade",
        {"group": ["payments"]},
        start=datetime(2026, 12, 5, 2, tzinfo=UTC),
        end=datetime(2026, 12, 5, 3, tzinfo=UTC),  # 04:00+01:00 is 03:00Z
    )
    assert recurring == Window(
        "weekly-backup",
        {"name": ["documents"]},
        rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0",
        duration=timedelta(hours=1),
        timezone="Europe/Berlin",
    )


GOOD_MATCH = "match: {critical: true}"
GOOD_SPAN = "start: 2026-12-05T02:00:00Z\nend: 2026-12-05T03:00:00Z"


def every(rule: str, duration: str = "duration: 1h, ", zone: str = "UTC") -> str:
    return f'{GOOD_MATCH}\nschedule: {{rrule: "{rule}", {duration}timezone: {zone}}}'


@pytest.mark.parametrize(
    ("window", "problem"),
    [
        (f"match: {{group: nope}}\n{GOOD_SPAN}", "matches no declared dependency"),
        (f"match: {{names: [documentz]}}\n{GOOD_SPAN}", "matches no declared dependency"),
        (f"match: {{}}\n{GOOD_SPAN}", "matches everything"),
        (GOOD_SPAN, "matches everything"),
        (f"match: {{nmes: [a]}}\n{GOOD_SPAN}", "field 'nmes': unknown field"),
        (
            f"{GOOD_MATCH}\nstart: 2026-12-05T03:00:00Z\nend: 2026-12-05T02:00:00Z",
            "field 'end': must be after the start",
        ),
        (
            f"{GOOD_MATCH}\nstart: 2026-12-05T03:00:00Z\nend: 2026-12-05T03:00:00Z",
            "must be after the start",
        ),
        (f"{GOOD_MATCH}\nstart: 2026-12-05 02:00\nend: 2026-12-05T03:00:00Z", "needs its offset"),
        (f"{GOOD_MATCH}\nstart: tomorrow\nend: 2026-12-05T03:00:00Z", "is not a date and time"),
        (f"{GOOD_MATCH}\nstart: 2026-12-05T02:00:00Z", "field 'end': required"),
        (
            every("FREQ=WEEKLY;BYDAY=XX"),
            "field 'rrule': not an RFC 5545 RRULE",
        ),
        (
            every("FREQ=MINUTELY"),
            "FREQ must be one of",
        ),
        (
            every("FREQ=DAILY", zone="Mars/Olympus"),
            "field 'timezone': 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            every("FREQ=DAILY", "duration: soon, "),
            "field 'duration'",
        ),
        (
            every("FREQ=DAILY", ""),
            "field 'duration': required",
        ),
        (
            f"{GOOD_SPAN}\n" + every("FREQ=DAILY"),
            "not both",
        ),
    ],
)
def test_refuses_a_bad_window_naming_its_line(window: str, problem: str) -> None:
    found = problems(window)
    assert len(found) == 1, found
    assert problem in found[0]
    assert found[0].startswith("dependencies.yaml:")
    assert "maintenance, window 1" in found[0]


def test_refuses_two_windows_of_one_name() -> None:
    text = WINDOWS + WINDOWS.removeprefix("maintenance:\n")
    with pytest.raises(DeclarationError, match="already declared by another window"):
        windows(text)


pytestmark = pytest.mark.django_db


def rows() -> dict[str, tuple]:
    return {
        w.name: (w.source, w.archived_at is not None, w.rrule, w.start)
        for w in MaintenanceWindow.objects.all()
    }


def test_sync_writes_archives_and_restores_the_declared_windows_only() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    MaintenanceWindow.objects.create(
        name="weekly-backup",
        source=WindowSource.API,
        match={"name": ["documents"]},
        start=t0,
        end=t0 + timedelta(hours=1),
    )
    report = sync_declaration(parse_document(DEPENDENCIES + WINDOWS, "f"), t0)
    assert report.windows == ("window payments-db-upgrade created", "window weekly-backup created")
    assert MaintenanceWindow.objects.filter(source=WindowSource.DECLARED).count() == 2
    token = StateVersion.current()

    # The same file again writes nothing and moves no token.
    assert sync_declaration(parse_document(DEPENDENCIES + WINDOWS, "f"), t0).windows == ()
    assert StateVersion.current() == token

    first_only = WINDOWS.split("  - name: weekly-backup")[0]
    report = sync_declaration(parse_document(DEPENDENCIES + first_only, "f"), t0)
    assert report.windows == ("window weekly-backup archived",)
    assert StateVersion.current() != token
    declared = MaintenanceWindow.objects.get(name="weekly-backup", source=WindowSource.DECLARED)
    assert declared.archived_at == t0
    # The API's window of the same name is not the declaration's to archive.
    api = MaintenanceWindow.objects.get(name="weekly-backup", source=WindowSource.API)
    assert api.archived_at is None

    report = sync_declaration(parse_document(DEPENDENCIES + WINDOWS, "f"), t0)
    assert report.windows == ("window weekly-backup restored",)


def test_check_dependencies_lists_the_windows(tmp_path) -> None:
    path = tmp_path / "dependencies.yaml"
    path.write_text(DEPENDENCIES + WINDOWS)
    stdout, stderr = check(str(path))
    assert table(stdout, 1) == [
        ["WINDOW", "MATCH", "WHEN"],
        [
            "payments-db-upgrade",
            "group=payments",
            "2026-12-05T02:00:00+00:00 until 2026-12-05T04:00:00+01:00",
        ],
        [
            "weekly-backup",
            "name=documents",
            "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0 for 1h (Europe/Berlin)",
        ],
    ]
    assert f"{path}: 2 dependencies, 2 maintenance windows, valid." in stdout
    assert stderr == ""

"""check_dependencies and sync_dependencies: through call_command, and as real processes.

The check_dependencies tests carry no django_db mark: pytest-django fails any of them that
touches the database.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from probes.models import Dependency

INFURA_KEY = "9aa3d95b3bc440fa88ea12eaa4456161"
GOOD = f"""\
dependencies:
  - name: payments-api
    kind: http
    critical: true
    group: payments
    url: https://api.example.com/health
    headers: {{Authorization: "Bearer ${{PAYMENTS_TOKEN}}"}}
  - name: infura
    kind: http
    method: POST
    url: https://mainnet.infura.io/v3/{INFURA_KEY}
    interval: 10s
    timeout: 2s
    breaker: {{failure_threshold: 5, recovery_timeout: 2m}}
  - name: admin
    kind: http
    url: https://bot:${{BOT_PASSWORD}}@admin.example.com/ping
    interval: 1m
"""
NOTIFYING = (
    GOOD
    + f"""\
notifications:
  defaults: {{repeat_every: 4h}}
  channels:
    ops-hook:
      type: webhook
      url: https://hooks.example.com/v3/{INFURA_KEY}
      secret: "${{HOOK_SECRET}}"
    chat: {{type: slack, url: "${{SLACK_WEBHOOK_URL}}", group_wait: 30s}}
    ops-mail: {{type: email, to: [ops@example.com, oncall@example.com], give_up_after: 2h}}
  routes:
    - match: {{critical: true}}
      channels: [ops-hook, chat]
    - match: {{group: payments, kind: http}}
      channels: ops-mail
      "on": [down]  # unquoted, YAML 1.1 reads the key `on` as true
      notify_after: 2m
      repeat_every: never
"""
)
BROKEN = GOOD.replace("kind: http\n    method: POST", "kind: htp\n    method: POST")
COLUMNS = [
    "NAME",
    "KIND",
    "CRITICAL",
    "GROUP",
    "EVERY",
    "TIMEOUT",
    "BREAKER (fail/wait/ok)",
    "TARGET",
    "NEEDS",
]
# A database no command can open: a command that needs one fails.
NO_DATABASE = "sqlite:////nonexistent/seahealth.sqlite3"


@pytest.fixture
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYMENTS_TOKEN", "BOT_PASSWORD", "HOOK_SECRET", "SLACK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def check(*args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("check_dependencies", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def table(output: str, number: int = 0) -> list[list[str]]:
    """The rows of the `number`th table (the dependencies', then the channels' and the
    routes'), cut into cells (two spaces or more apart)."""
    lines = output.split("\n\n")[number].splitlines()
    return [re.split(r" {2,}", line) for line in lines]


def manage(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "seahealth.settings"}
    env["DATABASE_URL"] = NO_DATABASE
    env.pop("DATABASE_URL_FILE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- check_dependencies ------------------------------------------------------------------


@pytest.mark.usefixtures("unset")
def test_check_prints_a_table_of_a_valid_file_with_secrets_redacted(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", GOOD)

    stdout, stderr = check(str(path))

    assert table(stdout) == [
        COLUMNS,
        [
            "payments-api",
            "http",
            "yes",
            "payments",
            "30s",
            "5s",
            "3 / 1m / 1",
            "GET https://api.example.com/health",
            "PAYMENTS_TOKEN (unset)",
        ],
        [
            "infura",
            "http",
            "no",
            "-",
            "10s",
            "2s",
            "5 / 2m / 1",
            "POST https://mainnet.infura.io/v3/***",
            "-",
        ],
        [
            "admin",
            "http",
            "no",
            "-",
            "1m",
            "5s",
            "3 / 1m / 1",
            "GET https://bot:${BOT_PASSWORD}@admin.example.com/ping",
            "BOT_PASSWORD (unset)",
        ],
    ]
    assert INFURA_KEY not in stdout
    assert f"{path}: 3 dependencies, valid." in stdout
    assert stderr == ""


@pytest.mark.usefixtures("unset")
def test_check_names_the_variables_this_environment_lacks(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", GOOD)

    stdout, _ = check(str(path))

    assert stdout.rstrip().endswith(
        "Not set in this environment (those probes fail with a config error until they are): "
        "BOT_PASSWORD, PAYMENTS_TOKEN"
    )


@pytest.mark.usefixtures("unset")
def test_check_counts_a_variable_or_its_name_file_as_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENTS_TOKEN", "t-456")
    monkeypatch.setenv("BOT_PASSWORD_FILE", str(write(tmp_path / "password", "hunter2")))
    path = write(tmp_path / "dependencies.yaml", GOOD)

    stdout, _ = check(str(path))

    assert "unset" not in stdout
    assert "Not set" not in stdout
    assert [row[-1] for row in table(stdout)[1:]] == ["PAYMENTS_TOKEN", "-", "BOT_PASSWORD"]
    assert "t-456" not in stdout
    assert "hunter2" not in stdout


@pytest.mark.usefixtures("unset")
def test_check_lists_the_channels_and_routes_after_the_dependencies(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", NOTIFYING)

    stdout, stderr = check(str(path))

    assert [row[0] for row in table(stdout)] == ["NAME", "payments-api", "infura", "admin"]
    assert table(stdout, 1) == [
        ["CHANNEL", "TYPE", "SENDS TO", "GROUP WAIT", "GIVE UP AFTER", "NEEDS"],
        [
            "ops-hook",
            "webhook",
            "https://hooks.example.com/v3/***",
            "0s",
            "1d",
            "HOOK_SECRET (unset)",
        ],
        ["chat", "slack", "${SLACK_WEBHOOK_URL}", "30s", "1d", "SLACK_WEBHOOK_URL (unset)"],
        ["ops-mail", "email", "ops@example.com, oncall@example.com", "0s", "2h", "-"],
    ]
    assert table(stdout, 2) == [
        ["ROUTE", "MATCH", "CHANNELS", "ON", "NOTIFY AFTER", "REPEAT EVERY"],
        ["1", "critical", "ops-hook, chat", "down, up", "0s", "4h"],
        ["2", "group=payments kind=http", "ops-mail", "down", "2m", "never"],
    ]
    assert f"{path}: 3 dependencies, 3 channels, 2 routes, valid." in stdout
    assert INFURA_KEY not in stdout
    assert stderr == ""


@pytest.mark.usefixtures("unset")
def test_check_names_the_variables_the_channels_need_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x")
    path = write(tmp_path / "dependencies.yaml", NOTIFYING)

    stdout, _ = check(str(path))

    assert stdout.rstrip().splitlines()[-2:] == [
        "Not set in this environment (those probes fail with a config error until they are): "
        "BOT_PASSWORD, PAYMENTS_TOKEN",
        "Not set in this environment (notifications to those channels fail until they are): "
        "HOOK_SECRET",
    ]
    assert [row[-1] for row in table(stdout, 1)[1:]] == [
        "HOOK_SECRET (unset)",
        "SLACK_WEBHOOK_URL",
        "-",
    ]
    assert "hooks.slack.com" not in stdout


def test_check_of_a_file_without_notifications_prints_no_channel_table(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", GOOD)

    stdout, _ = check(str(path))

    assert "CHANNEL" not in stdout
    assert "ROUTE" not in stdout
    assert "channels" not in stdout


def test_check_refuses_a_broken_file_with_exit_1_and_its_problems_on_stderr(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", BROKEN)
    stdout, stderr = io.StringIO(), io.StringIO()

    with pytest.raises(SystemExit) as exited:
        call_command("check_dependencies", str(path), stdout=stdout, stderr=stderr)

    assert exited.value.code == 1
    assert stdout.getvalue() == ""
    assert f"{path}:9: entry 2 'infura', field 'kind': unknown kind 'htp'" in stderr.getvalue()


def test_check_reads_the_file_the_settings_name(declaration: Path) -> None:
    write(declaration, GOOD)

    stdout, _ = check()

    assert f"{declaration}: 3 dependencies, valid." in stdout


@pytest.mark.parametrize(
    ("text", "code", "stream", "expected"),
    [
        pytest.param(GOOD, 0, "stdout", "3 dependencies, valid.", id="valid"),
        pytest.param(
            NOTIFYING, 0, "stdout", "3 dependencies, 3 channels, 2 routes, valid.", id="notifying"
        ),
        pytest.param(BROKEN, 1, "stderr", "field 'kind': unknown kind 'htp'", id="broken"),
    ],
)
def test_check_runs_without_a_database(
    tmp_path: Path, text: str, code: int, stream: str, expected: str
) -> None:
    path = write(tmp_path / "dependencies.yaml", text)

    run = manage("check_dependencies", str(path))

    assert run.returncode == code, run.stderr
    assert expected in getattr(run, stream)


# --- sync_dependencies -------------------------------------------------------------------


def sync_command(*args: str) -> str:
    stdout = io.StringIO()
    call_command("sync_dependencies", *args, stdout=stdout)
    return stdout.getvalue().strip()


@pytest.mark.django_db
def test_sync_reports_what_it_did(tmp_path: Path) -> None:
    path = write(tmp_path / "dependencies.yaml", GOOD)

    assert (
        sync_command(str(path)) == f"{path}: created 3 (payments-api, infura, admin); unchanged 0"
    )
    assert sync_command(str(path)) == f"{path}: unchanged 3"

    write(path, GOOD.split("  - name: admin")[0].replace("interval: 10s", "interval: 20s"))
    assert sync_command(str(path)) == f"{path}: updated 1 (infura); archived 1 (admin); unchanged 1"
    assert list(Dependency.objects.active().values_list("name", flat=True)) == [
        "infura",
        "payments-api",
    ]


@pytest.mark.django_db
def test_sync_reads_the_file_the_settings_name(declaration: Path) -> None:
    write(declaration, GOOD)

    assert sync_command().startswith(f"{declaration}: created 3")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(BROKEN, "entry 2 'infura', field 'kind': unknown kind 'htp'", id="broken"),
        pytest.param(None, "the file: cannot read it", id="missing"),
    ],
)
def test_sync_fails_on_a_file_it_refuses(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "dependencies.yaml"
    if text is not None:
        write(path, text)

    with pytest.raises(CommandError) as refused:
        sync_command(str(path))

    assert str(path) in str(refused.value)
    assert expected in str(refused.value)
    assert not Dependency.objects.exists()


def test_sync_exits_non_zero_on_a_broken_file_before_it_needs_the_database(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "dependencies.yaml", BROKEN)

    run = manage("sync_dependencies", str(path))

    assert run.returncode == 1
    assert "CommandError: declaration refused (1 problem); nothing was changed:" in run.stderr
    assert "field 'kind': unknown kind 'htp'" in run.stderr

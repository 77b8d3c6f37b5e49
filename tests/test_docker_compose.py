"""docker-compose.yml, the Dockerfile and .env.example describe a deployment that can start:
every command names something that exists, and every setting it needs is documented."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_cli
from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve
from gunicorn.config import Config as GunicornConfig

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# The services that run this project's image (built from the Dockerfile).
APP_SERVICES = sorted(name for name, service in SERVICES.items() if "build" in service)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def image_command() -> list[str]:
    """The Dockerfile's CMD, which must be the exec form (so the process gets SIGTERM)."""
    commands = [args for keyword, args in dockerfile_instructions() if keyword == "CMD"]
    assert commands, "the Dockerfile has no CMD"
    assert commands[-1].startswith("["), f"CMD is not the exec form: {commands[-1]}"
    return json.loads(commands[-1])


def service_command(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if command is None:
        return image_command()
    return shlex.split(command) if isinstance(command, str) else list(command)


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f".env.example: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def celery_app_and_subcommand(args: list[str]) -> tuple[str | None, str | None]:
    """`celery -A app subcommand ...`: the app, and the first word that is not the app's."""
    app, rest = None, list(args)
    for index, arg in enumerate(args):
        if arg in {"-A", "--app"} and index + 1 < len(args):
            app, rest = args[index + 1], args[:index] + args[index + 2 :]
            break
        if arg.startswith("--app="):
            app, rest = arg.removeprefix("--app="), args[:index] + args[index + 1 :]
            break
    return app, next((arg for arg in rest if not arg.startswith("-")), None)


def problem_with(argv: list[str]) -> str | None:
    """Why `argv` would not start in the image, or None when it names only real things."""
    program, *args = argv
    if program == "gunicorn":
        # gunicorn's own parser, so that an option's value is never taken for the app.
        targets = GunicornConfig().parser().parse_args(args).args
        if len(targets) != 1 or targets[0].count(":") != 1:
            return f"gunicorn needs one module:attribute, got {targets}"
        module_name, attribute = targets[0].split(":")
        if not module_exists(module_name):
            return f"no module {module_name}"
        application = getattr(importlib.import_module(module_name), attribute, None)
        return None if callable(application) else f"{module_name} has no callable {attribute}"
    if program == "celery":
        app_name, subcommand = celery_app_and_subcommand(args)
        if app_name is None:
            return "celery without -A: it would not load seahealth's app"
        # -A pkg loads pkg.celery, the cookiecutter-django layout this project follows.
        if not module_exists(f"{app_name}.celery"):
            return f"no module {app_name}.celery"
        if not isinstance(find_app(app_name), Celery):
            return f"{app_name} has no Celery app"
        return None if subcommand in celery_cli.commands else f"no celery command {subcommand}"
    if program == "python" and args[:1] == ["manage.py"]:
        if len(args) < 2:
            return "manage.py without a command"
        return None if args[1] in get_commands() else f"no management command {args[1]}"
    if program == "python" and args[:1] == ["-m"]:
        return None if module_exists(args[1]) else f"no module {args[1]}"
    return f"{program}: not a command this test knows how to check"


def test_the_production_shape_has_its_services() -> None:
    assert {"migrate", "web", "worker", "beat", "postgres", "redis"} <= set(SERVICES)
    assert set(APP_SERVICES) == {"migrate", "web", "worker", "beat"}
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_the_service_command_names_something_that_exists(name: str) -> None:
    assert problem_with(service_command(SERVICES[name])) is None


def test_web_runs_gunicorn_and_the_prober_runs_celery() -> None:
    assert service_command(SERVICES["web"])[:2] == ["gunicorn", "seahealth.wsgi:application"]
    assert service_command(SERVICES["worker"])[:4] == ["celery", "-A", "seahealth", "worker"]
    assert service_command(SERVICES["beat"])[:4] == ["celery", "-A", "seahealth", "beat"]
    assert service_command(SERVICES["migrate"])[:3] == ["python", "manage.py", "migrate"]


@pytest.mark.parametrize(
    "argv",
    [
        ["gunicorn", "seahealth.wsgii:application", "--bind", "0.0.0.0:8000"],
        ["gunicorn", "seahealth.wsgi:app"],
        ["gunicorn", "--bind", "0.0.0.0:8000"],
        ["celery", "-A", "seahealthh", "worker"],
        ["celery", "-A", "probes", "worker"],
        ["celery", "-A", "seahealth", "wroker"],
        ["celery", "worker"],
        ["celery", "--app=seahealth", "--loglevel=INFO"],
        ["python", "manage.py", "migrat"],
        ["python", "-m", "demo.peer"],
        ["gunicron", "seahealth.wsgi:application"],
    ],
)
def test_a_command_naming_nothing_real_is_caught(argv: list[str]) -> None:
    assert problem_with(argv) is not None


def test_the_image_runs_as_an_unprivileged_user_without_an_entrypoint() -> None:
    keywords = dict(dockerfile_instructions())
    assert keywords["FROM"] == "python:3.11-slim"
    assert keywords["USER"] not in {"root", "0"}
    # An ENTRYPOINT would prefix every compose command and make the checks above wrong.
    assert "ENTRYPOINT" not in keywords


def test_the_image_collects_the_static_files_it_serves() -> None:
    instructions = dockerfile_instructions()
    environment = " ".join(args for keyword, args in instructions if keyword == "ENV")
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    # Settings collect nothing unless STATIC_ROOT is set; whitenoise serves what is collected.
    assert re.search(r"\bSTATIC_ROOT=/\S+", environment)
    assert "manage.py collectstatic --noinput" in runs


def test_the_image_keeps_no_secret_key() -> None:
    # collectstatic gets a throwaway key for its one command; a key in ENV or ARG would be
    # baked into the image (and the same in every deployment of it).
    for keyword, arguments in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            assert "SECRET_KEY" not in arguments, f"{keyword} {arguments}"


def test_every_app_service_shares_the_image_and_the_env_file() -> None:
    builds = {json.dumps(SERVICES[name]["build"], sort_keys=True) for name in APP_SERVICES}
    images = {SERVICES[name].get("image") for name in APP_SERVICES}
    env_files = {json.dumps(SERVICES[name].get("env_file")) for name in APP_SERVICES}
    assert len(builds) == 1
    assert len(images) == 1
    assert env_files == {json.dumps(".env")}


def test_every_compose_variable_is_in_env_example() -> None:
    # $$ is compose's escape for a literal $ (expanded in the container, not by compose).
    text = (ROOT / "docker-compose.yml").read_text().replace("$$", "")
    variables = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    assert variables, "expected ${...} in docker-compose.yml"
    assert variables - set(env_example()) == set()


def test_env_example_documents_the_production_settings() -> None:
    values = env_example()
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
        "ALLOWED_HOSTS",
        "SEAHEALTH_DEPENDENCIES",
    ):
        assert values.get(name), f"{name} is not in .env.example"
    assert values["DEBUG"] == "false"
    database = urlsplit(values["DATABASE_URL"])
    assert database.hostname == "postgres"
    assert database.username == values["POSTGRES_USER"]
    assert database.password == values["POSTGRES_PASSWORD"]
    assert database.path == f"/{values['POSTGRES_DB']}"
    assert urlsplit(values["CELERY_BROKER_URL"]).hostname == "redis"


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_the_declaration_is_mounted_read_only_where_the_settings_look(name: str) -> None:
    mounts = [
        mount
        for mount in SERVICES[name]["volumes"]
        if isinstance(mount, dict) and mount["source"] == "./dependencies.yaml"
    ]
    assert len(mounts) == 1
    assert mounts[0]["read_only"] is True
    assert mounts[0]["target"] == env_example()["SEAHEALTH_DEPENDENCIES"]


def test_settings_accept_the_env_example() -> None:
    """The settings module starts, DEBUG off, with exactly the environment compose gives it."""
    program = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'engine': s.DATABASES['default']['ENGINE'], "
        "'hosts': s.ALLOWED_HOSTS, 'declaration': str(s.SEAHEALTH_DEPENDENCIES)}))"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "seahealth.settings",
        **env_example(),
    }
    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.splitlines()[-1])
    assert loaded["debug"] is False
    assert loaded["engine"] == "django.db.backends.postgresql"
    # The web healthcheck's request comes from inside the container, to 127.0.0.1.
    assert "127.0.0.1" in loaded["hosts"]
    assert loaded["declaration"] == "/etc/seahealth/dependencies.yaml"


def test_services_wait_for_what_they_need_to_be_ready() -> None:
    for name, service in SERVICES.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in SERVICES, f"{name} depends on an unknown service {needed}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[needed], f"{needed} has no healthcheck"
            elif condition["condition"] == "service_completed_successfully":
                # A one-shot service that restarts on success never completes.
                assert SERVICES[needed].get("restart", "no") in {"no", "on-failure"}
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_web_healthcheck_asks_the_liveness_endpoint() -> None:
    healthcheck = " ".join(SERVICES["web"]["healthcheck"]["test"])
    url = re.search(r"http://127\.0\.0\.1:8000(/[^'\" ]*)", healthcheck)
    assert url is not None, healthcheck
    assert "0.0.0.0:8000" in image_command()
    try:
        match = resolve(url.group(1))
    except Resolver404:
        pytest.fail(f"{url.group(1)} is not a URL of seahealth")
    assert match.url_name == "sh-health-live"

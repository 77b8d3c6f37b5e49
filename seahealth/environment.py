"""Typed values from the environment, for settings.py.

A value its variable cannot take stops the process at start with ImproperlyConfigured naming
the variable, rather than being read as some default: `DEBUG=maybe` is a mistake to show, not
a false. An empty value counts as unset (compose files write `NAME=` for "no value").
Messages never repeat a value that may hold a secret (a database or broker URL).
"""

from __future__ import annotations

import logging
import math
import os
from datetime import timedelta
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from probes import placeholders
from probes.durations import parse_duration

env = environ.Env()

TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# What each backend seahealth runs on is called in a URL (django-environ's names).
DATABASE_SCHEMES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "pgsql": "django.db.backends.postgresql",
}
# Brokers Celery (kombu) speaks that fit the distributed prober.
BROKER_SCHEMES = frozenset({"redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp", "sqs"})


def _text(name: str) -> str:
    return env.str(name, default="").strip()


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    path = _text(f"{name}_FILE")
    try:
        value = placeholders.variable(name, os.environ)
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE={path}: cannot read it ({exc})") from exc
    if path and not value:
        # An empty token file must not quietly mean "no token".
        raise ImproperlyConfigured(f"{name}_FILE={path}: the file is empty")
    return value or default


def env_bool(name: str, default: bool) -> bool:
    text = _text(name).lower()
    if not text:
        return default
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be true or false (or 1/0, yes/no, on/off), got {_text(name)!r}"
    )


def env_positive(name: str, default: float, cast: type = int, *, zero: bool = False) -> float:
    """A number greater than zero (or zero too, when `zero` says so)."""
    text = _text(name) or str(default)
    try:
        value = cast(text)
    except ValueError as exc:
        kind = "an integer" if cast is int else "a number"
        raise ImproperlyConfigured(f"{name} must be {kind}, got {text!r}") from exc
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        least = "zero or more" if zero else "greater than zero"
        raise ImproperlyConfigured(f"{name} must be {least}, got {value}")
    return value


def env_duration(name: str, default: str | None) -> timedelta | None:
    """A duration written as in dependencies.yaml (`36h`, `7d`), greater than zero; None when
    unset and without a default."""
    text = _text(name) or default
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc
    if seconds <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero, got {text!r}")
    return timedelta(seconds=seconds)


# Django's mail backends, as django-environ names them in EMAIL_URL.
EMAIL_SCHEMES = frozenset(
    {"smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail"}
)


def env_email(name: str, default: str) -> dict:
    """Django's EMAIL_* settings from one URL (smtp+tls://user:password@host:587), which may
    come from NAME_FILE: it holds a password."""
    url = env_secret(name) or default
    _scheme(name, url, EMAIL_SCHEMES, "smtp+tls://user:password@smtp.example.com:587")
    try:
        return environ.Env.email_url_config(url)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a mail URL ({type(exc).__name__})") from exc


def env_base_url(name: str, default: str) -> str:
    """The address people reach the pages at, without a trailing slash."""
    url = _text(name) or default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def env_log_level(name: str, default: str) -> str:
    level = (_text(name) or default).upper()
    if level not in LOG_LEVELS:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return level


def env_hosts(name: str, default: list[str]) -> list[str]:
    """Host names (ALLOWED_HOSTS): a URL there never matches a request, so it is refused."""
    hosts = env.list(name, default=default)
    for host in hosts:
        if "/" in host or not host.strip():
            raise ImproperlyConfigured(
                f"{name} holds host names, not URLs: {host!r} (write status.example.com)"
            )
    return [host.strip() for host in hosts]


def env_origins(name: str) -> list[str]:
    """Origins (CSRF_TRUSTED_ORIGINS): a scheme and a host, `https://status.example.com`."""
    origins = [origin.strip() for origin in env.list(name, default=[])]
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
            raise ImproperlyConfigured(
                f"{name} holds origins such as https://status.example.com, got {origin!r}"
            )
    return origins


def _scheme(name: str, url: str, known: set[str] | frozenset[str], example: str) -> str:
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme not in known:
        got = f"a {scheme}:// URL" if scheme else "no URL"
        raise ImproperlyConfigured(f"{name} must be a URL such as {example}, got {got}")
    return scheme


def env_database(name: str, default: str) -> dict:
    """Django's DATABASES entry from a URL (NAME_FILE too): SQLite or PostgreSQL."""
    url = env_secret(name, default=default)
    example = "sqlite:///db.sqlite3 or postgres://user:password@host:5432/seahealth"
    _scheme(name, url, DATABASE_SCHEMES.keys(), example)
    try:
        config = env.db_url_config(url)
    except ValueError as exc:  # a port that is not a number, ...
        # The URL may hold a password: say what is wrong with it, never what it is.
        reason = "its port is not a number" if "Port" in str(exc) else "it cannot be parsed"
        raise ImproperlyConfigured(f"{name} is not a database URL: {reason}") from None
    if config["ENGINE"] != "django.db.backends.sqlite3" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database (postgres://.../NAME)")
    return config


def env_broker_url(name: str, default: str) -> str:
    """A Celery broker URL (NAME_FILE too): Redis, RabbitMQ or SQS."""
    url = env_secret(name, default=default)
    _scheme(name, url, BROKER_SCHEMES, "redis://host:6379/0 or amqp://user:password@host//")
    return url


def level_at_least(level: str, floor: str) -> str:
    """The more severe of two level names."""
    return max(level, floor, key=logging.getLevelName)

"""Settings of a plain Django project, for the apps bench/health_endpoints.py compares with.

As `django-admin startproject` writes them, DEBUG off. BENCH_PLAIN_MIDDLEWARE=none drops the
middleware (the default, `startproject`, keeps its seven).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

STARTPROJECT_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
MIDDLEWARE = {"startproject": STARTPROJECT_MIDDLEWARE, "none": []}


def configure(urlconf: str, apps: list[str] | None = None, **more: Any) -> None:
    middleware = os.environ.get("BENCH_PLAIN_MIDDLEWARE", "startproject")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-a-secret",  # noqa: S106 - a throwaway app on loopback
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=urlconf,
        INSTALLED_APPS=[*STARTPROJECT_APPS, *(apps or [])],
        MIDDLEWARE=MIDDLEWARE[middleware],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ],
                },
            },
        ],
        STATIC_URL="static/",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        **more,
    )

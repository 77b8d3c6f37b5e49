"""No request is a 500: every URL pattern (the admin's and django-axes' too), its path
parameters filled with hostile values, asked with GET, HEAD and POST and hostile query
strings and forms, anonymously (with the dashboard public) and as a superuser; the API's
routes without a token and with a write token.

It runs in both passes: PostgreSQL refuses what SQLite takes (a NUL in text, an integer past
64 bits). Each request runs in a savepoint rolled back after it, so that one request's
failed query cannot fail the next ones, and a POST (the admin's delete, a logout) changes
nothing for the requests after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from api import tokens
from api.models import Scope
from probes.models import BreakerTransition, Dependency, ProbeResult, Rollup
from tests.factories import make_dependency
from tests.notifications.rows import make_attempt, make_channel, make_event, make_message

pytestmark = pytest.mark.django_db

HOSTILE = [
    "\x00",
    "a\x00b",
    "%00",
    "\x1b[2J",
    "\x7f",
    "\u0085",
    "x" * 3000,
    "\u2603\u00fc\U0001f600\u202e",
    "..",
    "../../etc/passwd",
    "'",
    "\"'; DROP TABLE probes_dependency; --",
    "' OR '1'='1",
    "%",
    "_",
    "\\",
    "9" * 30,
    "-1",
    "-" + "9" * 20,
    "0",
    "1e309",
    "NaN",
    "",
    " ",
    "<script>alert(1)</script>",
    "%2e%2e%2f",
    "\ufeff",
    "\r\nSet-Cookie: a=b",
]
# Fewer for the one-parameter-at-a-time sweeps of the query, which multiply.
HOSTILE_QUERY = [
    "a\x00b",
    "x" * 3000,
    "\u2603\U0001f600",
    "'\"; --%_\\",
    "9" * 30,
    "-" + "9" * 20,
    "1e309",
]
EVERYONE = ("anonymous", "superuser")
SIGNED_IN = ("superuser",)
# The API: without a token, and with a write token (which may call every route).
API_CALLERS = ("anonymous", "token")
# Every query parameter a view of ours reads: the pages, /health/*, the API, the login.
OUR_QUERY_PARAMETERS = [
    "channel",
    "critical",
    "window",
    "page",
    "status",
    "kind",
    "group",
    "q",
    "month",
    "limit",
    "next",
]
# Every one the admin reads, but its lists' filters (changelist_parameters finds those).
ADMIN_QUERY_PARAMETERS = [
    "q",
    "o",
    "p",
    "e",
    "all",
    "_to_field",
    "_popup",
    "_changelist_filters",
    "_facets",
    "app_label",
    "model_name",
    "field_name",
    "term",
    "language",
]
# Every form field a view of ours or of the admin reads.
FORM_FIELDS = [
    "username",
    "password",
    "next",
    "old_password",
    "new_password1",
    "new_password2",
    "password1",
    "password2",
    "usable_password",
    "action",
    "_selected_action",
    "select_across",
    "index",
    "name",
    "q",
    "first_name",
    "email",
    "is_superuser",
    "date_joined_0",
    "last_login_1",
    "groups",
    "user_permissions",
    "permissions",
]
# JSON bodies for the API: \u0000 is a NUL only once parsed, past the middleware's reach.
JSON_BODIES = [
    '{"reason": "a\\u0000b"}',
    '{"reason": "\\ud800"}',
    '{"reason": "' + "x" * 3000 + '"}',
    '{"reason": 1e309}',
    "[" * 5000,
    '{"a": ' * 3000,
    "\xff",
    "",
]
HEADERS = [
    {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "\u2603" * 500},
    {"HTTP_ACCEPT": "application/health+json"},
    {"HTTP_ACCEPT_ENCODING": "gzip, \u2603"},
    {"HTTP_X_FORWARDED_FOR": "not-an-address, ::ffff:1.2.3.4, 999.1.1.1"},
    {"HTTP_X_FORWARDED_PROTO": "https"},
    {"HTTP_AUTHORIZATION": "Bearer \u2603"},
    {"HTTP_USER_AGENT": "x" * 3000},
    {"HTTP_COOKIE": "sessionid=' OR 1=1; csrftoken=%00"},
]


def url_templates(resolver: URLResolver | None = None, prefix: str = "") -> set[tuple]:
    """(format string, parameter names) of every URL pattern, namespaces included."""
    resolver = resolver or get_resolver()
    found = set()
    for key in resolver.reverse_dict:
        for possibilities, *_ in resolver.reverse_dict.getlist(key):
            for template, parameters in possibilities:
                found.add((prefix + template, tuple(parameters)))
    for namespace_prefix, namespace in resolver.namespace_dict.values():
        found |= url_templates(namespace, prefix + namespace_prefix)
    return found


@dataclass
class Sweep:
    """Sends requests, each in a savepoint rolled back after it; notes every 500."""

    clients: dict[str, Client]
    sent: int = 0
    server_errors: list[str] = field(default_factory=list)

    def send(self, method: str, path: str, data=None, *, who=EVERYONE, **headers) -> None:
        for name in who:
            client = self.clients[name]
            cookies = client.cookies.output(header="", sep=";")
            with transaction.atomic():
                response = getattr(client, method)(path, data, **headers)
                transaction.set_rollback(True)
            client.cookies.load(cookies)  # a logout, rolled back, is undone for the client
            self.sent += 1
            if response.status_code == 500:
                shown = f"{method.upper()} {path!r:.200} {data!r:.200} {headers!r:.100} as {name}"
                self.server_errors.append(shown)


@pytest.fixture
def sweep(settings, django_user_model) -> Iterator[Sweep]:
    settings.SEAHEALTH_PUBLIC_DASHBOARD = True  # anonymous requests reach the views
    # A fast hash: every login form posted checks a password (or hashes one, for a user that
    # does not exist), a fifth of a second each with the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = make_dependency("api", group="payments", public=True)  # its badges drawn too
    now = timezone.now()
    ProbeResult.objects.create(dependency=api, checked_at=now, result="failure")
    BreakerTransition.objects.create(
        dependency=api, at=now, from_state="closed", to_state="open", reason="r"
    )
    Rollup.objects.create(dependency=api, period="minute", start=now, count=1, failures=1)
    hook = make_channel("ops-hook")
    message = make_message(hook, "dead", now, (make_event(api),), id="msg_plausible")
    make_attempt(message, now, "dead", status_code=410, error="HTTP 410 Gone")
    superuser = django_user_model.objects.create_superuser("root", password="unguessable-1")
    signed_in = Client(raise_request_exception=False)
    signed_in.force_login(superuser)
    _, token = tokens.create("sweeper", Scope.WRITE)
    clients = {
        "anonymous": Client(raise_request_exception=False),
        "superuser": signed_in,
        "token": Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token}"),
    }
    # Thousands of 4xx lines are not news here; a 500 is counted from the answers.
    quiet = [logging.getLogger(name) for name in ("django.request", "django.security", "axes")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL + 1)
    yield Sweep(clients)
    for logger, level in zip(quiet, levels, strict=True):
        logger.setLevel(level)


def plausible(parameter: str) -> list[str]:
    """Values that resolve, so that the view itself is reached."""
    api = Dependency.objects.get(name="api")
    known = {
        "name": ["api"],
        "object_id": [str(api.pk), str(ProbeResult.objects.get().pk), "msg_plausible"],
        "content_type_id": [str(ContentType.objects.get_for_model(Dependency).pk)],
        "app_label": ["probes", "auth", "axes"],
        "url": ["probes/dependency/", "nothing/here/"],
    }
    return known.get(parameter, ["1"])


def fill(template: str, values: dict[str, str]) -> str:
    return "/" + template % {name: quote(value, safe="") for name, value in values.items()}


def changelist_parameters(rf, superuser) -> dict[str, list[str]]:
    """Per admin list (`admin/app/model/`), the query parameters its filters read."""
    found = {}
    for model, model_admin in admin.site._registry.items():
        request = rf.get("/")
        request.user = superuser
        changelist = model_admin.get_changelist_instance(request)
        names = [name for spec in changelist.filter_specs for name in spec.expected_parameters()]
        found[f"admin/{model._meta.app_label}/{model._meta.model_name}/"] = names
    return found


def test_no_url_pattern_answers_500_whatever_it_is_sent(
    sweep: Sweep, rf, django_user_model
) -> None:
    templates = sorted(url_templates())
    assert len(templates) > 50  # ours, the admin's (every model's) and django-axes'
    changelists = changelist_parameters(rf, django_user_model.objects.get(username="root"))
    assert changelists["admin/probes/dependency/"]  # the filters were found
    for template, parameters in templates:
        # The admin asks anonymous people to log in before reading anything else.
        who = EVERYONE if not template.startswith("admin/") or "login" in template else SIGNED_IN
        if template.startswith("api/"):
            who = API_CALLERS
        defaults = {name: plausible(name)[0] for name in parameters}
        # Hostile path parameters, one at a time, the others plausible.
        for name in parameters:
            for value in [*HOSTILE, *plausible(name)[1:]]:
                sweep.send("get", fill(template, {**defaults, name: value}), who=who)
        path = fill(template, defaults)
        for method in ("get", "head", "post", "put", "delete", "options"):
            sweep.send(method, path, who=who)
        if who is not SIGNED_IN:
            for headers in HEADERS:
                sweep.send("get", path, who=who, **headers)
                sweep.send("post", path, {"username": "root", "password": "x"}, who=who, **headers)
        if who is API_CALLERS:
            for body in JSON_BODIES:
                sweep.send("post", path, body, who=who, content_type="application/json")
        # Every known query parameter at once, and every form field at once.
        filters = changelists.get(template, [])
        for value in HOSTILE_QUERY:
            every = dict.fromkeys([*OUR_QUERY_PARAMETERS, *ADMIN_QUERY_PARAMETERS, *filters], value)
            sweep.send("get", f"{path}?{urlencode(every)}", who=who)
            sweep.send("post", path, dict.fromkeys(FORM_FIELDS, value), who=who)
        # One query parameter at a time, where a view reads many (an earlier one's 400 would
        # hide a later one's 500): our pages and answers with every parameter ours read (the
        # admin's reach them all at once, above), and the admin's lists with theirs.
        if template.startswith("admin/") and template not in changelists:
            continue
        own = ["q", "o", "p", "e", *filters] if template in changelists else OUR_QUERY_PARAMETERS
        for parameter, value in product(own, HOSTILE_QUERY):
            sweep.send("get", f"{path}?{urlencode({parameter: value})}", who=who)
    errors = "\n".join(sweep.server_errors)
    assert not errors, f"{len(sweep.server_errors)} of {sweep.sent} requests were 500:\n{errors}"

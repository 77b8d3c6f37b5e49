"""SEAHEALTH_BEHIND_TLS_PROXY under gunicorn: plain HTTP is redirected to HTTPS, except for
what load balancers and Prometheus ask inside the network; what the proxy forwards as HTTPS
gets HSTS and secure cookies."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.site import Site
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "status.example.com"
# What a TLS proxy adds to the request it forwards.
FORWARDED_HTTPS = {"Host": HOST, "X-Forwarded-Proto": "https"}
UNREDIRECTED = ["/health/live", "/health/ready", "/health/dependencies", "/metrics"]


def get(site: Site, path: str, **headers: str) -> httpx.Response:
    return httpx.get(
        f"{site.url}{path}",
        headers={"Host": HOST, **headers},
        follow_redirects=False,
        timeout=10,
        trust_env=False,
    )


def test_plain_http_is_redirected_but_not_for_health_and_metrics(site: Site) -> None:
    make_dependency("payments")
    site.start(
        SEAHEALTH_BEHIND_TLS_PROXY="true",
        ALLOWED_HOSTS=f"{HOST},127.0.0.1",
        SEAHEALTH_READY_MAX_AGE="1d",
    )
    for path in ["/", "/dependencies/payments/", "/accounts/login/", "/admin/"]:
        answer = get(site, path)
        assert answer.status_code == 301, path
        assert answer.headers["Location"] == f"https://{HOST}{path}"
    for path in UNREDIRECTED:
        answer = get(site, path)
        assert answer.status_code in {200, 503}, (path, answer.status_code)
        assert "Location" not in answer.headers
        assert "Strict-Transport-Security" not in answer.headers  # never over plain HTTP

    # Forwarded as HTTPS by the proxy: served, with HSTS and cookies sent over HTTPS only.
    login = get(site, "/accounts/login/", **FORWARDED_HTTPS)
    assert login.status_code == 200
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    csrf_cookie = login.headers["Set-Cookie"]
    assert csrf_cookie.startswith("csrftoken=")
    assert "; Secure" in csrf_cookie
    page = get(site, "/", **FORWARDED_HTTPS)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/accounts/login/")


def test_without_the_switch_plain_http_is_served(site: Site) -> None:
    site.start(ALLOWED_HOSTS=f"{HOST},127.0.0.1")
    login = get(site, "/accounts/login/")
    assert login.status_code == 200
    assert "Strict-Transport-Security" not in login.headers
    assert "; Secure" not in login.headers["Set-Cookie"]
    # Without the switch no HSTS, whatever the request claims.
    assert "Strict-Transport-Security" not in get(site, "/", **FORWARDED_HTTPS).headers

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from probes import placeholders
from probes.redaction import (
    Secrets,
    is_secret_name,
    literal_secrets_in_url,
    redact_url,
    scrub,
    shown_resolved,
)

INFURA_KEY = "9aa3d95b3bc440fa88ea12eaa4456161"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param(
            "https://api.example.com/health?verbose=1",
            "https://api.example.com/health?verbose=1",
            id="nothing-secret",
        ),
        pytest.param(
            "https://bot:hunter2@api.example.com/health",
            "https://bot:***@api.example.com/health",
            id="userinfo-password",
        ),
        pytest.param(
            "https://bot:hun:ter2@api.example.com/",
            "https://bot:***@api.example.com/",
            id="userinfo-password-with-a-colon",
        ),
        pytest.param(
            "https://ghp_token@api.example.com/",
            "https://***@api.example.com/",
            id="userinfo-token",
        ),
        pytest.param(
            "https://api.example.com/v1?api_key=abc123&chain=1&access_token=xyz",
            "https://api.example.com/v1?api_key=***&chain=1&access_token=***",
            id="secret-query-values",
        ),
        pytest.param(
            f"https://mainnet.infura.io/v3/{INFURA_KEY}",
            "https://mainnet.infura.io/v3/***",
            id="infura-key-in-path",
        ),
        pytest.param(
            "https://eth-mainnet.g.alchemy.com/v2/Xq4bN7sLk2VdPz9RtYw3HmCe",
            "https://eth-mainnet.g.alchemy.com/v2/***",
            id="alchemy-key-in-path",
        ),
        pytest.param(
            "https://api.example.com/v2/status/health",
            "https://api.example.com/v2/status/health",
            id="ordinary-path",
        ),
        pytest.param(
            "https://api.example.com/health-check-endpoint-v2",
            "https://api.example.com/health-check-endpoint-v2",
            id="ordinary-long-path-segment",
        ),
        pytest.param("${ETH_RPC_URL}", "${ETH_RPC_URL}", id="whole-url-placeholder"),
        pytest.param(
            "https://mainnet.infura.io/v3/${INFURA_KEY}?api_key=${API_KEY}",
            "https://mainnet.infura.io/v3/${INFURA_KEY}?api_key=${API_KEY}",
            id="placeholders-in-path-and-query",
        ),
        pytest.param(
            "https://bot:${BOT_PASSWORD}@api.example.com/",
            "https://bot:${BOT_PASSWORD}@api.example.com/",
            id="placeholder-password",
        ),
        pytest.param(
            "https://${GH_TOKEN}@api.example.com/",
            "https://${GH_TOKEN}@api.example.com/",
            id="placeholder-userinfo",
        ),
        pytest.param("http://[::1/health?token=abc", "***", id="unparsable"),
        pytest.param("", "", id="empty"),
    ],
)
def test_redacts_the_secrets_of_a_url_and_only_them(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("Proxy-Authorization", True),
        ("X-Api-Key", True),
        ("apikey", True),
        ("api_key", True),
        ("key", True),
        ("access_token", True),
        ("X-Auth-Token", True),
        ("auth", True),
        ("client_secret", True),
        ("password", True),
        ("sig", True),
        ("X-Amz-Signature", True),
        ("Cookie", True),
        ("Accept", False),
        ("Content-Type", False),
        ("author", False),
        ("keyboard", False),
        ("chain", False),
        ("page", False),
    ],
)
def test_tells_a_secret_name_from_an_ordinary_one(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("https://api.example.com/health", []),
        ("https://bot:hunter2@api.example.com/", ["the credentials in the URL"]),
        ("https://ghp_abc123@api.example.com/", ["the credentials in the URL"]),
        ("https://bot:${BOT_PASSWORD}@api.example.com/", []),
        ("${BASE_URL}/v1?token=abc123", ["the query parameter 'token'"]),
        (
            "https://api.example.com/?api_key=abc&token=${TOKEN}&page=2",
            ["the query parameter 'api_key'"],
        ),
        ("https://api.example.com/?api_key=", []),
    ],
)
def test_finds_the_credentials_written_out_in_a_declared_url(url: str, found: list[str]) -> None:
    assert literal_secrets_in_url(url) == found


def test_scrubs_every_occurrence_of_every_secret() -> None:
    text = "GET https://api.example.com/?key=k-123 failed for k-123 with Bearer t-456"

    assert scrub(text, {"k-123", "t-456"}) == (
        "GET https://api.example.com/?key=*** failed for *** with Bearer ***"
    )


def test_scrubs_the_longest_secret_first_so_none_survives_in_part() -> None:
    assert scrub("token abcdef01", ["abcd", "abcdef01"]) == "token ***"


def test_does_not_scrub_a_secret_too_short_to_tell_from_ordinary_words() -> None:
    assert scrub("connection refused by host", ["on", "by", ""]) == "connection refused by host"


# --- every form of a secret ---------------------------------------------------------------

SECRET = 'c4n4ry/P4ss+w0rd "x"'


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(SECRET, id="as-is"),
        pytest.param(base64.b64encode(SECRET.encode()).decode(), id="base64"),
        pytest.param(
            base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="), id="base64url"
        ),
        pytest.param(quote(SECRET, safe=""), id="percent-encoded"),
        pytest.param(
            re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(SECRET, safe="")),
            id="percent-encoded-lowercase",
        ),
        pytest.param(quote(SECRET, safe="!$&'()*+,;=:@/?"), id="percent-encoded-in-a-query"),
        pytest.param(quote_plus(SECRET), id="form-encoded"),
        pytest.param(json.dumps(SECRET)[1:-1], id="json-escaped"),
        pytest.param(json.dumps(SECRET)[1:-1].replace("/", "\\/"), id="json-escaped-slashes"),
        pytest.param(html.escape(SECRET), id="html-escaped"),
    ],
)
def test_scrubs_a_secret_in_every_form_a_peer_echoes_it_in(form: str) -> None:
    assert scrub(f"the peer said: {form}.", [SECRET]) == "the peer said: ***."


@pytest.mark.parametrize(
    ("sent", "spec", "value"),
    [
        pytest.param(
            f"Basic {base64.b64encode(b'monitor:' + SECRET.encode()).decode()}",
            {"basic_auth": {"username": "monitor", "password": "${P}"}},
            SECRET,
            id="basic-auth",
        ),
        pytest.param(
            base64.b64encode(b"\0monitor\0" + SECRET.encode()).decode(),
            {"username": "monitor", "password": "${P}"},
            SECRET,
            id="sasl-plain",
        ),
        pytest.param(
            # In a URL the password is written percent-encoded; basic auth sends it decoded.
            f"Basic {base64.b64encode(b'monitor:' + SECRET.encode()).decode()}",
            {"url": "https://monitor:${P}@api.example.com/"},
            quote(SECRET, safe=""),
            id="password-in-a-url",
        ),
    ],
)
def test_scrubs_the_credentials_made_from_a_secret_and_a_user_name(
    sent: str, spec: dict, value: str
) -> None:
    resolved, substituted = placeholders.resolve(spec, {"P": value})
    secrets = Secrets.of_spec(spec, resolved, substituted)

    assert secrets.scrub(f"401: got {sent}") in ("401: got ***", "401: got Basic ***")


def test_every_part_after_the_host_of_a_url_taken_whole_from_a_variable_is_secret() -> None:
    spec = {"url": "${ETH_RPC_URL}"}
    url = f"https://mainnet.infura.io/v3/{INFURA_KEY}?apikey=q-4242-zz#frag-ment"
    resolved, substituted = placeholders.resolve(spec, {"ETH_RPC_URL": url})
    secrets = Secrets.of_spec(spec, resolved, substituted)

    text = f"invalid project {INFURA_KEY} for POST /v3/{INFURA_KEY} at mainnet.infura.io"
    assert secrets.scrub(text) == "invalid project *** for POST *** at mainnet.infura.io"
    assert secrets.scrub("apikey q-4242-zz refused") == "apikey *** refused"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("s3://demo-documents", "s3://demo-documents"),
        ("demo_bucket and demos", "demo_bucket and demos"),
        ("the key is demo.", "the key is ***."),
        ("key=demo&x=1", "key=***&x=1"),
        ("demo.example.com", "demo.example.com"),
    ],
)
def test_a_short_secret_is_scrubbed_where_it_stands_alone_never_inside_a_word(
    text: str, shown: str
) -> None:
    assert scrub(text, ["demo"]) == shown


def test_a_long_secret_is_scrubbed_inside_a_word_too() -> None:
    assert scrub("prefix-s3cr3tv4lue-suffix", ["s3cr3tv4lue"]) == "prefix-***-suffix"


def test_scrubs_the_beginning_of_a_secret_where_an_excerpt_was_cut() -> None:
    assert scrub("the body is not JSON: 'token=s3cr3tv4l...'", ["s3cr3tv4lue99"]) == (
        "the body is not JSON: 'token=***...'"
    )


@pytest.mark.parametrize(
    ("declared", "environ", "shown"),
    [
        pytest.param(
            {"url": "${RPC}"},
            {"RPC": f"https://mainnet.infura.io/v3/{INFURA_KEY}"},
            {"url": "https://mainnet.infura.io/***"},
            id="url-taken-whole",
        ),
        pytest.param(
            {"url": "${RPC}"},
            {"RPC": "https://user:pw@node.example.com:8545"},
            {"url": "https://***@node.example.com:8545"},
            id="url-with-userinfo",
        ),
        pytest.param(
            {"url": "https://api.example.com/v1/${KEY}?a=1"},
            {"KEY": "k"},
            {"url": "https://api.example.com/v1/***?a=1"},
            id="url-with-a-variable-further-on",
        ),
        pytest.param(
            {"host": "${HOST}", "password": "${PW}"},
            {"HOST": "mail.internal", "PW": "x"},
            {"host": "mail.internal", "password": "${PW}"},
            id="host-shown-password-not",
        ),
    ],
)
def test_shows_a_resolved_spec_redacted_by_its_structure(declared, environ, shown) -> None:
    resolved, _ = placeholders.resolve(declared, environ)

    assert shown_resolved(declared, resolved) == shown

from __future__ import annotations

import pytest

from probes.redaction import (
    is_secret_name,
    literal_secrets_in_url,
    redact_headers,
    redact_url,
    scrub,
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


def test_redacts_secret_header_values_and_keeps_placeholders() -> None:
    headers = {
        "Authorization": "Bearer 4f3c2b1a",
        "X-Api-Key": "k-123",
        "Cookie": "session=abc",
        "Proxy-Authorization": "Basic ${PROXY_CREDENTIALS}",
        "Accept": "application/json",
        "X-Request-Id": "42",
    }

    assert redact_headers(headers) == {
        "Authorization": "***",
        "X-Api-Key": "***",
        "Cookie": "***",
        "Proxy-Authorization": "Basic ${PROXY_CREDENTIALS}",
        "Accept": "application/json",
        "X-Request-Id": "42",
    }


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

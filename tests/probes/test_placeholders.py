from __future__ import annotations

from pathlib import Path

import pytest

from probes.placeholders import UnsetVariable, lookup, names, resolve


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Bearer ${TOKEN}", {"TOKEN"}),
        ("https://${USER}:${PASSWORD}@${HOST}/", {"USER", "PASSWORD", "HOST"}),
        ({"url": "${URL}", "headers": {"X-Key": "${KEY}"}, "codes": [200]}, {"URL", "KEY"}),
        (["${A}", ("${B}", "${A}")], {"A", "B"}),
        ("no placeholder", set()),
        ("$TOKEN and ${1TOKEN} and ${TO-KEN} are not placeholders", set()),
        (42, set()),
        (None, set()),
        ({}, set()),
    ],
)
def test_names_every_variable_a_value_refers_to(value: object, expected: set[str]) -> None:
    assert names(value) == expected


def test_resolves_every_placeholder_and_returns_the_values_substituted() -> None:
    spec = {
        "url": "https://${HOST}/v1?key=${KEY}",
        "headers": {"Authorization": "Bearer ${TOKEN}"},
        "expect_status": [200, 204],
        "retries": None,
        "pair": ("${HOST}", 1),
    }
    environ = {"HOST": "api.example.com", "KEY": "k-123", "TOKEN": "t-456"}

    resolved, substituted = resolve(spec, environ)

    assert resolved == {
        "url": "https://api.example.com/v1?key=k-123",
        "headers": {"Authorization": "Bearer t-456"},
        "expect_status": [200, 204],
        "retries": None,
        "pair": ["api.example.com", 1],
    }
    assert substituted == {"api.example.com", "k-123", "t-456"}
    assert spec["headers"] == {"Authorization": "Bearer ${TOKEN}"}, "the spec itself is kept"


def test_resolving_an_unset_variable_names_it() -> None:
    with pytest.raises(UnsetVariable) as unset:
        resolve({"headers": {"Authorization": "Bearer ${TOKEN}"}}, {"OTHER": "x"})

    assert unset.value.name == "TOKEN"
    assert str(unset.value) == "environment variable TOKEN is not set (nor TOKEN_FILE)"


def test_looks_a_variable_up_in_the_environment() -> None:
    assert lookup("TOKEN", {"TOKEN": "t-456"}) == "t-456"
    assert lookup("EMPTY", {"EMPTY": ""}) == ""


def test_looks_a_variable_up_in_the_file_named_by_name_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("t-456\n")

    assert lookup("TOKEN", {"TOKEN_FILE": str(secret)}) == "t-456"


def test_name_file_wins_over_the_variable_as_in_settings(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("from-file")

    assert lookup("TOKEN", {"TOKEN": "from-env", "TOKEN_FILE": str(secret)}) == "from-file"
    assert lookup("TOKEN", {"TOKEN": "from-env", "TOKEN_FILE": ""}) == "from-env"


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="neither"),
        pytest.param({"TOKEN_FILE": ""}, id="empty-name-file"),
        pytest.param({"TOKEN_FILE": "/nonexistent/token"}, id="unreadable-name-file"),
    ],
)
def test_a_variable_is_unset_without_a_value_or_a_readable_file(environ: dict[str, str]) -> None:
    with pytest.raises(UnsetVariable, match="TOKEN is not set"):
        lookup("TOKEN", environ)

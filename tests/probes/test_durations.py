from __future__ import annotations

import pytest

from probes.durations import format_duration, parse_duration, rough_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("5s", 5.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("0.25ms", 0.00025),
        ("90m", 5400.0),
        ("0s", 0.0),
        (" 5s\n", 5.0),
    ],
)
def test_parses_a_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "5 seconds",
        "-1s",
        "5",
        "5S",
        "5sec",
        "1h30m",
        "1e3s",
        ".5s",
        "s",
        "",
        "${TIMEOUT}",
        5,
        1.5,
        None,
    ],
)
def test_refuses_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError, match="is not a duration") as refused:
        parse_duration(text)

    assert repr(text) in str(refused.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3600.0, "1h"),
        (7200.0, "2h"),
        (5400.0, "90m"),
        (120.0, "2m"),
        (90.0, "90s"),
        (5.0, "5s"),
        (5, "5s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (61.5, "61500ms"),
        (1000.5, "1000500ms"),
        (0.0005, "0.0005s"),
        (0.00005, "0.00005s"),
        (0.0, "0ms"),
    ],
)
def test_formats_the_shortest_exact_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "text", ["1h", "90m", "2m", "61s", "1.5s", "500ms", "1.5ms", "1000.5s", "1234.567s", "0.05ms"]
)
def test_a_formatted_duration_parses_back_to_the_same_seconds(text: str) -> None:
    seconds = parse_duration(text)

    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (2.7, "2 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (86399, "23 h"),
        (694000, "8 d"),
    ],
)
def test_a_rough_duration_is_its_largest_whole_unit(seconds: float, text: str) -> None:
    assert rough_duration(seconds) == text

from __future__ import annotations

from typing import Any

import pytest

from probes.fields import Fields, Problem


def read(data: dict[str, Any]) -> tuple[Fields, list[Problem]]:
    problems: list[Problem] = []
    return Fields(data, "dependencies.yaml", "entry 1 'api'", problems, line=3), problems


def test_a_problem_names_the_file_line_entry_and_field() -> None:
    problem = Problem("deps.yaml", "entry 2 'mailer'", "port", "expected an integer", 12)

    assert str(problem) == "deps.yaml:12: entry 2 'mailer', field 'port': expected an integer"


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("integer", True, "expected an integer, got True"),
        ("integer", "3", "expected an integer, got '3'"),
        ("boolean", "yes please", "expected true or false, got 'yes please'"),
        ("string", 42, "expected a string, got 42"),
        ("integers", [200, True], "expected an integer or a list of integers"),
        ("string_map", {"X-Retry": None}, "expected a mapping of names to strings"),
        ("string_map", {"X-Debug": False}, "expected a mapping of names to strings"),
        ("duration", 5, "5 is not a duration"),
        ("duration", "0s", "must be longer than zero and at most 365 days"),
        ("duration", "9999999999h", "must be longer than zero and at most 365 days"),
        ("section", "3x", "expected a mapping, got '3x'"),
    ],
)
def test_refuses_a_value_of_the_wrong_type(method: str, value: Any, message: str) -> None:
    fields, problems = read({"field": value})

    getattr(fields, method)("field")

    (problem,) = problems
    assert problem.field == "field"
    assert problem.message.startswith(message)


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        ("integers", 200, [200]),
        ("integers", [200, 204], [200, 204]),
        (
            "string_map",
            {"X-Retry": 3, "Accept": "text/plain"},
            {"X-Retry": "3", "Accept": "text/plain"},
        ),
        ("duration", "1.5s", 1.5),
    ],
)
def test_reads_a_value_of_the_right_type(method: str, value: Any, expected: Any) -> None:
    fields, problems = read({"field": value})

    assert getattr(fields, method)("field") == expected
    assert problems == []


def test_a_null_value_is_absent() -> None:
    fields, problems = read({"group": None, "url": None})

    assert fields.string("group", "") == ""
    assert fields.string("url") is None  # a missing required field reads as None, once reported
    assert [(problem.field, problem.message) for problem in problems] == [("url", "required")]


@pytest.mark.parametrize("method", ["string", "boolean", "integer", "duration", "integers"])
def test_a_missing_required_field_reads_as_none_with_one_problem(method: str) -> None:
    fields, problems = read({})

    assert getattr(fields, method)("field") is None
    assert [(problem.field, problem.message) for problem in problems] == [("field", "required")]


def test_an_unknown_field_gets_the_closest_known_name_but_never_its_own() -> None:
    fields, problems = read({"timout": "5s", "name": "api", "colour": "red"})

    fields.reject_unread(["timeout", "name"])

    assert [problem.message for problem in problems] == [
        "unknown field (did you mean 'timeout'?)",
        "unknown field",
        "unknown field",
    ]

"""The YAML loader: PyYAML's safe reading, with locations, and bounded on hostile files."""

from __future__ import annotations

import tracemalloc

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes import located_yaml
from probes.located_yaml import MAX_DEPTH, MAX_NODES, LimitError

pytestmark = pytest.mark.no_database


def test_remembers_the_line_of_each_key_and_of_each_mapping() -> None:
    document = located_yaml.load("dependencies:\n  - name: a\n    kind: http\n")

    entry = document["dependencies"][0]
    assert (document.lines, entry.line, entry.lines) == (
        {"dependencies": 1},
        2,
        {"name": 2, "kind": 3},
    )


def test_refuses_a_key_written_twice_naming_both_lines() -> None:
    with pytest.raises(yaml.YAMLError, match=r"found the key 'a' twice \(first on line 1\)"):
        located_yaml.load("a: 1\nb: 2\na: 3\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- &x {a: 1, b: 2}\n- {<<: *x, b: 3}\n", [{"a": 1, "b": 2}, {"a": 1, "b": 3}]),
        ("- &x {a: 1}\n- &y {a: 2, c: 3}\n- {<<: [*x, *y]}\n", None),
        ("a: {<<: {b: 1}, <<: {b: 2, c: 3}}\n", {"a": {"b": 1, "c": 3}}),
        ("a: =\n", {"a": "="}),
        ("'<<': 1\n", {"<<": 1}),
    ],
)
def test_merges_keys_as_pyyaml_does(text: str, expected: object) -> None:
    loaded = located_yaml.load(text)

    assert loaded == (expected if expected is not None else yaml.safe_load(text))


def test_a_merged_key_keeps_the_line_it_was_written_on() -> None:
    document = located_yaml.load("base: &b\n  interval: 10s\nentry:\n  <<: *b\n  name: x\n")

    assert document["entry"].lines == {"interval": 2, "name": 5}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
def test_refuses_nesting_deeper_than_the_limit_without_recursing(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth

    # Past a thousand levels, libyaml refuses it first.
    with pytest.raises(yaml.YAMLError, match="nest"):
        located_yaml.load(text)


def test_reads_nesting_up_to_the_limit() -> None:
    depth = MAX_DEPTH - 1  # the document's own mapping is the first level
    loaded = located_yaml.load("a: " + "[" * depth + "1" + "]" * depth)

    value = loaded["a"]
    for _ in range(depth - 1):
        (value,) = value
    assert value == [1]


def billion_laughs(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    lines.append(f"dependencies:\n  - name: bomb\n    kind: http\n    url: *a{levels}")
    return "\n".join(lines) + "\n"


def test_refuses_aliases_that_expand_past_the_limit_before_building_them() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(LimitError, match=f"more than {MAX_NODES:,} values"):
            located_yaml.load(billion_laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # A count, not a time: the file's thousand-million values were never made.
    assert peak < 20 * 1024 * 1024


def test_aliases_share_what_their_anchor_built() -> None:
    document = located_yaml.load(billion_laughs(levels=3))

    assert document["a3"][0] is document["a2"]
    assert len(document["a3"][0][0][0]) == 10


def test_refuses_an_alias_inside_its_own_anchor() -> None:
    with pytest.raises(LimitError, match=r"the alias \*a is inside its own anchor"):
        located_yaml.load("a: &a [1, *a]\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: *nowhere\n", "found undefined alias"),
        ("a: &x 1\nb: &x 2\n", "found duplicate anchor"),
        ("--- 1\n--- 2\n", "expected a single document"),
        ("? [1, 2]\n: x\n", "found unhashable key"),
        ("a: !!python/object:os.system x\n", "is not supported here"),
        ("a: !!set {x, y}\n", "is not supported here"),
        ("a: " + "9" * 5000 + "\n", "cannot read"),
        ("a: !!timestamp tomorrow\n", "cannot read"),
        ("a: !!timestamp 2026-02-30\n", "cannot read"),
        ("a: !!bool maybe\n", "cannot read"),
        ("a: {<<: 1}\n", "expected a mapping or list of mappings for merging"),
    ],
)
def test_refuses_what_safe_yaml_refuses_as_a_yaml_error(text: str, message: str) -> None:
    with pytest.raises(yaml.YAMLError, match=message):
        located_yaml.load(text)


# --- the same values as PyYAML's safe loader, on any document -------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates()
)
keys = st.text(max_size=10) | st.integers(min_value=-1000, max_value=1000) | st.booleans()
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=30,
)


@settings(derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, flow=st.booleans())
def test_reads_any_document_as_the_safe_loader_does(document: object, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)

    assert located_yaml.load(text) == yaml.safe_load(text)


@settings(derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!<>|'\"#\n ,.?%@0\t\\")), max_size=80))
def test_any_text_is_read_or_refused_as_a_yaml_error(text: str) -> None:
    try:
        loaded = located_yaml.load(text)
    except yaml.YAMLError:
        return
    try:
        # The same events (libyaml's), built by PyYAML's safe composer and constructor.
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return  # stricter than PyYAML: a recursive alias, say
    assert loaded == expected


def test_a_key_on_off_yes_or_no_is_the_word_and_a_value_stays_a_boolean() -> None:
    text = "on: [down, up]\noff: yes\ntrue: on\nflags: [on, no]\n'yes': 1\n"

    assert located_yaml.load(text) == {
        "on": ["down", "up"],
        "off": True,
        True: True,
        "flags": [True, False],
        "yes": 1,
    }


def test_on_written_twice_quoted_and_not_is_a_key_written_twice() -> None:
    with pytest.raises(yaml.YAMLError, match="found the key 'on' twice"):
        located_yaml.load("on: [down]\n'on': [up]\n")

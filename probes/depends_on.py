"""depends_on: the dependencies an entry reaches through, read from the entry and checked
against the whole declaration: every name declared, no cycle (named by its chain)."""

from __future__ import annotations

from collections.abc import Callable

from probes.dependency_spec import DependencySpec
from probes.excerpts import excerpt
from probes.fields import LONGEST_LIST, Fields, Problem


def read(fields: Fields) -> tuple[str, ...]:
    """Names of other dependencies: one, or a list. Whether they exist is checked once every
    entry is read (_check_depends_on)."""
    value = fields.value("depends_on", [])
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        fields.problem("depends_on", "expected a dependency's name or a list of names")
        return ()
    if len(names) > LONGEST_LIST:
        fields.problem("depends_on", f"lists more than {LONGEST_LIST} names")
        return ()
    return tuple(dict.fromkeys(names))


def check(
    specs: list[DependencySpec],
    locate: Callable[[str], tuple[str, int | None]],
    source: str,
    problems: list[Problem],
) -> None:
    """Every name depends_on gives is declared, and no dependency depends on itself, however
    far round: a cycle is refused with its chain. `locate` gives an entry's place (its
    `where`, and the line of its depends_on)."""
    declared = {spec.name: spec for spec in specs}

    def problem(name: str, message: str) -> None:
        where, line = locate(name)
        problems.append(Problem(source, where, "depends_on", message, line))

    for spec in specs:
        for name in spec.depends_on:
            if name not in declared:
                problem(spec.name, f"{excerpt(name)} is not a declared dependency")
    for chain in cycles(declared):
        problem(chain[0], f"a cycle: {' -> '.join(chain)}")


def cycles(declared: dict[str, DependencySpec]) -> list[list[str]]:
    """Each cycle depends_on makes, as a chain from one of its names back to it: a
    depth-first walk, each name entered once (linear in names and edges)."""
    done: set[str] = set()
    cycles = []
    for root in declared:
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        stack = [iter(declared[root].depends_on)]
        while stack:
            name = next(stack[-1], None)
            if name is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
            elif name in on_path:
                cycles.append([*path[path.index(name) :], name])
            elif name in declared and name not in done:
                path.append(name)
                on_path.add(name)
                stack.append(iter(declared[name].depends_on))
    return cycles

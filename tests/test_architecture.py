"""The layout docs/architecture.md describes, held true: every module named, small modules
and functions, kinds that import no other kind."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from probes.kinds import KINDS
from tests.conftest import ROOT

PACKAGES = ("probes", "dashboard", "notifications", "api", "statuspage", "inbound")
LONGEST_MODULE = 400
LONGEST_FUNCTION = 60


def modules() -> list[Path]:
    """Every module of the apps with something in it, migrations aside."""
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path.read_text().strip()
    )


def test_the_architecture_document_names_every_module_and_no_other() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text()
    pattern = rf"`((?:{'|'.join(PACKAGES)})/[\w/]+\.py)`"
    named = {Path(found) for found in re.findall(pattern, document)}

    assert named == set(modules())


@pytest.mark.parametrize("path", modules(), ids=str)
def test_no_module_is_longer_than_400_lines_nor_a_function_than_60(path: Path) -> None:
    text = (ROOT / path).read_text()
    too_long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]

    assert len(text.splitlines()) <= LONGEST_MODULE
    assert too_long == []


def imported(path: Path) -> set[str]:
    """The modules `path` imports, anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_kind_imports_another_kind(kind: str) -> None:
    # A kind's modules: its own, and those named after it (s3_client.py, rpc_web3.py).
    own = sorted((ROOT / "probes" / "kinds").glob(f"{kind}*.py"))
    others = {f"probes.kinds.{name}" for name in KINDS if name != kind}

    for path in own:
        crossing = {name for name in imported(path.relative_to(ROOT)) if name in others}
        crossing |= {
            name
            for name in imported(path.relative_to(ROOT))
            if any(name.startswith(f"{other}_") for other in others)
        }
        assert crossing == set(), path

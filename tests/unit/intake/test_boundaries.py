"""`intake` is an edge package: it imports nothing from kravsak, consumers or projections."""

from __future__ import annotations

import ast
from pathlib import Path

import intake

FORBIDDEN = ("kravsak", "consumers", "projections")


def test_intake_imports_nothing_from_the_composition_root_or_the_read_side() -> None:
    offenders = []
    for path in Path(intake.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]

    assert offenders == []

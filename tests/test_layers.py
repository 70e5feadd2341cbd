"""The layers of DESIGN.md, read from the imports: ``connectors/`` never import ``webhooks/``, and the core
(``bridge/``) imports neither Flask nor the webhooks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` and the top-level names it imports, at any depth of its code."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_connectors_never_import_the_webhooks() -> None:
    assert {m for m, names in imports("connectors").items() if "webhooks" in names} == set()


def test_the_core_imports_neither_flask_nor_the_webhooks() -> None:
    assert {m for m, names in imports("bridge").items() if names & {"flask", "werkzeug", "webhooks"}} == set()

"""Members install only the client: nothing under clients/ may depend on the server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import clients


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_client_module_imports_the_broker() -> None:
    """No file under clients/ imports broker or any of its modules."""
    root = Path(clients.__file__).parent
    offenders = {
        str(path.relative_to(root)): name
        for path in root.rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] == "broker"
    }
    assert offenders == {}


def test_importing_the_clients_loads_no_broker_module() -> None:
    """Importing the SDK and the CLI in a fresh interpreter pulls in no broker module."""
    probe = (
        "import sys, clients.sdk, clients.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'broker'))"
    )
    root = Path(clients.__file__).parent.parent
    result = subprocess.run(  # noqa: S603 -- fixed argv, our own interpreter
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

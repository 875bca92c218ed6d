"""The audit core stays pure and documented: no IO, no clock, a docstring on everything public."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import broker.audit
from broker.audit import chain, codec, verify

AUDIT_DIR = Path(broker.audit.__file__).parent
MODULES = sorted(AUDIT_DIR.glob("*.py"))

# IO, databases, the clock and the rest of the broker stay out: times are
# passed in, keys are behind callables, storage is the store's business.
FORBIDDEN = {
    "aiohttp",
    "sqlalchemy",
    "asyncio",
    "time",
    "datetime",
    "os",
    "pathlib",
    "random",
    "secrets",
    "socket",
    "cryptography",
    "broker.store",
    "broker.api",
    "broker.services",
    "broker.crypto",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_no_io_clock_or_outer_layer(path: Path) -> None:
    """No module of broker/audit imports IO, a database, the clock, randomness or crypto."""
    bad = {
        name
        for name in _imports(path)
        for forbidden in FORBIDDEN
        if name == forbidden or name.startswith(forbidden + ".")
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("module", [broker.audit, chain, codec, verify], ids=lambda m: m.__name__)
def test_every_public_name_is_exported_and_documented(module: object) -> None:
    """Each module has a docstring and an __all__ of documented functions and classes."""
    assert inspect.getdoc(module)
    exported = getattr(module, "__all__", None)
    assert exported, "explicit __all__"
    for name in exported:
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} needs a docstring"
            for member_name, member in vars(obj).items():
                if not member_name.startswith("_") and callable(member):
                    assert inspect.getdoc(member), f"{name}.{member_name} needs a docstring"


def test_package_exports_every_module_export() -> None:
    """broker.audit re-exports everything its modules export."""
    for module in (chain, codec, verify):
        assert set(module.__all__) <= set(broker.audit.__all__)

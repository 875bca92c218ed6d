"""The ``council`` command tree: one module per resource, registered here in one place.

To add commands, write ``clients/cli/commands/<resource>.py`` with its commands
(:func:`clients.cli._command.council_command`) or its group
(:class:`clients.cli._command.CouncilGroup`) in a ``COMMANDS`` tuple, and name
the module in :data:`MODULES`.
"""

from __future__ import annotations

from types import ModuleType

import click

from clients.cli.commands import (
    audit,
    consultations,
    demo,
    feedback,
    governance,
    items,
    members,
    provider,
    stream,
    taxii,
)

__all__ = ["MODULES", "register"]

MODULES: tuple[ModuleType, ...] = (
    members,
    items,
    provider,
    feedback,
    consultations,
    governance,
    audit,
    stream,
    taxii,
    demo,
)
"""Every module whose ``COMMANDS`` the ``council`` group offers."""


def register(root: click.Group) -> None:
    """Add every command of :data:`MODULES` to ``root``; a name given twice is an error."""
    for module in MODULES:
        for command in module.COMMANDS:
            if command.name in root.commands:
                raise RuntimeError(f"two `council {command.name}` commands ({module.__name__})")
            root.add_command(command)

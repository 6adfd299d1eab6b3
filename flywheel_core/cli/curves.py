"""Commands for this subject; see the issue that builds it."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add this module's commands to the `flywheel` group."""

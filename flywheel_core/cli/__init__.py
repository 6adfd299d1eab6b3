"""The ``flywheel`` command: thin over the same core functions the pages call.

Every command takes ``--json`` for machine-readable output on stdout. Exit codes: 0 success, 2 bad
input (one line on stderr, never a traceback), 1 a bug.
"""

from __future__ import annotations

import gc
import sys

import click

from flywheel_core.cli._common import cli
from flywheel_core.exceptions import FlywheelError

__all__ = ["cli", "main"]


def _register() -> None:
    from flywheel_core.cli import core, curves, data, datasets, loop, models, report_cmd, team, train

    for module in (core, data, datasets, loop, train, models, curves, team, report_cmd):  # models wraps `versions`
        module.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _register()
    try:
        _run(argv)
    finally:
        # The interpreter's last garbage collections would walk every object of the libraries loaded
        # (a fifth of a second here); frozen objects are skipped and the OS frees the memory.
        gc.freeze()


def _run(argv: list[str] | None) -> None:
    try:
        # Outside standalone mode Click returns an Exit's code (``flywheel verdict --require`` uses 3).
        code = cli.main(args=argv, prog_name="flywheel", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except FlywheelError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)

"""The ``odoo-ops`` executable's entry point: answers ``--version`` and the
root ``--help`` without importing click or the rest of odoo-ops, then hands
everything else to :func:`odoo_ops.cli.main.main`.

The root help is click's own rendering, kept in :mod:`odoo_ops.cli.root_help`
for the widths click uses most (78 columns when output is piped or the
terminal is 80 wide, 98 on terminals of 102 columns or more);
``tests/e2e/test_command_tree.py`` renders it with click and compares, and
``python -m odoo_ops.cli.root_help`` writes it again. At any other width,
click renders it as usual.
"""

from __future__ import annotations

import sys
from typing import Any


def _help_width() -> int:
    """The width click's help formatter would use (its own rule, max 100)."""
    import shutil

    return max(min(shutil.get_terminal_size().columns, 100) - 2, 50)


def _answer(text: str) -> None:
    """Print ``text`` and exit 0; into a closed pipe, exit 141 quietly (as
    every other command does, see :mod:`odoo_ops.cli.pipes`)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        from odoo_ops.cli.pipes import exit_quietly

        exit_quietly()
    sys.exit(0)


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from odoo_ops import __version__

        _answer(f"odoo-ops, version {__version__}\n")
    if args in (["--help"], ["-h"]):
        from odoo_ops.cli.root_help import ROOT_HELP

        text = ROOT_HELP.get(_help_width())
        if text is not None:
            _answer(text)
    from odoo_ops.cli.main import main as full_main

    return full_main(argv)


if __name__ == "__main__":
    main()

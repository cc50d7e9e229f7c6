"""The ``agentcli`` console script. ``--version`` is answered before anything heavy loads."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["-V"]):
        from .._version import __version__

        print(f"agentcli {__version__}")
        return
    from .app import app
    from .one_command import narrowed

    narrowed(app, args)(args=args, prog_name="agentcli")

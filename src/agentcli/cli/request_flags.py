"""``-o NAME=VALUE`` on ``run`` and ``chat``: the option's type, and its checks before anything
starts (a bad value is a usage error, exit 2, naming the valid options and ranges)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pydantic import JsonValue

__all__ = ["RequestOpt", "request_changes"]

RequestOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="NAME=VALUE",
        help="A request option, saved with the session (repeatable): temperature, top_p, "
        "max_output_tokens, seed, stop; NAME= drops a saved one.",
    ),
]


def request_changes(pairs: list[str] | None, spec: str) -> dict[str, JsonValue]:
    """The ``-o`` changes, checked for the provider ``spec`` names (exit 2 if one is wrong)."""
    if not pairs:
        return {}
    from ..agents.factory import parse_spec
    from ..agents.registry import PROVIDERS
    from ..request_options import check_options, parse_options

    changes = parse_options(pairs)
    kind = parse_spec(spec).kind
    info = PROVIDERS.get(kind)
    check_options({k: v for k, v in changes.items() if v is not None}, info.wire if info else None)
    if kind == "echo":
        from rich.text import Text

        from .console import err_console

        err_console().print(Text("-o options are saved but ignored by the echo agent", "yellow"))
    return changes

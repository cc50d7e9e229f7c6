"""``-o NAME=VALUE`` on ``run`` and ``chat``: the option's type, and its checks before anything
starts (a bad value is a usage error, exit 2, naming the valid options and ranges); ``/set`` in
the chat checks the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import JsonValue

__all__ = ["RequestOpt", "checked_changes", "ignores_options", "request_changes", "spec_wire"]

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
    changes = checked_changes(pairs, spec)
    if ignores_options(spec):
        from rich.text import Text

        from .console import err_console

        err_console().print(Text("-o options are saved but ignored by the echo agent", "yellow"))
    return changes


def checked_changes(pairs: Sequence[str], spec: str, given_as: str = "-o") -> dict[str, JsonValue]:
    """``NAME=VALUE`` texts as changes (``None``: drop it), checked for the agent ``spec`` names
    as ``-o`` and ``/set`` check them (``InvalidInputError`` naming valid options and ranges)."""
    from ..request_options import check_options, parse_options

    changes = parse_options(pairs, given_as)
    check_options({k: v for k, v in changes.items() if v is not None}, spec_wire(spec))
    return changes


def spec_wire(spec: str) -> str | None:
    """The wire format of the provider ``spec`` names; ``None`` for an agent of our own."""
    from ..agents.factory import parse_spec
    from ..agents.registry import PROVIDERS

    info = PROVIDERS.get(parse_spec(spec).kind)
    return info.wire if info else None


def ignores_options(spec: str) -> bool:
    """Whether the agent ``spec`` names takes no request options (the echo agent)."""
    from ..agents.factory import parse_spec

    return parse_spec(spec).kind == "echo"

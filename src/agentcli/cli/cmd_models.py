"""``agentcli models``: the command's options; the listing lives in ``model_table`` (imported
when the command runs, with genai-prices)."""

from __future__ import annotations

from typing import Annotated

import typer

from .exits import handle_errors

__all__ = ["models"]


@handle_errors
def models(
    filter_text: Annotated[
        str | None,
        typer.Argument(
            metavar="FILTER",
            help="Only models whose id, name or provider:model contains this (any case).",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option("--provider", "-p", metavar="NAME", help="Only this provider's models."),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every provider genai-prices knows, not only ours.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Models with their context window, price and --agent spec (genai-prices' table)."""
    from .model_table import models_command

    models_command(filter_text, provider=provider, every=every, json_output=json_output)

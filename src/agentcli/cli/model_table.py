"""The models genai-prices knows (its bundled table: nothing is fetched), with context window
and price, and the ``--agent`` spec for those agentcli can talk to.

By default only the providers agentcli has agents for are listed; ``--provider NAME`` picks
any provider of the table and ``--all`` lists every one. genai-prices is imported only here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, Provider
    from rich.table import Table

__all__ = ["ModelRow", "model_rows", "models_command"]


@dataclass(frozen=True, slots=True)
class ModelRow:
    provider: str
    model: str
    name: str | None
    context_window: int | None
    input_per_mtok: float | None  # US dollars per million tokens (the base tier if tiered)
    output_per_mtok: float | None
    tiered: bool  # the price changes with the prompt's size
    deprecated: bool
    spec: str | None  # what --agent takes; None when agentcli has no agent for the provider


def models_command(
    filter_text: str | None, *, provider: str | None, every: bool, json_output: bool
) -> None:
    from .console import out_console, print_json
    from .rows import Rows

    rows = model_rows(filter_text, provider=provider, every=every)
    if json_output:
        print_json([asdict(row) for row in rows])
        return
    console = out_console()
    if not rows:
        from rich.text import Text

        from .console import err_console

        ollama = provider is not None and provider.lower() == "ollama"
        err_console().print(Text(_OLLAMA if ollama else "no models match", style="yellow"))
        return
    lines = [
        [
            row.provider,
            row.model,
            "" if row.context_window is None else str(row.context_window),
            _price(row.input_per_mtok),
            _price(row.output_per_mtok),
            row.spec or "",
        ]
        for row in rows
    ]
    console.print(Rows(_table(rows), lines))
    if console.is_terminal:
        console.print(_NOTE, style="dim")


_OLLAMA = "ollama:MODEL runs any model your own server has; genai-prices prices none of them"
_NOTE = (
    "prices: US dollars per million tokens, input / output (+: more for long prompts); "
    "ollama:MODEL runs any model your own server has"
)


def model_rows(filter_text: str | None, *, provider: str | None, every: bool) -> list[ModelRow]:
    """The table's models, filtered: a provider id (exact), a substring of the model's id, its
    name or ``provider:model`` (so ``anthropic`` or ``openai:gpt-4o`` find what they say)."""
    from datetime import UTC, datetime

    from genai_prices.data_snapshot import get_snapshot

    from ..agents.registry import PROVIDERS
    from ..errors import InvalidInputError

    providers = get_snapshot().providers
    if provider is not None:
        chosen = [p for p in providers if p.id == provider.lower()]
        if not chosen and provider.lower() not in PROVIDERS:
            known = ", ".join(p.id for p in providers)
            raise InvalidInputError(f"genai-prices has no provider {provider!r}; it has {known}")
    else:
        chosen = [p for p in providers if every or p.id in PROVIDERS]
    needle = (filter_text or "").lower()
    now = datetime.now(tz=UTC)
    return [
        _row(p, m, now, p.id in PROVIDERS)
        for p in chosen
        for m in p.models
        if needle in f"{p.id}:{m.id}".lower() or needle in (m.name or "").lower()
    ]


def _row(provider: Provider, model: ModelInfo, now: Any, ours: bool) -> ModelRow:
    prices = model.get_prices(now)
    input_price, input_tiers = _rate(getattr(prices, "input_mtok", None))
    output_price, output_tiers = _rate(getattr(prices, "output_mtok", None))
    return ModelRow(
        provider=provider.id,
        model=model.id,
        name=model.name,
        context_window=model.context_window,
        input_per_mtok=input_price,
        output_per_mtok=output_price,
        tiered=input_tiers or output_tiers,
        deprecated=bool(model.deprecated),
        spec=f"{provider.id}:{model.id}" if ours and _usable_as_is(model.id) else None,
    )


def _usable_as_is(model_id: str) -> bool:
    """Fine-tuned entries (``ft:gpt-4o-mini``) stand for ids that go on with your own suffix."""
    return not model_id.startswith("ft:") and not model_id.endswith(("-", ".ft"))


def _rate(value: Any) -> tuple[float | None, bool]:
    """A price per million tokens and whether it has tiers (their base price is given)."""
    if isinstance(value, Decimal):
        return float(value), False
    base = getattr(value, "base", None)  # TieredPrices
    if isinstance(base, Decimal):
        return float(base), True
    return None, False


def _price(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _table(rows: list[ModelRow]) -> Table:
    from rich.table import Table
    from rich.text import Text

    from .sanitize import sanitize_inline

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("provider", no_wrap=True)
    table.add_column("model", style="cyan", no_wrap=True)
    table.add_column("context", justify="right", no_wrap=True)
    table.add_column("$ in/out", justify="right", no_wrap=True)
    table.add_column("--agent", no_wrap=True, overflow="ellipsis")
    for row in rows:
        window = "" if row.context_window is None else f"{row.context_window:,}"
        tier = "+" if row.tiered else ""
        price = f"{_price(row.input_per_mtok)} / {_price(row.output_per_mtok)}{tier}"
        table.add_row(
            Text(sanitize_inline(row.provider, 40)),
            Text(sanitize_inline(row.model, 80), style="dim" if row.deprecated else ""),
            window,
            price if row.input_per_mtok is not None else "",
            Text(sanitize_inline(row.spec or "", 120), style="magenta"),
        )
    return table

"""Cost from genai-prices: exact, fast for linearly priced models, never 0 when unknown."""

from __future__ import annotations

import random

import pytest
from genai_prices import Usage, calc_price

from agentcli import pricing


@pytest.mark.parametrize(
    ("model", "provider", "linear"),
    [
        ("gpt-4o-mini", "openai", True),
        ("gpt-5", "openai", True),
        ("claude-sonnet-4-6", "anthropic", True),
        ("claude-haiku-4-5", "anthropic", True),
        ("claude-sonnet-4-5", "anthropic", False),  # long-context pricing is tiered
    ],
)
def test_cost_matches_genai_prices_exactly(model: str, provider: str, linear: bool) -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible test data, not secrets
    for _ in range(100):
        total = rng.randint(0, 400_000)
        read = rng.randint(0, total // 2)
        write = rng.randint(0, (total - read) // 2)
        output = rng.randint(0, 20_000)
        ours = pricing.price(
            model,
            provider,
            input_tokens=total,
            output_tokens=output,
            cache_read_tokens=read,
            cache_write_tokens=write,
        )
        usage = Usage(
            input_tokens=total,
            output_tokens=output,
            cache_read_tokens=read or None,
            cache_write_tokens=write or None,
        )
        expected = calc_price(usage, model, provider_id=provider).total_price
        assert ours.cost == float(expected)
    assert (pricing._rates[(model, provider)][0] is not None) is linear


def test_unknown_model_has_a_note_not_a_cost() -> None:
    found = pricing.price("not-a-model-xyz", "openai", input_tokens=10, output_tokens=10)
    assert found == pricing.Price(
        None, "price unknown: genai-prices has no openai model 'not-a-model-xyz'"
    )
    local = pricing.price("llama3.2", "ollama", input_tokens=10, output_tokens=10)
    assert local == pricing.Price(None, "no price for ollama model 'llama3.2'")


def test_zero_usage_costs_zero_for_a_known_model() -> None:
    assert pricing.price("gpt-4o-mini", "openai", input_tokens=0, output_tokens=0).cost == 0


def test_context_windows() -> None:
    assert pricing.context_window("gpt-4o-mini", "openai") == 128_000
    assert pricing.context_window("claude-future-9", "anthropic") == 200_000  # the fallback table
    assert pricing.context_window("mystery", "openai") is None
    assert pricing.context_window("llama3.2", "ollama") is None


def test_each_request_of_a_turn_is_priced_alone() -> None:
    # Long-context tiers apply per request: two 150k prompts are not one 300k prompt.
    from agentcli.agents.accounting import TurnUsage, price_rounds
    from agentcli.agents.wire.base import Round, RoundUsage

    rounds = [RoundUsage(150_000, 10), RoundUsage(150_000, 10)]

    one = pricing.price("claude-sonnet-4-5", "anthropic", input_tokens=150_000, output_tokens=10)
    merged = pricing.price("claude-sonnet-4-5", "anthropic", input_tokens=300_000, output_tokens=20)
    assert one.cost is not None
    assert price_rounds("claude-sonnet-4-5", "anthropic", rounds).cost == 2 * one.cost
    assert merged.cost != 2 * one.cost
    # A turn of two requests is priced the same way, into the typed usage.
    turn = TurnUsage()
    for usage in rounds:
        turn.add(Round(text="", tool_calls=[], usage=usage, model="claude-sonnet-4-5"))
    typed = turn.usage("claude-sonnet-4-5", "anthropic", "Anthropic")
    assert (typed.cost, typed.cost_note) == (2 * one.cost, None)
    assert (typed.input_tokens, typed.output_tokens, typed.requests) == (300_000, 20, 2)
    assert typed.context_tokens == 150_010

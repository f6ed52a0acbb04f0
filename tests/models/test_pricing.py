"""Pricing: a declared price wins, else genai-prices from its bundled snapshot, else the cost is unknown."""

from __future__ import annotations

import random
from decimal import Decimal

import genai_prices

from pilotgate.models import CallCost, ModelPricing, genai_prices_cost, money
from pilotgate.spec import Price


def test_a_declared_price_wins_over_genai_prices() -> None:
    price = Price(input_per_mtok=Decimal("0.10"), output_per_mtok=Decimal("0.20"))
    cost = ModelPricing(declared=price, model_ref="gpt-4o-mini").cost(1_000_000, 500_000)
    assert cost == CallCost(Decimal("0.2"), "declared")
    assert cost.receipt_fields() == {
        "cost": "0.2",
        "price_source": "declared",
        "genai_prices_version": None,
        "price_note": None,
    }


def test_genai_prices_prices_a_model_it_knows_and_records_its_version() -> None:
    cost = ModelPricing(model_ref="gpt-4o-mini", provider_api_url="https://api.openai.com/v1").cost(1000, 500)
    # $0.15 per million input tokens and $0.60 per million output tokens in the bundled snapshot
    assert cost.amount == Decimal("0.00045")
    assert cost.source == "genai-prices"
    assert cost.genai_prices_version == genai_prices.__version__
    assert cost.note == "priced as openai/gpt-4o-mini"
    assert cost.receipt_fields()["cost"] == "0.00045"


def test_an_endpoint_genai_prices_does_not_know_falls_back_to_the_model_id() -> None:
    cost = genai_prices_cost("gpt-4o-mini", 1000, 500, "http://127.0.0.1:8000/v1")
    assert cost.amount == Decimal("0.00045") and "openai/gpt-4o-mini" in (cost.note or "")


def test_an_unknown_model_has_an_unknown_cost_not_zero() -> None:
    cost = ModelPricing(model_ref="llama-local-finetune-7", provider_api_url="http://127.0.0.1:8000/v1").cost(
        10, 10
    )
    assert cost.amount is None and not cost.known
    assert cost.source == "unknown"
    assert cost.genai_prices_version == genai_prices.__version__
    assert "declare `price`" in (cost.note or "")
    assert cost.receipt_fields()["cost"] is None


def test_the_reference_model_is_free() -> None:
    cost = ModelPricing(free=True).cost(10_000, 10_000)
    assert cost.amount == 0 and cost.source == "free"
    assert cost.receipt_fields()["cost"] == "0"


def test_money_is_a_plain_decimal_string() -> None:
    assert money(Decimal("1.5E-7")) == "0.00000015"
    assert money(Decimal("2.000")) == "2"
    assert money(Decimal(0)) == "0"
    assert money(Decimal("12.30")) == "12.3"


def test_remembered_matches_and_amounts_agree_with_genai_prices_for_every_usage() -> None:
    """The match and the amount are remembered between calls; each usage still gets its own price."""
    url = "https://api.openai.com/v1"
    for input_tokens, output_tokens in [(1000, 500), (1000, 500), (0, 0), (123_457, 9), (1000, 500)]:
        cost = genai_prices_cost("gpt-4o-mini", input_tokens, output_tokens, url)
        usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        expected = genai_prices.calc_price(usage, "gpt-4o-mini", provider_api_url=url)
        assert cost.amount == Decimal(expected.total_price)
        assert cost.note == f"priced as {expected.provider.id}/{expected.model.id}"
    for _ in range(2):
        assert genai_prices_cost("no-such-model-anywhere", 10, 10).amount is None


def test_flat_rates_price_every_bundled_model_as_genai_prices_does() -> None:
    # The shortcut for flat per-token prices must give calc_price's amount for every model it applies to,
    # at token counts from none to past the tiers some models have.
    from datetime import UTC, datetime

    from genai_prices import Usage
    from genai_prices.data import providers

    from pilotgate.models.pricing import _flat_rates

    rng = random.Random(3)
    now = datetime.now(tz=UTC)
    applied = 0
    for provider in providers:
        for model in provider.models:
            price = model.get_prices(now)
            rates = _flat_rates(price)
            if rates is None:
                continue
            applied += 1
            for tokens_in, tokens_out in [
                (0, 0),
                (1, 1),
                *((rng.randint(0, 400_000), rng.randint(0, 60_000)) for _ in range(5)),
            ]:
                usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
                expected = Decimal(model.calc_price(usage, provider).total_price)
                got = (Decimal(tokens_in) * rates[0] + Decimal(tokens_out) * rates[1]) / Decimal(1_000_000)
                assert got == expected, (provider.id, model.id, tokens_in, tokens_out)
    assert applied > 100  # the shortcut covers most of the snapshot, not a handful

"""What one model call cost: a price declared in pilot.yaml wins, else genai-prices, else unknown.

Money is a ``Decimal`` here and a string in receipts. genai-prices is read from the snapshot bundled with
the installed package (its updater is never started, so pricing needs no network); its version goes into
every receipt it priced, so old costs can be recomputed. A model nobody prices has an *unknown* cost,
recorded as such, never as zero: a zero would hide spend from budgets and the economics report. The offline
reference model costs nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from pilotgate.spec.sections.llm import Price

PriceSource = Literal["declared", "genai-prices", "free", "unknown"]
"""Where a cost came from: pilot.yaml's `price`, genai-prices, a model that costs nothing, or nowhere."""

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class CallCost:
    """The cost of one call, where its price came from, and why it is unknown when it is."""

    amount: Decimal | None
    """None when no price is known for the model."""
    source: PriceSource
    genai_prices_version: str | None = None
    """The genai-prices package version that priced the call (only when it did)."""
    note: str | None = None
    """Which genai-prices provider matched, or why the cost is unknown."""

    @property
    def known(self) -> bool:
        """True when the amount is known."""
        return self.amount is not None

    def receipt_fields(self) -> dict[str, Any]:
        """The cost as a receipt records it: the amount as a decimal string (or null) and its provenance."""
        return {
            "cost": money(self.amount) if self.amount is not None else None,
            "price_source": self.source,
            "genai_prices_version": self.genai_prices_version,
            "price_note": self.note,
        }


def money(amount: Decimal) -> str:
    """A decimal amount as a plain string, never in exponent form (``0.00000015``, not ``1.5E-7``)."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


FREE = CallCost(Decimal(0), "free", note="the offline reference model")


@dataclass(frozen=True)
class ModelPricing:
    """How one routed model is priced: declared, looked up in genai-prices, or free."""

    declared: Price | None = None
    """pilot.yaml's `price`; wins over genai-prices."""
    model_ref: str | None = None
    """The model id to look up in genai-prices; None: not priced there."""
    provider_api_url: str | None = None
    """The endpoint's base URL, which genai-prices uses to tell the provider apart (api.openai.com, ...)."""
    free: bool = False
    """True for models that cost nothing per call (the offline reference model)."""

    def cost(self, input_tokens: int, output_tokens: int) -> CallCost:
        """The cost of a call with these token counts."""
        if self.free:
            return FREE
        if self.declared is not None:
            amount = (
                Decimal(input_tokens) * self.declared.input_per_mtok
                + Decimal(output_tokens) * self.declared.output_per_mtok
            ) / MILLION
            return CallCost(amount, "declared")
        if self.model_ref is None:
            return CallCost(None, "unknown", note="no price declared and no model id to look up")
        return genai_prices_cost(self.model_ref, input_tokens, output_tokens, self.provider_api_url)


def genai_prices_cost(
    model_ref: str, input_tokens: int, output_tokens: int, provider_api_url: str | None = None
) -> CallCost:
    """Price a call from genai-prices' bundled snapshot; an unknown model gives an unknown cost.

    The endpoint URL is tried first, since it names the provider exactly (api.openai.com is OpenAI). A URL
    genai-prices does not know (a local server, a gateway) falls back to the model id alone, and the
    provider it matched is noted in the receipt: declare a `price` when that guess is wrong.

    The match is looked up once per (model, URL) and kept (the snapshot never changes while pilotgate
    runs), and a price is computed once per (price in force, token counts): the full lookup cost ~0.2 ms
    of CPU a call (measured), a tenth of the eval runner's budget per case.
    """
    from datetime import UTC, datetime

    from genai_prices import Usage

    package = genai_prices_version()
    found = _match(model_ref, provider_api_url)
    if found is None:
        return CallCost(
            None,
            "unknown",
            genai_prices_version=package,
            note=f"genai-prices {package} has no price for {model_ref!r}; declare `price` in pilot.yaml",
        )
    provider, model, note = found
    model_price = model.get_prices(datetime.now(tz=UTC))  # the price in force now (some vary by date)
    rates = _flat_rates(model_price)
    if rates is not None:
        amount = (Decimal(input_tokens) * rates[0] + Decimal(output_tokens) * rates[1]) / MILLION
        return CallCost(amount, "genai-prices", genai_prices_version=package, note=note)
    key = (id(model_price), input_tokens, output_tokens)
    known = _AMOUNTS.get(key)
    if known is None or known[0] is not model_price:
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        if len(_AMOUNTS) >= MAX_REMEMBERED_AMOUNTS:
            _AMOUNTS.clear()
        known = (model_price, Decimal(model.calc_price(usage, provider).total_price))
        _AMOUNTS[key] = known
    return CallCost(known[1], "genai-prices", genai_prices_version=package, note=note)


MAX_REMEMBERED_AMOUNTS = 4096

_UNUSED_BY_A_CHAT_CALL = frozenset({"web_searches_kcount", "storage_searches_kcount"})
"""Per-use prices a call with only input and output tokens never incurs (besides other token kinds)."""


def _flat_rates(model_price: Any) -> tuple[Decimal, Decimal] | None:
    """(input, output) per million tokens when that is all a call with only input and output tokens pays.

    genai-prices' general ``calc_price`` resolves units and infers missing counts for every usage kind:
    ~140 µs a call (measured), and token counts differ on every call, so remembering amounts does not
    help. A price that is one flat rate per input and per output token (no tiers, no per-request fee)
    is computed here directly; a test holds this equal to ``calc_price`` over the whole bundled snapshot.
    """
    cached = _FLAT.get(id(model_price))
    if cached is not None and cached[0] is model_price:
        return cached[1]
    prices = {key: value for key, value in vars(model_price).items() if value is not None}
    flat = None
    rate_in, rate_out = prices.get("input_mtok", Decimal(0)), prices.get("output_mtok", Decimal(0))
    others = set(prices) - {"input_mtok", "output_mtok"}
    if (
        type(rate_in) is Decimal
        and type(rate_out) is Decimal
        and all(key.endswith("_mtok") or key in _UNUSED_BY_A_CHAT_CALL for key in others)
    ):
        flat = (rate_in, rate_out)
    if len(_FLAT) >= MAX_REMEMBERED_AMOUNTS:
        _FLAT.clear()
    _FLAT[id(model_price)] = (model_price, flat)
    return flat


_FLAT: dict[int, tuple[Any, tuple[Decimal, Decimal] | None]] = {}

_AMOUNTS: dict[tuple[int, int, int], tuple[Any, Decimal]] = {}
"""(id of the price in force, input tokens, output tokens) -> (that price, the amount). The price object
is kept beside its id so the id cannot be reused by another object while the entry lives."""

_MATCHES: dict[tuple[str, str | None], tuple[Any, Any, str] | None] = {}
"""(model id, endpoint URL) -> (genai-prices provider, model, note) or None when nothing matched."""


def _match(model_ref: str, provider_api_url: str | None) -> tuple[Any, Any, str] | None:
    """The genai-prices provider and model for a model id at an endpoint (found once, then remembered)."""
    key = (model_ref, provider_api_url)
    if key in _MATCHES:
        return _MATCHES[key]
    with _MATCHING:  # the first calls of many threads at once look it up once, not once each
        if key in _MATCHES:
            return _MATCHES[key]
        found = _lookup(model_ref, provider_api_url)
        _MATCHES[key] = found
        return found


_MATCHING = threading.Lock()


def _lookup(model_ref: str, provider_api_url: str | None) -> tuple[Any, Any, str] | None:
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=0, output_tokens=0)
    try:
        try:
            if provider_api_url is None:
                raise LookupError("no endpoint URL")
            priced = calc_price(usage, model_ref, provider_api_url=provider_api_url)
        except LookupError:
            priced = calc_price(usage, model_ref)
    except LookupError:
        found = None
    else:
        found = (priced.provider, priced.model, f"priced as {priced.provider.id}/{priced.model.id}")
    return found


@cache
def genai_prices_version() -> str | None:
    """The installed genai-prices version, or None when it is not installed."""
    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return None

"""What an execution cost: the agent's own figure, else genai-prices' data, else unknown.

A reported cost always wins. Otherwise the cost is computed from provider, model and token usage
at the execution's own time (prices change; an execution from last March is priced at March's
prices). A model the price data does not know is ``unknown`` with a cost of zero, never an error:
``manage.py recompute_unknown_costs`` books a correction once the data learns the model.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import genai_prices
from genai_prices import Usage, calc_price, data_snapshot
from genai_prices.types import TieredPrices

from executions.models import CostSource

logger = logging.getLogger(__name__)

MONEY_PLACES = Decimal("0.00000001")  # the ledger keeps 8 decimal places of a dollar


def price_data_version() -> str:
    """The genai-prices release whose bundled data priced a row (kept with the row)."""
    return f"genai-prices {getattr(genai_prices, '__version__', '?')}"


@dataclass(frozen=True)
class Cost:
    usd: Decimal
    source: str
    version: str = ""


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(MONEY_PLACES)


def cost_of(
    *,
    reported: Decimal | None,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    at: datetime | None,
    pricer: "Pricer | None" = None,
) -> Cost:
    """The cost of one execution. Never raises for an unknown model or provider. A batch passes
    its :class:`Pricer` so that price data is looked up once per model, not once per row."""
    if reported is not None:
        return Cost(quantize(Decimal(reported)), CostSource.REPORTED)
    computed = (pricer.compute if pricer is not None else compute)(
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        at=at,
    )
    if computed is None:
        return Cost(Decimal(0), CostSource.UNKNOWN)
    return Cost(computed, CostSource.COMPUTED, price_data_version())


def compute(
    *,
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_read_tokens: int,
    at: datetime | None,
) -> Decimal | None:
    """The price data's cost, or None when it cannot say (no model, unknown model or provider)."""
    if not model:
        return None
    # genai-prices counts cache reads inside input tokens, as the ledger does.
    usage = Usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read_tokens or None,
    )
    try:
        result = calc_price(usage, model, provider_id=provider or None, genai_request_timestamp=at)
    except LookupError:
        return None
    except Exception:  # price data is outside input; a bug in it must not fail an ingestion
        logger.warning("genai-prices failed for %s/%s", provider, model, exc_info=True)
        return None
    return quantize(result.total_price)


PROBE_TOKENS = 10**6


class Pricer:
    """Prices many rows with the same answers as :func:`compute`, for a fraction of the work.

    ``compute`` asks genai-prices to find the model and to resolve, validate and decompose its
    price units on every call (~60 µs a row). A pricer finds each (provider, model) once and, for
    each price period the rows fall in, learns the model's per-token rates by asking genai-prices
    itself (a base price and one million tokens of input, output and cache reads); a row's cost is
    then a few exact decimal multiplications. genai-prices' arithmetic is exact decimals too (price
    x count / per), so both give the same figure; prices with tiers (not linear in tokens) and any
    model whose first row disagrees with the full computation are priced the full way. Made per
    batch, so nothing it holds outlives the request.
    """

    def __init__(self):
        self._snapshot = data_snapshot.get_snapshot()
        self._models: dict[tuple[str, str], tuple | None] = {}
        self._rates: dict[int, tuple] = {}  # id(model price) -> (model price, rates or None, checked)

    def compute(
        self,
        *,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        at: datetime | None,
    ) -> Decimal | None:
        if not model:
            return None
        key = (provider, model)
        if key not in self._models:
            try:
                self._models[key] = self._snapshot.find_provider_model(model, None, provider or None, None)
            except LookupError:
                self._models[key] = None
            except Exception:
                logger.warning("genai-prices failed for %s/%s", provider, model, exc_info=True)
                self._models[key] = None
        found = self._models[key]
        if found is None:
            return None
        args = dict(
            provider=provider,
            model=model,
            input_tokens=input_tokens or 0,
            output_tokens=output_tokens or 0,
            cache_read_tokens=cache_read_tokens or 0,
            at=at,
        )
        try:
            model_price = found[1].get_prices(at or datetime.now().astimezone())
            entry = self._rates.get(id(model_price))
            if entry is None:
                entry = self._rates[id(model_price)] = (
                    model_price,
                    self._learn(found, model_price, at),
                    False,
                )
            rates = entry[1]
            if rates is None:
                return compute(**args)
            base, per_input, per_output, per_cache = rates
            cached = args["cache_read_tokens"]
            total = (
                base
                + (args["input_tokens"] - cached) * per_input
                + args["output_tokens"] * per_output
                + cached * per_cache
            )
        except Exception:
            logger.warning("genai-prices failed for %s/%s", provider, model, exc_info=True)
            return None
        if not entry[2]:  # the first row priced at these rates is checked against the full way
            full = compute(**args)
            if full != quantize(total):
                logger.warning("price rates disagree for %s/%s: priced row by row", provider, model)
                self._rates[id(model_price)] = (model_price, None, True)
                return full
            self._rates[id(model_price)] = (entry[0], rates, True)
        return quantize(total)

    @staticmethod
    def _learn(found, model_price, at) -> tuple | None:
        """``(base, input, output, cache read)`` per token, or None when the price has tiers."""
        if any(isinstance(value, TieredPrices) for value in vars(model_price).values()):
            return None
        provider_info, model_info = found

        def price(input_tokens=0, output_tokens=0, cache_read_tokens=0) -> Decimal:
            usage = Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read_tokens or None,
            )
            return model_info.calc_price(usage, provider_info, genai_request_timestamp=at).total_price

        base = price()
        n = PROBE_TOKENS
        return (
            base,
            (price(input_tokens=n) - base) / n,
            (price(output_tokens=n) - base) / n,
            (price(input_tokens=n, cache_read_tokens=n) - base) / n,
        )

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
from genai_prices import Usage, calc_price

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
) -> Cost:
    """The cost of one execution. Never raises for an unknown model or provider."""
    if reported is not None:
        return Cost(quantize(Decimal(reported)), CostSource.REPORTED)
    computed = compute(
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

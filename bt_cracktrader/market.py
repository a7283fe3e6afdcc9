"""A crypto market's precision and limits, for Backtrader's commission scheme and sizers.

Crypto amounts are fractional: Backtrader's ``CommInfoBase.getsize`` returns ``int(cash //
price)``, which is 0 for one BTC at 30,000 with 10,000 of cash. ``MarketCommInfo`` charges the
market's percentage fee and sizes in the market's own amount step (rounded down, never to an
integer); ``MarketSizer`` stakes a percentage of the cash the same way; ``check_order`` says,
before anything is sent, which field of an order (amount, price or cost) is outside the market's
precision or limits.

A market is described by ``MarketSpec``, built from a ccxt market with ``MarketSpec.from_ccxt``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from decimal import ROUND_DOWN, Decimal
from typing import Any

import backtrader as bt

__all__ = [
    "MarketCommInfo",
    "MarketLimitError",
    "MarketSizer",
    "MarketSpec",
    "check_order",
    "round_amount",
]

logger = logging.getLogger(__name__)

# ccxt's precision modes (ccxt.base.decimal_to_precision)
_DECIMAL_PLACES = 2
_SIGNIFICANT_DIGITS = 3
_TICK_SIZE = 4

# a float that is a multiple of a step up to this fraction of the step is one (float sums of
# fills such as 0.1 + 0.2 are not exact)
_STEP_TOLERANCE = 1e-9


class MarketLimitError(ValueError):
    """An order field outside the market's precision or limits: ``field`` (``"amount"``,
    ``"price"`` or ``"cost"``), its ``value`` and the ``limit`` it breaks."""

    def __init__(self, symbol: str, field: str, value: float, limit: str) -> None:
        super().__init__(f"{symbol}: order {field} {value!r} {limit}")
        self.symbol = symbol
        self.field = field
        self.value = value
        self.limit = limit


@dataclasses.dataclass(frozen=True)
class MarketSpec:
    """A market's precision (as steps: ``amount_step`` 0.00001 means 5 decimals) and limits
    (``None``: no limit), and its fees as fractions (0.001 is 0.1 %)."""

    symbol: str
    amount_step: float | None = None
    price_step: float | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    min_price: float | None = None
    max_price: float | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    taker: float = 0.0
    maker: float = 0.0

    @classmethod
    def from_ccxt(cls, market: dict[str, Any], precision_mode: int = _TICK_SIZE) -> MarketSpec:
        """The spec of a ccxt market (``exchange.market(symbol)``); ``precision_mode`` is the
        exchange's ``precisionMode`` (tick sizes, or numbers of decimal places)."""
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}

        def step(value: Any) -> float | None:
            if value is None:
                return None
            if precision_mode == _DECIMAL_PLACES:
                return float(Decimal(1).scaleb(-int(value)))
            if precision_mode == _SIGNIFICANT_DIGITS:
                return None  # depends on the value: not a fixed step
            return float(value)

        def limit(name: str, side: str) -> float | None:
            value = (limits.get(name) or {}).get(side)
            return None if value is None else float(value)

        return cls(
            symbol=str(market["symbol"]),
            amount_step=step(precision.get("amount")),
            price_step=step(precision.get("price")),
            min_amount=limit("amount", "min"),
            max_amount=limit("amount", "max"),
            min_price=limit("price", "min"),
            max_price=limit("price", "max"),
            min_cost=limit("cost", "min"),
            max_cost=limit("cost", "max"),
            taker=float(market.get("taker") or 0.0),
            maker=float(market.get("maker") or 0.0),
        )


def _spec(market: MarketSpec | dict[str, Any]) -> MarketSpec:
    return market if isinstance(market, MarketSpec) else MarketSpec.from_ccxt(market)


def round_amount(market: MarketSpec | dict[str, Any], amount: float) -> float:
    """``amount`` rounded DOWN (toward zero) to the market's amount step."""
    spec = _spec(market)
    if not spec.amount_step:
        return float(amount)
    step = Decimal(repr(spec.amount_step))
    # a float a hair below a multiple of the step is that multiple, not one step less
    units = Decimal(repr(amount)) / step
    nearest = units.to_integral_value()
    if abs(units - nearest) <= Decimal(repr(_STEP_TOLERANCE)):
        units = nearest
    return float(units.to_integral_value(rounding=ROUND_DOWN) * step)


def _off_step(value: float, step: float | None) -> bool:
    if not step:
        return False
    units = value / step
    return abs(units - round(units)) > _STEP_TOLERANCE * max(1.0, abs(units))


def check_order(
    market: MarketSpec | dict[str, Any], amount: float, price: float | None = None
) -> None:
    """Raise ``MarketLimitError`` if ``amount`` (unsigned) or ``price`` is not a multiple of
    the market's step, or if the amount, price or cost (amount * price) is outside the market's
    limits. ``price`` ``None`` (a market order without a reference price) skips the price and
    cost checks."""
    spec = _spec(market)
    sym = spec.symbol
    amount = abs(float(amount))
    if not math.isfinite(amount) or amount <= 0:
        raise MarketLimitError(sym, "amount", amount, "must be a positive number")
    if _off_step(amount, spec.amount_step):
        raise MarketLimitError(
            sym,
            "amount",
            amount,
            f"is not a multiple of the market's amount step {spec.amount_step}",
        )
    if spec.min_amount is not None and amount < spec.min_amount:
        raise MarketLimitError(
            sym, "amount", amount, f"is below the market's minimum amount {spec.min_amount}"
        )
    if spec.max_amount is not None and amount > spec.max_amount:
        raise MarketLimitError(
            sym, "amount", amount, f"is above the market's maximum amount {spec.max_amount}"
        )
    if price is None:
        return
    price = float(price)
    if not math.isfinite(price) or price <= 0:
        raise MarketLimitError(sym, "price", price, "must be a positive number")
    if _off_step(price, spec.price_step):
        raise MarketLimitError(
            sym, "price", price, f"is not a multiple of the market's price step {spec.price_step}"
        )
    if spec.min_price is not None and price < spec.min_price:
        raise MarketLimitError(
            sym, "price", price, f"is below the market's minimum price {spec.min_price}"
        )
    if spec.max_price is not None and price > spec.max_price:
        raise MarketLimitError(
            sym, "price", price, f"is above the market's maximum price {spec.max_price}"
        )
    cost = amount * price
    if spec.min_cost is not None and cost < spec.min_cost:
        raise MarketLimitError(
            sym,
            "cost",
            cost,
            f"(amount * price) is below the market's minimum cost {spec.min_cost}",
        )
    if spec.max_cost is not None and cost > spec.max_cost:
        raise MarketLimitError(
            sym,
            "cost",
            cost,
            f"(amount * price) is above the market's maximum cost {spec.max_cost}",
        )


class MarketCommInfo(bt.CommInfoBase):
    """Backtrader's commission scheme for a spot crypto market: a percentage fee (the market's
    taker fee unless ``commission`` is given), stock-like (no margin), and fractional sizes:
    ``getsize`` returns the amount ``cash`` buys at ``price``, rounded DOWN to the market's
    amount step, never to an integer.

    Params: those of ``CommInfoBase`` (``commission`` as a fraction: 0.001 is 0.1 %), plus
    ``market``: the ``MarketSpec``.
    """

    params = (
        ("commission", 0.0),
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
        ("market", None),
    )

    @classmethod
    def from_market(
        cls, market: MarketSpec | dict[str, Any], commission: float | None = None
    ) -> MarketCommInfo:
        """The scheme of ``market``, charging its taker fee (or ``commission``)."""
        spec = _spec(market)
        fee = spec.taker if commission is None else commission
        return cls(commission=fee, market=spec)

    def getsize(self, price: float, cash: float) -> float:
        """The amount ``cash`` buys at ``price``, rounded down to the amount step."""
        if not price:
            return 0.0
        size = self.p.leverage * cash / price
        spec = self.p.market
        return round_amount(spec, size) if spec is not None else float(size)


class MarketSizer(bt.Sizer):
    """Stake ``percents`` of the cash (fee included) in fractional amounts, rounded down to the
    market's amount step; 0 (no order) when that is below the market's minimum amount or cost.
    Sells close the position. Needs ``MarketCommInfo`` on the data (the paper broker sets it).

    Params: ``percents`` (default 95).
    """

    params = (("percents", 95.0),)

    def _getsizing(self, comminfo: Any, cash: float, data: Any, isbuy: bool) -> float:
        position = self.broker.getposition(data)
        if not isbuy and position.size:
            return abs(float(position.size))
        price = float(data.close[0])
        fee = float(comminfo.p.commission) if comminfo._commtype == comminfo.COMM_PERC else 0.0
        stake = cash * self.p.percents / 100.0 / (1.0 + fee)
        spec = getattr(comminfo.p, "market", None)
        if spec is None:
            return float(stake / price)
        size = round_amount(spec, stake / price)
        try:
            check_order(spec, size, price)
        except MarketLimitError as exc:
            logger.debug("MarketSizer: no order: %s", exc)
            return 0.0
        return size

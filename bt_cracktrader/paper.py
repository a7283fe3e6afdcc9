"""``PaperBroker``: paper trading on an exchange's live candles, matched by the core.

``store.getbroker()`` returns it. Orders never reach the exchange: the core (Python or Rust,
the same as ``CrackBroker``'s in a backtest) matches them against the feed's closed bars, so a
strategy runs on paper with exactly the accounting of its backtest. What comes from the
exchange is the market: each ``CrackData`` of the store gets a ``MarketCommInfo`` with the
market's fee and amount step (fractional sizes), and every order is checked against the
market's precision and limits before it reaches the core (``MarketLimitError`` naming the
field, the value and the limit).
"""

from __future__ import annotations

import logging
from typing import Any

from backtrader.order import Order

from .broker import CrackBroker
from .market import MarketCommInfo, check_order

__all__ = ["PaperBroker"]

logger = logging.getLogger(__name__)


class PaperBroker(CrackBroker):
    """``CrackBroker`` for the datas of a ``CrackStore``, with their markets' rules.

    Params: ``CrackBroker``'s (``backend``, ``cash``, ``checksubmit``, slippage...), plus
    ``store`` (the ``CrackStore``) and ``commission`` (default ``None``: each market's taker
    fee; a number overrides it for every market).

    A commission set with ``setcommission``/``addcommissioninfo`` under a data's name wins over
    the market's ``MarketCommInfo`` for that data.
    """

    params = (  # type: ignore[assignment]  # Backtrader merges them with CrackBroker's
        ("store", None),
        ("commission", None),
    )

    def __init__(self) -> None:
        super().__init__()
        self._market_comm: dict[str, MarketCommInfo] = {}
        self._seen: tuple[tuple[int, int], ...] = ()

    def start(self) -> None:
        super().start()
        self._seen = ()

    def next(self) -> None:
        """Match against the bar once: with live feeds Cerebro calls the broker on every loop,
        also when no data delivered a new bar, and matching the same bar again would fill
        orders placed at its close at prices of the past (a backtest never does)."""
        store = self.p.store
        datas = [*(store.datas if store is not None else ()), *self._datalist]
        seen = tuple((id(d), len(d)) for d in datas)
        if seen == self._seen and datas:
            return
        self._seen = seen
        super().next()

    def getcommissioninfo(self, data: Any) -> Any:
        """The data's own scheme if one was set by name, else its market's ``MarketCommInfo``
        (for a ``CrackData``), else the default."""
        name = getattr(data, "_name", None)
        if name in self.comminfo:
            return self.comminfo[name]
        market = getattr(data, "market", None)
        if market is None:
            return self.comminfo[None]
        comminfo = self._market_comm.get(market.symbol)
        if comminfo is None:
            comminfo = MarketCommInfo.from_market(market, commission=self.p.commission)
            self._market_comm[market.symbol] = comminfo
        return comminfo

    def _check(self, data: Any, size: Any, price: Any, plimit: Any, exectype: Any) -> None:
        market = getattr(data, "market", None)
        if market is None or size is None:
            return
        if exectype in (None, Order.Market, Order.Close):
            # no price is sent: the cost is estimated at the last close
            if price is None and len(data):
                price = float(data.close[0])
            check_order(market, size, price)
            return
        if price is not None:
            check_order(market, size, price)
        if plimit is not None:
            check_order(market, size, plimit)

    def buy(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Order:
        self._check(data, size, price, plimit, exectype)
        return super().buy(owner, data, size, price, plimit, exectype, *args, **kwargs)

    def sell(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> Order:
        self._check(data, size, price, plimit, exectype)
        return super().sell(owner, data, size, price, plimit, exectype, *args, **kwargs)

"""``ExchangeEmulator``: a Binance-spot exchange on 127.0.0.1 for offline tests of the store.

A small HTTP server (stdlib ``ThreadingHTTPServer``) that speaks the subset of Binance's spot
REST API that ccxt's ``binance`` client uses, so the whole ccxt stack (requests or aiohttp,
HMAC signing, error mapping, parsing) runs against it with no network. Its state (clock,
candles, orders, balances, fills) is deterministic and driven by the test.

Routes (Binance spot, ``/api/v3``):

  - ``GET  /api/v3/ping``, ``/time`` (the emulator clock), ``/exchangeInfo`` (one market per
    symbol with ``PRICE_FILTER`` tickSize, ``LOT_SIZE`` stepSize/minQty, ``NOTIONAL`` and
    ``MIN_NOTIONAL``), ``/klines`` (``symbol``, ``interval``, ``startTime``/``endTime``/
    ``limit``, default 500, max 1000; any interval that is a multiple of the candles' own is
    aggregated; the last candle served is the one still forming at the emulator clock, with its
    close at the current price, exactly as Binance).
  - signed (``X-MBX-APIKEY`` + HMAC-SHA256 ``signature`` of the query string and body):
    ``POST /api/v3/order`` (``MARKET`` fills at once at the current price, in two fills when the
    step size allows it; ``LIMIT`` rests, or fills at once at the current price when
    marketable; ``newClientOrderId`` must be unique among open orders), ``GET /api/v3/order``
    (``orderId`` or ``origClientOrderId``), ``DELETE /api/v3/order``, ``GET /api/v3/openOrders``
    (with or without ``symbol``), ``GET /api/v3/myTrades``, ``GET /api/v3/account``.
  - Binance errors (HTTP 400, ``{"code", "msg"}``): ``-1013`` filter failure (LOT_SIZE,
    PRICE_FILTER, NOTIONAL), ``-2010`` insufficient balance and ``"Duplicate order sent."``,
    ``-2013`` unknown order, ``-2011`` cancel of an unknown or closed order, ``-1022`` bad
    signature, ``-2015`` bad API key, ``-1021`` timestamp outside ``recvWindow`` (checked
    against the host's wall clock, not the emulator clock), ``-1121`` unknown symbol,
    ``-1102`` missing parameter. An unserved route answers 404 ``{"code": -1, "msg":
    "emulator: no route GET /api/v3/..."}``, which ccxt raises as ``ExchangeError``.

Fees are ``fee_rate`` of the fill, charged in the asset received (base on buys, quote on sells)
as on Binance without BNB; a limit order locks its cost (buy) or amount (sell). Amounts are
``Decimal`` inside; the API speaks strings, ``ledger()`` gives floats.

Python API (the tests and ``LiveBroker``'s tests code against these names)::

    emu = ExchangeEmulator(
        candles=None,            # list of rows [open_ms, o, h, l, c, v] (the first symbol), or
                                 # {symbol: rows}, or a CSV path (header open_ms,o,h,l,c,v)
        symbols=("BTC/USDT",),
        balances={"USDT": 100000.0, "BTC": 0.0},
        fee_rate=0.001,
        api_key="emu-key", secret="emu-secret",
        clock_ms=None,           # None: the last candle's open + half an interval (that candle
                                 # is the forming one), or the wall clock without candles
        timeout_delay_s=1.3,     # how long "timeout" faults hold the reply back
        match_on_advance=False,  # True: advance() fills resting limits that closed candles
                                 # traded through (at the limit price, as maker)
    )
    with emu:                    # or emu.start() ... emu.stop()
        emu.url                  # "http://127.0.0.1:PORT"
        ex = emu.client()        # a real ccxt.binance pointed at the emulator;
                                 # client(async_=True) gives ccxt.async_support.binance;
                                 # **overrides are merged into the ccxt config
        emu.now_ms; emu.advance(60_000)         # the clock: candles close as it passes them
        emu.set_clock(ms)
        emu.set_price("BTC/USDT", 30000.0)      # the current price (market fills, forming bar)
        emu.price("BTC/USDT")
        emu.inject("POST", "/api/v3/order", "drop_after", times=1, after=0)
        emu.requests("POST", "/api/v3/order")   # how many requests reached that route
        emu.fill(order_id_or_client_id, qty, price)   # a (partial) fill of a resting order
        emu.expire(order_id_or_client_id)       # the venue expires an open order
        emu.script_reports(client_id, [{"status": "NEW", "executedQty": "0"}, ...])
        emu.ledger()             # {"balances", "fills", "orders"}: the emulator's truth

Helpers: ``candles_from_csv(path, start_ms=None, interval=60_000)`` (a CSV, Backtrader's
fixtures re-timed to UTC ms), ``synthetic_candles(n, start_ms, interval=60_000)``,
``client_config(url, key, secret)`` and ``localize_urls(exchange, url)`` (what ``client()``
uses), ``OFFLINE_OPTIONS``.

Faults (``inject``): ``after`` matching requests pass first, then the next ``times`` get the
fault. ``"drop_before"``: the connection is closed without a reply and the request is NOT
processed. ``"drop_after"``: the request IS processed (an order is placed or cancelled), then
the connection is closed without a reply: the lost-reply case. ``"http429"``/``"http418"``
(Binance's rate-limit and ban replies, with ``Retry-After: 1``; ccxt raises
``DDoSProtection``), ``"http500"``, ``"http503"``: that status, NOT processed. ``"timeout"``:
the reply is held back longer than the client's timeout (``timeout_delay_s``) and the request
is NOT processed; ``"timeout_after"``: the request IS processed, then the reply is held back.
``path`` is the route path, e.g. ``"/api/v3/order"``; ``method`` is ``"GET"``, ``"POST"``...

``script_reports(client_id, snapshots)``: the next ``len(snapshots)`` ``GET /api/v3/order``
replies for that order are the true order JSON updated with each snapshot in turn (give the
full raw order, or just the fields that differ: ``status``, ``executedQty``,
``cummulativeQuoteQty``...), then the true state again: duplicate, stale and reordered reports.

The key and the secret are never logged, and requests are recorded without ``signature``.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Union
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "FAULTS",
    "ExchangeEmulator",
    "EmulatorError",
    "candles_from_csv",
    "synthetic_candles",
]

logger = logging.getLogger(__name__)

#: Fault names accepted by ``ExchangeEmulator.inject``.
FAULTS = (
    "drop_before",
    "drop_after",
    "http429",
    "http418",
    "http500",
    "http503",
    "timeout",
    "timeout_after",
)

Row = Sequence[Any]
CandleSource = Union[None, str, Path, Sequence[Row], Mapping[str, Union[str, Path, Sequence[Row]]]]

_INTERVALS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_QTY_STEP = Decimal("0.00001")
_TICK = Decimal("0.01")
_MIN_QTY = Decimal("0.00001")
_MIN_NOTIONAL = Decimal("5")
_FEE_QUANT = Decimal("0.00000001")
_OPEN = ("NEW", "PARTIALLY_FILLED")


class EmulatorError(Exception):
    """A Binance error reply: HTTP ``status`` with the body ``{"code": code, "msg": msg}``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


def _d(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _s(value: Decimal) -> str:
    """Binance prints amounts with 8 decimals."""
    return f"{value:.8f}"


def interval_ms(interval: str) -> int:
    """Milliseconds of a Binance kline interval such as ``"1m"``, ``"4h"`` or ``"1w"``."""
    try:
        return int(interval[:-1]) * _INTERVALS[interval[-1]]
    except (KeyError, ValueError):
        raise EmulatorError(-1120, "Invalid interval.") from None


def candles_from_csv(
    path: str | Path, start_ms: int | None = None, interval: int = 60_000
) -> list[list[Any]]:
    """Candles ``[open_ms, o, h, l, c, v]`` from a CSV file.

    A file whose header starts with ``open_ms`` (or ``timestamp``) is read as it is. Any other
    CSV with ``Open,High,Low,Close,Volume`` columns (Backtrader's fixtures) is re-timed: row
    ``i`` opens at ``start_ms + i * interval`` (``start_ms`` default: the whole series ends at
    the last full ``interval`` before now, in UTC).
    """
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip().lower() for h in rows[0]]
    body = [r for r in rows[1:] if r]
    if header[0] in ("open_ms", "timestamp"):
        return [[int(r[0]), *(float(x) for x in r[1:6])] for r in body]
    # Backtrader's generic files put the time in a column the header does not name
    shift = 1 if "time" not in header and len(body[0]) == len(header) + 1 else 0
    cols = [header.index(k) + shift for k in ("open", "high", "low", "close", "volume")]
    if start_ms is None:
        now = int(time.time() * 1000) // interval * interval
        start_ms = now - len(body) * interval
    return [[start_ms + i * interval, *(float(r[c]) for c in cols)] for i, r in enumerate(body)]


def synthetic_candles(n: int, start_ms: int, interval: int = 60_000) -> list[list[float]]:
    """``n`` deterministic candles ``[open_ms, o, h, l, c, v]`` from ``start_ms``: prices that
    trend up for 40 bars then down for 40 (so moving averages cross), every number exactly
    representable as a float and on the emulator's tick (0.01) and step."""
    rows = []
    price = 30000.0
    for i in range(n):
        drift = ((i // 40) % 2) * 2 - 1
        o = price
        c = o - drift * (5.0 + (i % 7)) + ((i * 37) % 11 - 5) * 0.5
        h = max(o, c) + 3.25
        low = min(o, c) - 2.75
        rows.append([float(start_ms + i * interval), o, h, low, c, 1.5 + (i % 9) * 0.25])
        price = c
    return [[int(r[0]), *r[1:]] for r in rows]


class _Candles:
    """One symbol's candles at their own interval, indexed by open time."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows: list[list[Any]] = sorted(
            ([int(r[0]), *(_d(x) for x in r[1:6])] for r in rows), key=lambda r: r[0]
        )
        rows = self.rows
        self.opens = [r[0] for r in rows]
        self.interval = (rows[1][0] - rows[0][0]) if len(rows) > 1 else 60_000

    def closed_before(self, now: int) -> list[Any] | None:
        """The last candle that closed at or before ``now``."""
        import bisect

        i = bisect.bisect_right(self.opens, now - self.interval) - 1
        return self.rows[i] if i >= 0 else None

    def at(self, t: int) -> list[Any] | None:
        import bisect

        i = bisect.bisect_right(self.opens, t) - 1
        if i >= 0 and self.rows[i][0] <= t < self.rows[i][0] + self.interval:
            return self.rows[i]
        return None


class _Fault:
    def __init__(self, fault: str, times: int, after: int) -> None:
        self.fault, self.times, self.after = fault, times, after


class ExchangeEmulator:
    """A Binance-spot exchange on 127.0.0.1, for the real ccxt client (see the module doc)."""

    def __init__(
        self,
        candles: CandleSource = None,
        symbols: Sequence[str] = ("BTC/USDT",),
        balances: Mapping[str, float] | None = None,
        fee_rate: float = 0.001,
        api_key: str = "emu-key",
        secret: str = "emu-secret",
        clock_ms: int | None = None,
        timeout_delay_s: float = 1.3,
        match_on_advance: bool = False,
    ) -> None:
        self.symbols = tuple(symbols)
        self.fee_rate = _d(fee_rate)
        self._api_key = api_key
        self._secret = secret
        #: how long "timeout" faults hold the reply back (above the client's 1 s timeout)
        self.timeout_delay_s = timeout_delay_s
        #: fill resting limit orders when ``advance`` closes a candle that trades through them
        self.match_on_advance = match_on_advance
        self._lock = threading.RLock()
        self._candles: dict[str, _Candles] = {}
        if candles is not None:
            if isinstance(candles, Mapping):
                items = list(candles.items())
            else:
                items = [(self.symbols[0], candles)]
            for sym, src in items:
                rows = candles_from_csv(src) if isinstance(src, (str, Path)) else src
                if rows:
                    self._candles[sym] = _Candles(rows)
        if clock_ms is None:
            if self._candles:
                first = next(iter(self._candles.values()))
                clock_ms = first.rows[-1][0] + first.interval // 2
            else:
                clock_ms = int(time.time() * 1000)
        self._now = int(clock_ms)
        start = {"USDT": 100000.0, "BTC": 0.0} if balances is None else balances
        self._free: dict[str, Decimal] = {a: _d(v) for a, v in start.items()}
        self._locked: dict[str, Decimal] = {a: Decimal(0) for a in start}
        for sym in self.symbols:
            for asset in sym.split("/"):
                self._free.setdefault(asset, Decimal(0))
                self._locked.setdefault(asset, Decimal(0))
        self._prices: dict[str, Decimal] = {}
        self._orders: dict[int, dict[str, Any]] = {}
        self._fills: list[dict[str, Any]] = []
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._faults: dict[tuple[str, str], list[_Fault]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self._scripts: dict[int, list[dict[str, Any]]] = {}
        #: every request as (method, path, params without signature), in arrival order
        self.request_log: list[tuple[str, str, dict[str, str]]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()

    def __repr__(self) -> str:  # never the key or the secret
        return f"ExchangeEmulator(url={self.url if self._server else None!r}, now_ms={self._now})"

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> ExchangeEmulator:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        if self._server is not None:
            return self
        handler = type("_Handler", (_Handler,), {"emu": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        logger.debug("emulator serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (fast: no waiting for keep-alives)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> ExchangeEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (once started)."""
        if self._server is None:
            raise RuntimeError("ExchangeEmulator: start() it first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- the ccxt client ----------------------------------------------------------------------
    def client(self, async_: bool = False, **overrides: Any) -> Any:
        """A real ``ccxt.binance`` (``ccxt.async_support.binance`` with ``async_=True``) whose
        every URL points at this emulator, with the options that keep ``load_markets()`` to one
        ``GET /api/v3/exchangeInfo``, no rate limiter, a 1000 ms timeout, the emulator's key and
        secret, and ccxt's own retries off (a retried order placement would double it).
        ``overrides`` are merged into the ccxt config (``options`` merged key by key)."""
        if async_:
            import ccxt.async_support as ccxt_mod
        else:
            import ccxt as ccxt_mod
        config = client_config(self.url, self._api_key, self._secret)
        options = {**config["options"], **overrides.pop("options", {})}
        config.update(overrides)
        config["options"] = options
        exchange = ccxt_mod.binance(config)
        localize_urls(exchange, self.url)
        return exchange

    # -- clock and prices ---------------------------------------------------------------------
    @property
    def now_ms(self) -> int:
        """The emulator clock (ms since the epoch, UTC); ``GET /api/v3/time`` answers it."""
        return self._now

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms``: candles close as it passes their close time. A
        price set with ``set_price`` is forgotten once a new candle opens. Returns the clock."""
        if ms < 0:
            raise ValueError(f"advance: ms must be >= 0, got {ms}")
        with self._lock:
            old = self._now
            self._now += int(ms)
            for sym in list(self._prices):
                c = self._candles.get(sym)
                if c is not None and (old // c.interval) != (self._now // c.interval):
                    del self._prices[sym]
            if self.match_on_advance:
                self._match(old)
            return self._now

    def _match(self, old: int) -> None:
        """Fill, at their limit price and as makers, the open limit orders that a candle closing
        in ``(old, now]`` traded through (its low at or below a buy, its high at or above a
        sell), if the order was placed before that candle closed."""
        import bisect

        for sym, c in self._candles.items():
            lo = bisect.bisect_right(c.opens, old - c.interval)
            hi = bisect.bisect_right(c.opens, self._now - c.interval)
            for row in c.rows[lo:hi]:
                closes = row[0] + c.interval
                for o in list(self._orders.values()):
                    if o["sym"] != sym or o["type"] != "LIMIT" or o["status"] not in _OPEN:
                        continue
                    if o["time"] >= closes:
                        continue
                    crossed = row[3] <= o["price"] if o["side"] == "BUY" else row[2] >= o["price"]
                    if crossed:
                        self._execute(o, o["qty"] - o["executed"], o["price"], maker=True)

    def set_clock(self, ms: int) -> None:
        """Set the clock (forward or backward)."""
        with self._lock:
            self._now = int(ms)

    def set_price(self, symbol: str, price: float) -> None:
        """The current price of ``symbol``: market orders fill at it, marketable limits too,
        and it is the close of the forming candle."""
        with self._lock:
            self._prices[symbol] = _d(price)

    def price(self, symbol: str) -> float:
        return float(self._price(symbol))

    def _price(self, symbol: str) -> Decimal:
        if symbol in self._prices:
            return self._prices[symbol]
        c = self._candles.get(symbol)
        if c is not None:
            forming = c.at(self._now)
            if forming is not None:
                return Decimal(forming[1])  # the forming candle opened at this price
            last = c.closed_before(self._now)
            if last is not None:
                return Decimal(last[4])
        raise EmulatorError(-1121, f"emulator: no price for {symbol}: set_price() it first")

    # -- faults and request counts ------------------------------------------------------------
    def inject(self, method: str, path: str, fault: str, times: int = 1, after: int = 0) -> None:
        """Give the next ``times`` requests to ``method path`` the ``fault``, after letting
        ``after`` of them through (see the module docstring for the faults)."""
        if fault not in FAULTS:
            raise ValueError(f"inject: fault must be one of {FAULTS}, got {fault!r}")
        with self._lock:
            self._faults.setdefault((method.upper(), path), []).append(_Fault(fault, times, after))

    def requests(self, method: str, path: str) -> int:
        """How many requests reached ``method path`` (faulted ones included)."""
        return self._counts.get((method.upper(), path), 0)

    def _take_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            self._counts[(method, path)] = self._counts.get((method, path), 0) + 1
            queue = self._faults.get((method, path))
            if not queue:
                return None
            f = queue[0]
            if f.after > 0:
                f.after -= 1
                return None
            f.times -= 1
            if f.times <= 0:
                queue.pop(0)
            return f.fault

    # -- test hooks on orders -----------------------------------------------------------------
    def _find(self, key: int | str | None = None, symbol: str | None = None) -> dict[str, Any]:
        with self._lock:
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                order = self._orders.get(int(key))
                if order is not None:
                    return order
            # a client id is unique among open orders; else the newest order with it
            for order in sorted(self._orders.values(), key=lambda o: -o["orderId"]):
                if order["clientOrderId"] == key and (symbol is None or order["sym"] == symbol):
                    return order
        raise EmulatorError(-2013, "Order does not exist.")

    def fill(self, order: int | str, qty: float, price: float) -> dict[str, Any]:
        """Book a (partial) fill of ``qty`` at ``price`` on the open order ``order`` (exchange
        id or client id), as a maker. Returns the fill."""
        with self._lock:
            o = self._find(order)
            if o["status"] not in _OPEN:
                raise ValueError(f"fill: order {order!r} is {o['status']}, not open")
            q = _d(qty)
            if q <= 0 or o["executed"] + q > o["qty"]:
                raise ValueError(
                    f"fill: qty {qty} outside (0, {o['qty'] - o['executed']}] for {order!r}"
                )
            return self._execute(o, q, _d(price), maker=True)

    def expire(self, order: int | str) -> None:
        """The venue expires the open order ``order`` (its remaining locked funds are freed)."""
        with self._lock:
            o = self._find(order)
            if o["status"] in _OPEN:
                self._unlock(o)
                o["status"] = "EXPIRED"
                o["updateTime"] = self._now

    def script_reports(self, client_id: int | str, snapshots: Iterable[Mapping[str, Any]]) -> None:
        """The next ``GET /api/v3/order`` replies for that order are the true order JSON
        updated with each snapshot in turn; then the true state again."""
        with self._lock:
            o = self._find(client_id)
            self._scripts.setdefault(o["orderId"], []).extend(dict(s) for s in snapshots)

    def ledger(self) -> dict[str, Any]:
        """The emulator's truth: ``balances`` ({asset: {"free", "locked"}}), every fill
        (``order_id``, ``client_id``, ``symbol``, ``side``, ``qty``, ``price``, ``fee``,
        ``fee_asset``, ``trade_id``, ``maker``, ``time``) and every order (``order_id``,
        ``client_id``, ``symbol``, ``side``, ``type``, ``status``, ``price``, ``orig_qty``,
        ``executed_qty``, ``cummulative_quote_qty``), amounts as floats."""
        with self._lock:
            return {
                "balances": {
                    a: {"free": float(self._free[a]), "locked": float(self._locked[a])}
                    for a in sorted(self._free)
                },
                "fills": [dict(f) for f in self._fills],
                "orders": [
                    {
                        "order_id": o["orderId"],
                        "client_id": o["clientOrderId"],
                        "symbol": o["sym"],
                        "side": o["side"],
                        "type": o["type"],
                        "status": o["status"],
                        "price": float(o["price"]),
                        "orig_qty": float(o["qty"]),
                        "executed_qty": float(o["executed"]),
                        "cummulative_quote_qty": float(o["quote"]),
                    }
                    for o in self._orders.values()
                ],
            }

    # -- the venue ----------------------------------------------------------------------------
    def _market_id(self, symbol: str) -> str:
        return symbol.replace("/", "")

    def _symbol(self, params: Mapping[str, str], required: bool = True) -> str | None:
        raw = params.get("symbol")
        if not raw:
            if required:
                raise EmulatorError(
                    -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                )
            return None
        for sym in self.symbols:
            if self._market_id(sym) == raw:
                return sym
        raise EmulatorError(-1121, "Invalid symbol.")

    def exchange_info(self) -> dict[str, Any]:
        markets = []
        for sym in self.symbols:
            base, quote = sym.split("/")
            markets.append(
                {
                    "symbol": self._market_id(sym),
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "baseCommissionPrecision": 8,
                    "quoteCommissionPrecision": 8,
                    "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                    "icebergAllowed": True,
                    "ocoAllowed": True,
                    "quoteOrderQtyMarketAllowed": True,
                    "allowTrailingStop": True,
                    "cancelReplaceAllowed": True,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": _s(_TICK),
                            "maxPrice": "1000000.00000000",
                            "tickSize": _s(_TICK),
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": _s(_MIN_QTY),
                            "maxQty": "9000.00000000",
                            "stepSize": _s(_QTY_STEP),
                        },
                        {
                            "filterType": "MIN_NOTIONAL",
                            "minNotional": _s(_MIN_NOTIONAL),
                            "applyToMarket": True,
                            "avgPriceMins": 5,
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": _s(_MIN_NOTIONAL),
                            "applyMinToMarket": True,
                            "maxNotional": "9000000.00000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                    "permissions": [],
                    "permissionSets": [["SPOT"]],
                    "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                    "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER"],
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self._now,
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": markets,
        }

    def klines(self, params: Mapping[str, str]) -> list[list[Any]]:
        sym = self._symbol(params)
        assert sym is not None
        step = interval_ms(params.get("interval", "1m"))
        c = self._candles.get(sym)
        limit = min(int(params.get("limit", 500)), 1000)
        if c is None:
            return []
        if step % c.interval:
            raise EmulatorError(-1120, "Invalid interval.")
        now = self._now
        start = params.get("startTime")
        end = params.get("endTime")
        end_ms = min(int(end), now) if end is not None else now
        # the open times of the buckets (at ``step``) that exist: from the first candle's bucket
        # up to the one containing ``end_ms``, never past the clock
        first = c.opens[0] // step * step
        last = min(end_ms, now, c.opens[-1]) // step * step
        if start is not None:
            lo = max(first, -(-int(start) // step) * step)
            opens = range(lo, last + 1, step)
            picked = list(itertools.islice(opens, limit))
        else:
            hi_count = (last - first) // step + 1 if last >= first else 0
            n = min(limit, hi_count)
            picked = [last - (n - 1 - i) * step for i in range(n)]
        out = []
        for t in picked:
            bar = self._bucket(sym, c, t, step)
            if bar is not None:
                out.append(bar)
        return out

    def _bucket(self, sym: str, c: _Candles, t: int, step: int) -> list[Any] | None:
        import bisect

        lo = bisect.bisect_left(c.opens, t)
        hi = bisect.bisect_left(c.opens, t + step)
        rows = [r for r in c.rows[lo:hi] if r[0] <= self._now]
        if not rows:
            return None
        o = rows[0][1]
        h = max(r[2] for r in rows)
        low = min(r[3] for r in rows)
        close = rows[-1][4]
        v = sum((r[5] for r in rows), Decimal(0))
        last = rows[-1]
        if last[0] + c.interval > self._now:
            # the forming candle: what traded so far, up to the current price
            price = self._prices.get(sym, last[1])
            partial = [last[1], max(last[1], price), min(last[1], price), price]
            frac = Decimal(self._now - last[0]) / Decimal(c.interval)
            h = max([*(r[2] for r in rows[:-1]), partial[1]])
            low = min([*(r[3] for r in rows[:-1]), partial[2]])
            close = price
            v = sum((r[5] for r in rows[:-1]), Decimal(0)) + (last[5] * frac).quantize(_FEE_QUANT)
        quote = (v * close).quantize(_FEE_QUANT)
        return [t, _s(o), _s(h), _s(low), _s(close), _s(v), t + step - 1, _s(quote), len(rows),
                _s(v / 2), _s(quote / 2), "0"]  # fmt: skip

    def account(self) -> dict[str, Any]:
        return {
            "makerCommission": int(self.fee_rate * 10000),
            "takerCommission": int(self.fee_rate * 10000),
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "updateTime": self._now,
            "accountType": "SPOT",
            "balances": [
                {"asset": a, "free": _s(self._free[a]), "locked": _s(self._locked[a])}
                for a in sorted(self._free)
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }

    def _check_filters(self, qty: Decimal, price: Decimal | None, ref_price: Decimal) -> None:
        if qty < _MIN_QTY or qty % _QTY_STEP:
            raise EmulatorError(-1013, "Filter failure: LOT_SIZE")
        if price is not None and (price <= 0 or price % _TICK):
            raise EmulatorError(-1013, "Filter failure: PRICE_FILTER")
        if qty * (price if price is not None else ref_price) < _MIN_NOTIONAL:
            raise EmulatorError(-1013, "Filter failure: NOTIONAL")

    def create_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        sym = self._symbol(params)
        assert sym is not None
        base, quote = sym.split("/")
        side = params.get("side", "").upper()
        otype = params.get("type", "").upper()
        if side not in ("BUY", "SELL"):
            raise EmulatorError(-1100, "Illegal characters found in parameter 'side'.")
        if otype not in ("MARKET", "LIMIT"):
            raise EmulatorError(-1116, "Invalid orderType.")
        cid = params.get("newClientOrderId") or f"emu-{next(self._order_ids)}"
        if any(o["clientOrderId"] == cid and o["status"] in _OPEN for o in self._orders.values()):
            raise EmulatorError(-2010, "Duplicate order sent.")
        ref = self._price(sym)
        price = _d(params["price"]) if otype == "LIMIT" and "price" in params else None
        if otype == "LIMIT" and price is None:
            raise EmulatorError(
                -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
            )
        if "quantity" in params:
            qty = _d(params["quantity"])
        elif otype == "MARKET" and "quoteOrderQty" in params:
            qty = (_d(params["quoteOrderQty"]) / ref).quantize(_QTY_STEP, rounding=ROUND_DOWN)
        else:
            raise EmulatorError(
                -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
            )
        self._check_filters(qty, price, ref)
        marketable = otype == "MARKET" or (
            price is not None and (price >= ref if side == "BUY" else price <= ref)
        )
        exec_price = ref if marketable else price
        assert exec_price is not None
        need_asset, need = (quote, qty * exec_price) if side == "BUY" else (base, qty)
        if otype == "LIMIT" and side == "BUY":
            assert price is not None
            need = max(need, qty * price)
        if self._free.get(need_asset, Decimal(0)) < need:
            raise EmulatorError(-2010, "Account has insufficient balance for requested action.")
        oid = next(self._order_ids)
        o: dict[str, Any] = {
            "orderId": oid,
            "clientOrderId": cid,
            "sym": sym,
            "side": side,
            "type": otype,
            "timeInForce": params.get("timeInForce", "GTC") if otype == "LIMIT" else "GTC",
            "price": price if price is not None else Decimal(0),
            "qty": qty,
            "executed": Decimal(0),
            "quote": Decimal(0),
            "status": "NEW",
            "time": self._now,
            "updateTime": self._now,
            "fills": [],
            "lock_asset": need_asset,
            "locked": Decimal(0),
        }
        self._orders[oid] = o
        fills = []
        if marketable:
            # two fills when the step size allows it, so clients aggregate them
            first = (qty / 2).quantize(_QTY_STEP, rounding=ROUND_DOWN)
            parts = [first, qty - first] if otype == "MARKET" and first > 0 else [qty]
            for q in parts:
                fills.append(self._execute(o, q, ref, maker=False))
        else:
            o["locked"] = need
            self._free[need_asset] -= need
            self._locked[need_asset] += need
        reply = self._order_json(o)
        reply["transactTime"] = self._now
        reply["fills"] = [
            {
                "price": _s(_d(f["price"])),
                "qty": _s(_d(f["qty"])),
                "commission": _s(_d(f["fee"])),
                "commissionAsset": f["fee_asset"],
                "tradeId": f["trade_id"],
            }
            for f in fills
        ]
        return reply

    def _execute(
        self, o: dict[str, Any], qty: Decimal, price: Decimal, maker: bool
    ) -> dict[str, Any]:
        base, quote = o["sym"].split("/")
        cost = qty * price
        if o["side"] == "BUY":
            fee = (qty * self.fee_rate).quantize(_FEE_QUANT)
            fee_asset = base
            pay_asset, pay, get_asset, get = quote, cost, base, qty - fee
        else:
            fee = (cost * self.fee_rate).quantize(_FEE_QUANT)
            fee_asset = quote
            pay_asset, pay, get_asset, get = base, qty, quote, cost - fee
        # a resting order pays from its locked funds (a buy filled below its limit unlocks
        # the difference when it completes)
        from_lock = min(o["locked"], pay)
        o["locked"] -= from_lock
        self._locked[pay_asset] -= from_lock
        self._free[pay_asset] -= pay - from_lock
        self._free[get_asset] = self._free.get(get_asset, Decimal(0)) + get
        o["executed"] += qty
        o["quote"] += cost
        o["updateTime"] = self._now
        o["status"] = "FILLED" if o["executed"] == o["qty"] else "PARTIALLY_FILLED"
        if o["status"] == "FILLED":
            self._unlock(o)
        fill = {
            "order_id": o["orderId"],
            "client_id": o["clientOrderId"],
            "symbol": o["sym"],
            "side": o["side"],
            "qty": float(qty),
            "price": float(price),
            "fee": float(fee),
            "fee_asset": fee_asset,
            "trade_id": next(self._trade_ids),
            "maker": maker,
            "time": self._now,
        }
        self._fills.append(fill)
        return fill

    def _unlock(self, o: dict[str, Any]) -> None:
        if o["locked"]:
            asset = o["lock_asset"]
            self._locked[asset] -= o["locked"]
            self._free[asset] += o["locked"]
            o["locked"] = Decimal(0)

    def _order_json(self, o: dict[str, Any]) -> dict[str, Any]:
        return {
            "symbol": self._market_id(o["sym"]),
            "orderId": o["orderId"],
            "orderListId": -1,
            "clientOrderId": o["clientOrderId"],
            "price": _s(o["price"]),
            "origQty": _s(o["qty"]),
            "executedQty": _s(o["executed"]),
            "cummulativeQuoteQty": _s(o["quote"]),
            "status": o["status"],
            "timeInForce": o["timeInForce"],
            "type": o["type"],
            "side": o["side"],
            "stopPrice": _s(Decimal(0)),
            "icebergQty": _s(Decimal(0)),
            "time": o["time"],
            "updateTime": o["updateTime"],
            "isWorking": True,
            "workingTime": o["time"],
            "origQuoteOrderQty": _s(Decimal(0)),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def _lookup(self, params: Mapping[str, str]) -> dict[str, Any]:
        sym = self._symbol(params)
        if "orderId" in params:
            o = self._orders.get(int(params["orderId"]))
            if o is None or o["sym"] != sym:
                raise EmulatorError(-2013, "Order does not exist.")
            return o
        if "origClientOrderId" in params:
            return self._find(params["origClientOrderId"], sym)
        raise EmulatorError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )

    def get_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        o = self._lookup(params)
        reply = self._order_json(o)
        script = self._scripts.get(o["orderId"])
        if script:
            reply.update(script.pop(0))
        return reply

    def cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        try:
            o = self._lookup(params)
        except EmulatorError as exc:
            if exc.code == -2013:
                raise EmulatorError(-2011, "Unknown order sent.") from None
            raise
        if o["status"] not in _OPEN:
            raise EmulatorError(-2011, "Unknown order sent.")
        self._unlock(o)
        o["status"] = "CANCELED"
        o["updateTime"] = self._now
        reply = self._order_json(o)
        # Binance: the reply's clientOrderId is the cancel request's own id
        reply["origClientOrderId"] = o["clientOrderId"]
        reply["clientOrderId"] = params.get("newClientOrderId") or f"cancel-{o['orderId']}"
        reply["transactTime"] = self._now
        return reply

    def open_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        sym = self._symbol(params, required=False)
        return [
            self._order_json(o)
            for o in self._orders.values()
            if o["status"] in _OPEN and (sym is None or o["sym"] == sym)
        ]

    def my_trades(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        sym = self._symbol(params)
        assert sym is not None
        oid = int(params["orderId"]) if "orderId" in params else None
        from_id = int(params.get("fromId", 0))
        start = int(params.get("startTime", 0))
        end = int(params["endTime"]) if "endTime" in params else None
        limit = min(int(params.get("limit", 500)), 1000)
        out = []
        for f in self._fills:
            if f["symbol"] != sym or (oid is not None and f["order_id"] != oid):
                continue
            if (
                f["trade_id"] < from_id
                or f["time"] < start
                or (end is not None and f["time"] > end)
            ):
                continue
            qty, price = _d(f["qty"]), _d(f["price"])
            out.append(
                {
                    "symbol": self._market_id(sym),
                    "id": f["trade_id"],
                    "orderId": f["order_id"],
                    "orderListId": -1,
                    "price": _s(price),
                    "qty": _s(qty),
                    "quoteQty": _s(qty * price),
                    "commission": _s(_d(f["fee"])),
                    "commissionAsset": f["fee_asset"],
                    "time": f["time"],
                    "isBuyer": f["side"] == "BUY",
                    "isMaker": f["maker"],
                    "isBestMatch": True,
                }
            )
        return out[:limit]

    # -- requests -----------------------------------------------------------------------------
    def _authenticate(self, raw: str, params: dict[str, str], headers: Any) -> None:
        if headers.get("X-MBX-APIKEY") != self._api_key:
            raise EmulatorError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        signed, sep, signature = raw.rpartition("&signature=")
        if not sep:
            raise EmulatorError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        expected = hmac.new(self._secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise EmulatorError(-1022, "Signature for this request is not valid.")
        try:
            ts = int(params["timestamp"])
        except (KeyError, ValueError):
            raise EmulatorError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            ) from None
        wall = int(time.time() * 1000)
        window = int(params.get("recvWindow", 5000))
        if ts > wall + 1000 or wall - ts > window:
            raise EmulatorError(-1021, "Timestamp for this request is outside of the recvWindow.")

    _PUBLIC = {
        ("GET", "/api/v3/ping"): lambda self, p: {},
        ("GET", "/api/v3/time"): lambda self, p: {"serverTime": self._now},
        ("GET", "/api/v3/exchangeInfo"): lambda self, p: self.exchange_info(),
        ("GET", "/api/v3/klines"): lambda self, p: self.klines(p),
    }
    _PRIVATE = {
        ("POST", "/api/v3/order"): lambda self, p: self.create_order(p),
        ("GET", "/api/v3/order"): lambda self, p: self.get_order(p),
        ("DELETE", "/api/v3/order"): lambda self, p: self.cancel_order(p),
        ("GET", "/api/v3/openOrders"): lambda self, p: self.open_orders(p),
        ("GET", "/api/v3/myTrades"): lambda self, p: self.my_trades(p),
        ("GET", "/api/v3/account"): lambda self, p: self.account(),
    }

    def handle(self, method: str, path: str, raw: str, headers: Any) -> tuple[int, Any]:
        """Answer one request: ``(HTTP status, JSON body)``."""
        params = dict(parse_qsl(raw, keep_blank_values=True))
        self.request_log.append(
            (method, path, {k: v for k, v in params.items() if k != "signature"})
        )
        key = (method, path)
        try:
            with self._lock:
                if key in self._PUBLIC:
                    return 200, self._PUBLIC[key](self, params)
                if key in self._PRIVATE:
                    self._authenticate(raw, params, headers)
                    return 200, self._PRIVATE[key](self, params)
            return 404, {"code": -1, "msg": f"emulator: no route {method} {path}"}
        except EmulatorError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}


class _Handler(BaseHTTPRequestHandler):
    emu: ExchangeEmulator
    protocol_version = "HTTP/1.1"  # keep-alive, as the real venue
    disable_nagle_algorithm = True  # else every reply waits ~40 ms for a delayed ACK
    timeout = 10  # an idle keep-alive connection ends its thread

    def setup(self) -> None:
        super().setup()
        with self.emu._lock:
            self.emu._conns.add(self.request)

    def finish(self) -> None:
        with self.emu._lock:
            self.emu._conns.discard(self.request)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        # the request line carries signed query strings: keep it out of stderr
        pass

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        raw = "&".join(x for x in (parts.query, body) if x)
        emu = self.emu
        fault = emu._take_fault(method, parts.path)
        logger.debug("emulator %s %s%s", method, parts.path, f" fault={fault}" if fault else "")
        if fault == "drop_before":
            return self._drop()
        if fault in ("http429", "http418"):
            # Binance's rate-limit (429) and ban (418) replies
            msg = "Too many requests." if fault == "http429" else "IP banned."
            return self._reply(int(fault[4:]), {"code": -1003, "msg": msg}, retry_after=True)
        if fault in ("http500", "http503"):
            # a gateway error: no JSON body, ccxt maps the status (ExchangeNotAvailable)
            return self._reply(int(fault[4:]), None)
        if fault == "timeout":
            emu._stopping.wait(emu.timeout_delay_s)
            return self._drop()
        status, payload = emu.handle(method, parts.path, raw, self.headers)
        if fault == "drop_after":
            return self._drop()
        if fault == "timeout_after":
            emu._stopping.wait(emu.timeout_delay_s)
            return self._drop()
        self._reply(status, payload)

    def _reply(self, status: int, payload: Any, retry_after: bool = False) -> None:
        data = json.dumps(payload).encode() if payload is not None else b"Service error"
        try:
            self.send_response(status)
            ctype = "application/json;charset=UTF-8" if payload is not None else "text/plain"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if retry_after:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")


#: ccxt options that keep ``load_markets()`` to the single ``GET /api/v3/exchangeInfo``
OFFLINE_OPTIONS: dict[str, Any] = {
    "fetchCurrencies": False,
    "fetchMargins": False,
    "fetchMarkets": {"types": ["spot"]},
    "adjustForTimeDifference": False,
    "fetchOpenOrders": {"warnWithoutSymbol": False},
    "warnOnFetchOpenOrdersWithoutSymbol": False,
    # a market buy with a price must send quantity, not quoteOrderQty
    "createOrder": {"quoteOrderQty": False},
    "defaultType": "spot",
    "maxRetriesOnFailure": 0,
}


def client_config(url: str, api_key: str, secret: str) -> dict[str, Any]:
    """The ccxt config of a client for the emulator at ``url`` (see ``client``)."""
    return {
        "apiKey": api_key,
        "secret": secret,
        "enableRateLimit": False,
        "timeout": 1000,
        "options": dict(OFFLINE_OPTIONS),
    }


def localize_urls(exchange: Any, url: str) -> None:
    """Point every API URL of a ccxt exchange at ``url`` (scheme and host replaced, path kept).
    Call it after ``set_sandbox_mode``, which replaces the URLs again."""
    base = url.rstrip("/")

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            return base + parts.path
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])

"""``LiveBroker``: Backtrader orders placed on a real exchange through ccxt (issue 8).

The broker never decides anything about an order itself: every order event (the local
submit, the exchange's acceptance or refusal, each order report polled from the exchange, a
cancel request) goes through the execution ledger of ``bt_cracktrader.core`` (``PyLedger`` or
the Rust ``RustLedger``, the same API), and the ledger's records become Backtrader's
``Order.execute``/``accept``/``cancel``... calls and ``notify_order`` notifications. So a report
seen twice, late or out of order is applied exactly once, whichever backend runs.

Trading is opt-in: ``LiveBroker(exchange)`` is refused unless ``live=True`` is given.

Exchange calls and their failures (the retry policy of ``docs/user_guide.md``):

* ``create_order`` is sent exactly once, with a deterministic ``clientOrderId``
  (``f"{client_id_prefix}{run_id}-{order.ref}"``) and ccxt's own retries switched off for the
  call. When its reply is lost (``NetworkError``, ``RequestTimeout``, a rate limit, ``"Duplicate
  order sent."``) the order is *unknown*: the next polls look it up by ``clientOrderId``; an
  order still not found ``grace`` seconds after it was sent never reached the exchange and is
  ``Rejected``. ``InsufficientFunds`` becomes ``Margin``; ``InvalidOrder``, ``BadRequest`` and
  ``BadSymbol`` become ``Rejected``, with the exchange's message in ``order.info["error"]``.
* Reads (``fetch_order``, ``fetch_my_trades``, ``fetch_balance``, ``load_markets``) and
  ``cancel_order`` (idempotent at the exchange) are retried on network errors, with an
  exponential backoff capped at ``backoff_max``; rate limits (``DDoSProtection``,
  ``RateLimitExceeded``) back off the same way, honouring ``Retry-After``.
* ``OrderNotFound`` in reply to a cancel means the order is already terminal: it is queried,
  and the exchange's answer (say, filled) is what the strategy sees.

Fees: Binance's ``fetch_order`` has no fees, so they come from ``fetch_my_trades`` (or from
the trades in a ``create_order`` reply). A fee charged in the base asset is converted to the
quote currency at its trade's price; a fee in a third currency (e.g. BNB) is not counted and
logged once as a WARNING. Cash, positions and value are the ledger's, in the quote currency.

Credentials (``apiKey``, ``secret``, ``password``, ``uid``, ``privateKey``) never reach a log
line, a repr, an exception message or the replay log: every text that may quote the exchange is
scrubbed, and ccxt's own DEBUG log of request headers is scrubbed by a logging filter.
"""

from __future__ import annotations

import collections
import datetime
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import IO, Any, Callable

import backtrader as bt
import ccxt
from backtrader.order import BuyOrder, Order, SellOrder
from backtrader.position import Position

from .core import load_ledger
from .core.replay import RecordingLedger, load, replay_ledger

__all__ = [
    "API_KEY_ENV",
    "SECRET_ENV",
    "LiveBroker",
    "LiveBrokerError",
    "LiveTradingNotEnabled",
    "replay_ledger_log",
]

logger = logging.getLogger(__name__)

#: Environment variables holding the API key and secret when ``LiveBroker`` is given an
#: exchange id (``LiveBroker("binance", live=True)``) instead of a store or a ccxt exchange.
API_KEY_ENV = "BT_CRACKTRADER_API_KEY"
SECRET_ENV = "BT_CRACKTRADER_SECRET"

#: Binance's rule for a client order id (other exchanges accept at least these).
CLIENT_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")

#: ccxt exchange attributes holding credentials.
SECRET_FIELDS = ("apiKey", "secret", "password", "uid", "privateKey", "token")

_SIGNATURE = re.compile(r"(signature=)[0-9A-Za-z%+/=_-]+")

#: Statuses of a ccxt order that the ledger understands.
REPORT_STATUSES = ("open", "closed", "canceled", "expired", "rejected")

_RATE_LIMITS = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)
# the order reached the exchange and was refused for what it is
_REJECTIONS = (ccxt.InvalidOrder, ccxt.BadRequest)
_DUPLICATE = "Duplicate order sent"
# configuration errors: no order can succeed, so the broker stops with LiveBrokerError
_FATAL = (ccxt.AuthenticationError, ccxt.NotSupported, ccxt.ArgumentsRequired)
# the ledger's record "to" status -> the bt.Order method that sets it
_STATUS_METHODS = {
    "Submitted": "submit",
    "Accepted": "accept",
    "Partial": "partial",
    "Completed": "completed",
    "Canceled": "cancel",
    "Rejected": "reject",
    "Margin": "margin",
}


class LiveTradingNotEnabled(RuntimeError):
    """``LiveBroker`` was created without ``live=True``."""


class LiveBrokerError(RuntimeError):
    """The exchange refused a call for a reason no retry fixes (credentials, permissions, an
    unsupported call): the message names the call and the exchange's answer, never a secret."""


class _Scrubber(logging.Filter):
    """Replaces credentials by ``***`` in texts and in log records (a logging filter on ccxt's
    logger, whose DEBUG lines quote the request headers, API key included)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def add(self, secrets: Iterable[str]) -> None:
        # a value too short to be a credential (an empty uid, a "1") would garble every line
        known = set(self.secrets) | {s for s in secrets if len(s) >= 4}
        # longest first, so a secret containing another is replaced whole
        self.secrets = sorted(known, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        # a request's signature is no secret, but nothing is gained by logging it
        return _SIGNATURE.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            clean = self.scrub(message)
            if clean != message:
                record.msg = clean
                record.args = None
        return True


#: One filter for every broker (each adds its exchange's credentials): attached once to ccxt's
#: loggers, it scrubs their records whichever broker's exchange logs.
_SCRUBBER = _Scrubber()


def _exchange_secrets(exchange: Any) -> list[str]:
    found = []
    for name in SECRET_FIELDS:
        value = getattr(exchange, name, None)
        if isinstance(value, str) and value:
            found.append(value)
    return found


def _resolve_exchange(store_or_exchange: Any) -> Any:
    """The ccxt exchange of a store (its ``exchange`` attribute), a ccxt exchange itself, or a
    new ccxt exchange for an exchange id or a ccxt config with ``"exchange"`` (the keys from
    the config, else from the environment)."""
    if isinstance(store_or_exchange, Mapping):
        config = dict(store_or_exchange)
        exchange_id = config.pop("exchange", None)
        if not isinstance(exchange_id, str):
            raise ValueError(
                f"LiveBroker: a config needs exchange = a ccxt exchange id, got {exchange_id!r}"
            )
    elif isinstance(store_or_exchange, str):
        exchange_id, config = store_or_exchange, {}
    else:
        exchange_id = None
    if exchange_id is not None:
        cls = getattr(ccxt, exchange_id, None)
        if cls is None or not isinstance(cls, type):
            raise ValueError(f"LiveBroker: exchange = {exchange_id!r} is not a ccxt exchange id")
        if not config.get("apiKey") or not config.get("secret"):
            missing = [name for name in (API_KEY_ENV, SECRET_ENV) if not os.environ.get(name)]
            if missing:
                raise ValueError(
                    f"LiveBroker: exchange {exchange_id!r} needs API keys: set "
                    f"{' and '.join(missing)} (or apiKey and secret in the config)"
                )
            config["apiKey"] = os.environ[API_KEY_ENV]
            config["secret"] = os.environ[SECRET_ENV]
        return cls(config)
    exchange = getattr(store_or_exchange, "exchange", None)
    if exchange is not None and hasattr(exchange, "create_order"):
        return exchange
    if hasattr(store_or_exchange, "create_order"):
        return store_or_exchange
    raise TypeError(
        f"LiveBroker: store_or_exchange = {type(store_or_exchange).__name__} is neither a store "
        "(with an `exchange` attribute) nor a ccxt exchange"
    )


def _num(value: Any) -> float | None:
    """A ccxt number (float, int, str in ``number=str`` mode, or None) as a float or None."""
    if value is None or value == "":
        return None
    out = float(value)
    return out if math.isfinite(out) else None


class _LiveOrder:
    """What the broker knows of one order beyond the ledger: its Backtrader object, symbol,
    exchange id, and whether a lost reply left it unknown."""

    __slots__ = (
        "order",
        "cid",
        "symbol",
        "order_id",
        "unknown",
        "sent_at",
        "trade_waits",
        "cancel_wanted",
    )

    def __init__(self, order: Order, cid: str, symbol: str, sent_at: float) -> None:
        self.order = order
        self.cid = cid
        self.symbol = symbol
        self.order_id: str | None = None
        self.unknown = False
        self.sent_at = sent_at
        self.trade_waits = 0  # polls a report waited for its trades (fees)
        self.cancel_wanted = False  # a cancel to send once the order is found


class LiveBroker(bt.BrokerBase):
    """A Backtrader broker that trades on an exchange through ccxt; every order event goes
    through the execution ledger of the chosen core.

    ``LiveBroker(store_or_exchange, live=True, **params)``: ``store_or_exchange`` is a store
    (its ``exchange`` attribute is the ccxt exchange), a ccxt exchange, or an exchange id (keys
    from ``BT_CRACKTRADER_API_KEY``/``BT_CRACKTRADER_SECRET``). Each data feed trades the
    ccxt symbol in its ``symbol`` param or attribute, else its ``dataname`` when that is a
    symbol (a store's feed), else its name (``adddata(d, name=...)``).

    Params:

      - ``live`` (default: ``False``): must be ``True``, or the broker is not created.
      - ``backend`` (default: ``None``): the core, ``"python"``, ``"rust"`` or ``"auto"``
        (``None`` reads ``BT_CRACKTRADER_BACKEND``).
      - ``cash`` (default: ``None``): the starting cash; ``None`` reads the total balance of the
        quote currency with ``fetch_balance`` at start.
      - ``currency`` (default: ``None``): the quote currency; ``None`` takes it from the datas'
        symbols (which must share it).
      - ``poll`` (default: ``1.0``): the least seconds between two polls of the exchange
        (``0``: every ``next()``).
      - ``client_id_prefix`` (default: ``"btct"``) and ``run_id`` (default: ``None``, a base-36
        stamp of the start time): the client order id is ``f"{prefix}{run_id}-{order.ref}"``.
      - ``grace`` (default: ``10.0``): seconds an order whose ``create_order`` reply was lost may
        stay unknown at the exchange before it is taken as never placed (``Rejected``).
      - ``retries`` (default: ``4``), ``backoff`` (default: ``0.5``), ``backoff_max`` (default:
        ``30.0``): reads and cancels are retried up to ``retries`` times, waiting
        ``min(backoff * 2**attempt, backoff_max)`` seconds (or the ``Retry-After`` header).
      - ``trade_waits`` (default: ``2``): polls a fill waits for its trades (the fees) to appear
        in ``fetch_my_trades`` before it is booked with the fees known so far.
      - ``replay_log`` (default: ``None``): a path where the ledger's batches of events, with
        the records (or error) the ledger answered, are written as JSON lines by
        ``core.replay.RecordingLedger``: an execution-ledger log that ``python -m bt_cracktrader
        replay PATH`` and ``replay_ledger_log(PATH)`` replay on either core.
      - ``strict`` (default: ``False``): the ledger checks its invariants after every event.
      - ``sleep``, ``clock`` (default: ``time.sleep``, ``time.monotonic``): injectable for tests.
    """

    params = (
        ("live", False),
        ("backend", None),
        ("cash", None),
        ("currency", None),
        ("poll", 1.0),
        ("client_id_prefix", "btct"),
        ("run_id", None),
        ("grace", 10.0),
        ("retries", 4),
        ("backoff", 0.5),
        ("backoff_max", 30.0),
        ("trade_waits", 2),
        ("replay_log", None),
        ("strict", False),
        ("sleep", time.sleep),
        ("clock", time.monotonic),
    )

    def __init__(self, store_or_exchange: Any) -> None:
        self._exchange = _resolve_exchange(store_or_exchange)
        self._exchange_id = str(getattr(self._exchange, "id", type(self._exchange).__name__))
        if self.p.live is not True:
            raise LiveTradingNotEnabled(
                f"LiveBroker sends real orders to {self._exchange_id}: pass live=True to opt in "
                "(LiveBroker(store, live=True))"
            )
        self._scrubber = _SCRUBBER
        self._scrubber.add(_exchange_secrets(self._exchange))
        exlogger = getattr(self._exchange, "logger", None)
        for log in {logging.getLogger("ccxt"), logging.getLogger("ccxt.base.exchange"), exlogger}:
            if isinstance(log, logging.Logger) and self._scrubber not in log.filters:
                log.addFilter(self._scrubber)
        self._ledger_cls, self.backend = load_ledger(self.p.backend)
        prefix = self.p.client_id_prefix
        if not isinstance(prefix, str) or not CLIENT_ID_PATTERN.match(prefix + "x"):
            raise ValueError(
                f"LiveBroker: client_id_prefix = {prefix!r} has characters a client order id "
                "cannot hold (allowed: A-Z a-z 0-9 . : / _ -)"
            )
        self._log_file: IO[str] | None = None
        self._ledger: Any = None
        super().__init__()

    def __repr__(self) -> str:
        # never the exchange object itself: its repr is not ours to trust with the keys
        orders = 0 if self._ledger is None else len(self._live)
        return (
            f"LiveBroker(exchange={self._exchange_id!r}, backend={self.backend!r}, live=True, "
            f"orders={orders})"
        )

    __str__ = __repr__

    # -- life cycle ----------------------------------------------------------------------------
    def init(self) -> None:
        super().init()
        self.notifs: collections.deque[Order] = collections.deque()
        self.positions: collections.defaultdict[Any, Position] = collections.defaultdict(Position)
        self.fills: list[dict[str, Any]] = []  # the ledger's fill records, for inspection
        self.diagnostics: list[dict[str, Any]] = []  # and its diagnostics
        self._live: dict[str, _LiveOrder] = {}  # every order of the run, by client id
        self._by_ref: dict[int, str] = {}
        self._datas: dict[Any, int] = {}
        self._datalist: list[Any] = []
        self._seq = 0
        self._last_poll: float | None = None
        self._third_fees: set[str] = set()
        self.cash = 0.0
        self.value = 0.0
        self.startingcash = 0.0

    def start(self) -> None:
        self.init()
        self._run_id = str(self.p.run_id or _base36(int(time.time())))
        stem = f"{self.p.client_id_prefix}{self._run_id}-"
        # room for order refs of 10 digits within Binance's 36 characters
        if not CLIENT_ID_PATTERN.match(stem + "0") or len(stem) > 26:
            raise ValueError(
                f"LiveBroker: run_id = {self.p.run_id!r} makes client order ids {stem}<ref> that "
                "are too long or hold characters a client order id cannot (26 characters at "
                "most before the ref; A-Z a-z 0-9 . : / _ -)"
            )
        datas = list(getattr(getattr(self, "cerebro", None), "datas", None) or [])
        for data in datas:
            self._data_index(data)
        try:
            self._read("load_markets", self._exchange.load_markets)
        except ccxt.BaseError as exc:
            raise self._fatal("load_markets", exc) from None
        cash = self.p.cash
        if cash is None:
            currency = self._currency(datas)
            try:
                balance = self._read("fetch_balance", self._exchange.fetch_balance)
            except ccxt.BaseError as exc:
                raise self._fatal("fetch_balance", exc) from None
            total = (balance.get("total") or {}).get(currency)
            if total is None:
                total = (balance.get(currency) or {}).get("total")
            if total is None:
                logger.warning("LiveBroker: fetch_balance has no %s balance: cash 0", currency)
            cash = _num(total) or 0.0
            logger.info("LiveBroker: starting cash %r %s from fetch_balance", cash, currency)
        self._ledger = self._open_ledger(float(cash))
        self.startingcash = self.cash = self.value = float(cash)

    def stop(self) -> None:
        self._close_log()

    def _currency(self, datas: list[Any]) -> str:
        if self.p.currency:
            return str(self.p.currency)
        quotes = {_split_symbol(self._symbol(d))[1] for d in datas}
        if len(quotes) != 1:
            raise ValueError(
                f"LiveBroker: currency = None and the datas' quote currencies are {sorted(quotes)}"
                ": pass currency= (or cash=)"
            )
        return quotes.pop()

    def _open_ledger(self, cash: float) -> Any:
        """A fresh ledger; with ``replay_log``, wrapped in a ``RecordingLedger`` that writes
        every batch to the log (the execution-ledger log that ``python -m bt_cracktrader replay``
        reads)."""
        strict = bool(self.p.strict)
        ledger = self._ledger_cls(cash, 0.0, strict)
        self._close_log()  # a broker started again starts a new log
        path = self.p.replay_log
        if not path:
            return ledger
        self._log_file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        description = (
            f"LiveBroker replay log: exchange {self._exchange_id}, run {self._run_id}, "
            f"{self.backend} ledger"
        )
        return RecordingLedger(
            ledger, cash, 0.0, strict, sink=self._log_file, description=description, keep=False
        )

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- datas ----------------------------------------------------------------------------------
    def _data_index(self, data: Any) -> int:
        idx = self._datas.get(data)
        if idx is None:
            idx = self._datas[data] = len(self._datalist)
            self._datalist.append(data)
        return idx

    @staticmethod
    def _symbol(data: Any) -> str:
        params = getattr(data, "p", None)
        symbol = getattr(params, "symbol", None) or getattr(data, "symbol", None)
        dataname = getattr(params, "dataname", None)
        # a store's feed names its symbol in ``dataname`` (``store.getdata(dataname="BTC/USDT")``)
        if not symbol and isinstance(dataname, str) and "/" in dataname:
            symbol = dataname
        symbol = symbol or getattr(data, "_name", None)
        if not isinstance(symbol, str) or "/" not in symbol:
            raise ValueError(
                f"LiveBroker: data {symbol!r} names no ccxt symbol: give the feed a symbol param "
                "or add it with cerebro.adddata(data, name='BTC/USDT')"
            )
        return symbol

    # -- exchange calls -------------------------------------------------------------------------
    def _scrub(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {self._scrubber.scrub(str(exc))}"

    def _delay(self, attempt: int, exc: BaseException | None) -> float:
        delay = min(float(self.p.backoff) * 2.0**attempt, float(self.p.backoff_max))
        if exc is not None and isinstance(exc, _RATE_LIMITS):
            headers = getattr(self._exchange, "last_response_headers", None) or {}
            after = _num(headers.get("Retry-After") or headers.get("retry-after"))
            if after is not None and after > delay:
                delay = min(after, float(self.p.backoff_max))
        return delay

    def _read(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)``, retried on network errors and rate limits (reads and
        cancels only: both are safe to repeat)."""
        attempt = 0
        resynced = False
        while True:
            try:
                return call(*args, **kwargs)
            except ccxt.InvalidNonce as exc:
                # the clock drifted: retrying as is fails the same way, a resync fixes it
                if resynced:
                    raise
                resynced = True
                logger.warning("%s: %s; resyncing the clock", what, self._scrub(exc))
                self._exchange.load_time_difference()
                continue
            except ccxt.OperationFailed as exc:
                if attempt >= int(self.p.retries):
                    raise
                delay = self._delay(attempt, exc)
                logger.warning(
                    "%s failed (%s); retry %d of %d in %.3g s",
                    what,
                    self._scrub(exc),
                    attempt + 1,
                    self.p.retries,
                    delay,
                )
                self.p.sleep(delay)
                attempt += 1

    def _fatal(self, what: str, exc: BaseException) -> LiveBrokerError:
        return LiveBrokerError(f"{what} on {self._exchange_id} failed: {self._scrub(exc)}")

    # -- orders ---------------------------------------------------------------------------------
    def buy(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: Any = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        **kwargs: Any,
    ) -> Order:
        return self._order(
            BuyOrder,
            owner,
            data,
            size,
            price,
            plimit,
            exectype,
            valid,
            tradeid,
            oco,
            trailamount,
            trailpercent,
            parent,
            transmit,
            kwargs,
        )

    def sell(
        self,
        owner: Any,
        data: Any,
        size: Any,
        price: Any = None,
        plimit: Any = None,
        exectype: Any = None,
        valid: Any = None,
        tradeid: int = 0,
        oco: Any = None,
        trailamount: Any = None,
        trailpercent: Any = None,
        parent: Any = None,
        transmit: bool = True,
        **kwargs: Any,
    ) -> Order:
        return self._order(
            SellOrder,
            owner,
            data,
            size,
            price,
            plimit,
            exectype,
            valid,
            tradeid,
            oco,
            trailamount,
            trailpercent,
            parent,
            transmit,
            kwargs,
        )

    def _order(
        self,
        cls: Any,
        owner: Any,
        data: Any,
        size: Any,
        price: Any,
        plimit: Any,
        exectype: Any,
        valid: Any,
        tradeid: int,
        oco: Any,
        trailamount: Any,
        trailpercent: Any,
        parent: Any,
        transmit: bool,
        kwargs: dict[str, Any],
    ) -> Order:
        if self._ledger is None:
            raise RuntimeError("LiveBroker: start() the broker (or run cerebro) before ordering")
        if exectype not in (None, Order.Market, Order.Limit):
            name = Order.ExecTypes[exectype] if isinstance(exectype, int) else exectype
            raise NotImplementedError(
                f"LiveBroker: exectype = {name} is not supported (only Market and Limit)"
            )
        unsupported = {
            "valid": valid,
            "oco": oco,
            "trailamount": trailamount,
            "trailpercent": trailpercent,
            "parent": parent,
            "plimit": plimit,
        }
        for name, value in unsupported.items():
            if value is not None:
                raise NotImplementedError(f"LiveBroker: {name} = {value!r} is not supported")
        if not transmit:
            raise NotImplementedError("LiveBroker: transmit = False is not supported")
        # checked before anything is sent: the ledger would refuse them after the fact
        if not isinstance(size, (int, float)) or not math.isfinite(size) or not size > 0:
            raise ValueError(f"LiveBroker: size = {size!r} is not a number > 0")
        if price is not None and (
            not isinstance(price, (int, float)) or not math.isfinite(price) or not price > 0
        ):
            raise ValueError(f"LiveBroker: price = {price!r} is not a number > 0")
        order = cls(
            owner=owner, data=data, size=size, price=price, exectype=exectype, tradeid=tradeid
        )
        order.addinfo(**kwargs)
        limit = order.exectype == Order.Limit
        if limit and price is None:
            raise ValueError("LiveBroker: a Limit order needs price, got price = None")
        # a market order goes without a price: with one, Binance buys for a quote amount
        limit_price = float(price) if limit and price is not None else None
        idx = self._data_index(data)
        symbol = self._symbol(data)
        amount = abs(float(order.size))
        cid = f"{self.p.client_id_prefix}{self._run_id}-{order.ref}"
        live = self._live[cid] = _LiveOrder(order, cid, symbol, self.p.clock())
        self._by_ref[order.ref] = cid
        side = "buy" if order.isbuy() else "sell"
        submit = {
            "type": "submit",
            "seq": self._next_seq(),
            "order": cid,
            "data": idx,
            "side": side,
            "size": amount,
            "exectype": "limit" if limit else "market",
            "price": limit_price,
            "sim": False,
        }
        events: list[dict[str, Any]] = [submit]
        problem = self._precision_problem(symbol, amount, limit_price)
        if problem is not None:
            order.info["error"] = problem
            logger.warning("order %s rejected before sending: %s", cid, problem)
            events.append(self._event("reject", cid, margin=False))
            self._apply(events)
            return order
        fatal: LiveBrokerError | None = None
        try:
            reply = self._exchange.create_order(
                symbol,
                "limit" if limit else "market",
                side,
                amount,
                limit_price,
                # ccxt's own retries would resend the order (doc 2.4-l): off for this call
                {"clientOrderId": cid, "maxRetriesOnFailure": 0},
            )
        except ccxt.InsufficientFunds as exc:
            self._refused(order, events, cid, exc, margin=True)
        except _FATAL as exc:
            self._refused(order, events, cid, exc, margin=False)
            fatal = self._fatal(f"create_order of {cid}", exc)
        except _REJECTIONS as exc:
            if _DUPLICATE in str(exc):
                # a copy with this id is live: find it as after a lost reply
                self._lost(live, exc)
            else:
                self._refused(order, events, cid, exc, margin=False)
        except _RATE_LIMITS as exc:
            self._lost(live, exc)
            self.p.sleep(self._delay(0, exc))
        except ccxt.OperationFailed as exc:
            self._lost(live, exc)
        except ccxt.BaseError as exc:  # any other refusal by the exchange
            self._refused(order, events, cid, exc, margin=False)
        except Exception:
            # not the exchange's answer (a bug, an interrupted call): the order stays out of the
            # alive set, and the error goes up as it is
            events.append(self._event("reject", cid, margin=False))
            self._apply(events)
            raise
        else:
            events.extend(self._placed(live, reply))
        self._apply(events)
        if fatal is not None:
            raise fatal from None  # the cause could quote the exchange's request
        return order

    def _precision_problem(self, symbol: str, amount: float, price: float | None) -> str | None:
        """Why the exchange would round the order (so its size would not be the order's), or
        None. Skipped when the exchange has no markets to round with."""
        markets = getattr(self._exchange, "markets", None)
        if (
            not markets
            or symbol not in markets
            or not hasattr(self._exchange, "amount_to_precision")
        ):
            return None
        try:
            rounded = float(self._exchange.amount_to_precision(symbol, amount))
        except ccxt.BaseError as exc:
            return f"size = {amount!r}: {self._scrub(exc)}"
        if rounded != amount:
            return f"size = {amount!r} is not a multiple of {symbol}'s amount step ({rounded!r})"
        if price is not None:
            rounded = float(self._exchange.price_to_precision(symbol, price))
            if rounded != price:
                return f"price = {price!r} is not a multiple of {symbol}'s tick ({rounded!r})"
        return None

    def _refused(
        self,
        order: Order,
        events: list[dict[str, Any]],
        cid: str,
        exc: BaseException,
        margin: bool,
    ) -> None:
        message = self._scrub(exc)
        order.info["error"] = message
        logger.warning(
            "order %s %s by %s: %s",
            cid,
            "Margin" if margin else "Rejected",
            self._exchange_id,
            message,
        )
        events.append(self._event("reject", cid, margin=margin))

    def _lost(self, live: _LiveOrder, exc: BaseException) -> None:
        live.unknown = True
        logger.warning(
            "order %s: create_order's outcome is unknown (%s); reconciling by clientOrderId",
            live.cid,
            self._scrub(exc),
        )

    def _placed(self, live: _LiveOrder, reply: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events of an order the exchange acknowledged with ``reply``."""
        order_id = reply.get("id")
        if order_id is None:
            # an answer without the exchange's id cannot be polled: look it up by client id
            self._lost(live, ccxt.BadResponse(f"create_order's reply has no id: {reply!r}"))
            return []
        live.unknown = False
        live.order_id = str(order_id)
        known = self._ledger.order(live.cid)
        events = []
        if known is None or known["status"] == "Submitted":
            events.append(self._event("accept", live.cid, order_id=live.order_id))
        events.extend(self._reports(live, reply))
        return events

    def _event(self, kind: str, cid: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "seq": self._next_seq(), "order": cid, **fields}

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def cancel(self, order: Order, bracket: bool = False) -> bool:
        """Ask the exchange to cancel ``order``; ``False`` if it is not alive. The strategy sees
        ``Canceled`` once the exchange confirms it, or what the exchange did instead (a fill
        that won the race)."""
        cid = self._by_ref.get(order.ref)
        live = None if cid is None else self._live[cid]
        if live is None or not live.order.alive():
            return False
        events = [self._event("cancel_request", live.cid)]
        if live.unknown or live.order_id is None:
            # its exchange id is not known yet: cancel once the polls find it
            live.cancel_wanted = True
            self._apply(events)
            return True
        events.extend(self._send_cancel(live))
        self._apply(events)
        return True

    def _send_cancel(self, live: _LiveOrder) -> list[dict[str, Any]]:
        live.cancel_wanted = False
        snap: Any = None
        try:
            snap = self._read(
                f"cancel_order of {live.cid}",
                self._exchange.cancel_order,
                live.order_id,
                live.symbol,
            )
        except ccxt.OrderNotFound as exc:
            # already terminal (filled, or canceled by an earlier try whose reply was lost):
            # the exchange's order tells what happened (doc 8)
            logger.info("cancel of %s: %s; querying the order", live.cid, self._scrub(exc))
        except ccxt.OperationFailed as exc:
            live.cancel_wanted = True
            logger.warning(
                "cancel of %s failed (%s); retried at the next poll", live.cid, self._scrub(exc)
            )
            return []
        except _FATAL as exc:
            raise self._fatal(f"cancel_order of {live.cid}", exc) from None
        except ccxt.BaseError as exc:
            # the exchange refused the cancel: what the order became tells the rest
            logger.warning(
                "cancel of %s refused (%s); querying the order", live.cid, self._scrub(exc)
            )
        # a cancel's reply names the cancel, not the order (doc 8): trust it only by order id
        if not isinstance(snap, Mapping) or str(snap.get("id")) != live.order_id:
            return self._poll_order(live)
        if snap.get("status") not in REPORT_STATUSES:
            return self._poll_order(live)
        return self._reports(live, snap)

    def get_orders_open(self, safe: bool = False) -> list[Order]:
        """The orders still alive (clones with ``safe=True``)."""
        alive = [lv.order for lv in self._live.values() if lv.order.alive()]
        return [o.clone() for o in alive] if safe else alive

    def notify(self, order: Order) -> None:
        self.notifs.append(order.clone())

    def get_notification(self) -> Order | None:
        try:
            return self.notifs.popleft()
        except IndexError:
            return None

    # -- polling --------------------------------------------------------------------------------
    def next(self) -> None:
        """One Cerebro cycle: every ``poll`` seconds, poll the exchange for the alive orders
        (all of a poll's events go to the ledger in one batch); then value the positions."""
        if self._ledger is None:
            return
        now = self.p.clock()
        if self._last_poll is None or now - self._last_poll >= float(self.p.poll):
            self._last_poll = now
            self._apply(self.poll_events())
        self._mark()

    def poll(self) -> None:
        """Poll the exchange now (outside of Cerebro's cycle)."""
        self._apply(self.poll_events())

    def poll_events(self) -> list[dict[str, Any]]:
        """The ledger events of one poll of every alive order."""
        events: list[dict[str, Any]] = []
        for live in list(self._live.values()):
            if not live.order.alive():
                continue
            if live.unknown:
                events.extend(self._reconcile(live))
            else:
                events.extend(self._poll_order(live))
        return events

    def _reconcile(self, live: _LiveOrder) -> list[dict[str, Any]]:
        """Look an order whose ``create_order`` reply was lost up by its client id."""
        try:
            snap = self._read(
                f"fetch_order of {live.cid}",
                self._exchange.fetch_order,
                None,
                live.symbol,
                {"clientOrderId": live.cid},
            )
        except ccxt.OrderNotFound as exc:
            waited = self.p.clock() - live.sent_at
            if waited < float(self.p.grace):
                # an exchange may not show an order it just took (doc 3): wait and ask again
                return []
            message = f"never reached {self._exchange_id} ({self._scrub(exc)})"
            live.order.info["error"] = message
            logger.warning("order %s: %s; Rejected", live.cid, message)
            return [self._event("reject", live.cid, margin=False)]
        except ccxt.OperationFailed as exc:
            logger.warning(
                "order %s: reconciling failed (%s); next poll", live.cid, self._scrub(exc)
            )
            return []
        except _FATAL as exc:
            raise self._fatal(f"fetch_order of {live.cid}", exc) from None
        except ccxt.BaseError as exc:
            logger.warning(
                "order %s: reconciling failed (%s); next poll", live.cid, self._scrub(exc)
            )
            return []
        logger.info("order %s found at %s as %s", live.cid, self._exchange_id, snap.get("id"))
        events = self._placed(live, snap)
        if live.cancel_wanted:
            events.extend(self._send_cancel(live))
        return events

    def _poll_order(self, live: _LiveOrder) -> list[dict[str, Any]]:
        if live.cancel_wanted:
            events = self._send_cancel(live)
            if events or not live.cancel_wanted:
                return events
            # the cancel failed again: the order's fills still count meanwhile
        try:
            snap = self._read(
                f"fetch_order of {live.cid}",
                self._exchange.fetch_order,
                live.order_id,
                live.symbol,
            )
        except ccxt.OperationFailed as exc:
            logger.warning("fetch_order of %s failed (%s); next poll", live.cid, self._scrub(exc))
            return []
        except ccxt.OrderNotFound as exc:
            logger.warning("fetch_order of %s: %s; next poll", live.cid, self._scrub(exc))
            return []
        except _FATAL as exc:
            raise self._fatal(f"fetch_order of {live.cid}", exc) from None
        except ccxt.BaseError as exc:
            logger.warning("fetch_order of %s failed (%s); next poll", live.cid, self._scrub(exc))
            return []
        return self._reports(live, snap)

    def _reports(self, live: _LiveOrder, snap: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ledger report of one ccxt order snapshot (none when it says nothing usable)."""
        status = snap.get("status")
        filled = _num(snap.get("filled")) or 0.0
        known = self._ledger.order(live.cid)
        before = 0.0 if known is None else float(known["filled"])
        if status not in REPORT_STATUSES:
            # None or "canceling": no status change, but fills it shows still count
            if not filled > before:
                return []
            status = "open"
        order_id = snap.get("id")
        order_id = live.order_id if order_id is None else str(order_id)
        cost = _num(snap.get("cost"))
        average = _num(snap.get("average"))
        if average is not None and not average > 0:
            average = None
        if cost is not None and cost < 0:
            cost = None
        if filled > 0 and average is None and cost is None:
            price = _num(snap.get("price"))
            if price is None or not price > 0:
                logger.warning("order %s: a report with fills but no price; ignored", live.cid)
                return []
            average = price
        fee = None
        last_price = last_size = None
        if filled > before:
            trades = self._trades(live, snap, filled)
            if trades is None:
                return []  # its trades (fees) are not visible yet: book it next poll
            fee, last_price, last_size = self._fees(live, trades, filled - before)
        ts = (
            snap.get("lastTradeTimestamp")
            or snap.get("lastUpdateTimestamp")
            or snap.get("timestamp")
        )
        return [
            {
                "type": "report",
                "seq": self._next_seq(),
                "order": live.cid,
                "order_id": order_id,
                "status": status,
                "filled": filled,
                "average": average,
                "cost": cost,
                "last_price": last_price,
                "last_size": last_size,
                "fee": fee,
                "ts": _num(ts),
                "key": f"{order_id}:{filled!r}:{status}",
            }
        ]

    def _trades(
        self, live: _LiveOrder, snap: Mapping[str, Any], filled: float
    ) -> list[Mapping[str, Any]] | None:
        """The trades of an order covering ``filled`` (from the snapshot, else
        ``fetch_my_trades``); None to wait a poll for trades that lag behind the order."""
        trades = [t for t in snap.get("trades") or [] if isinstance(t, Mapping)]
        if not _covers(trades, filled):
            try:
                found = self._read(
                    f"fetch_my_trades of {live.cid}",
                    self._exchange.fetch_my_trades,
                    live.symbol,
                    None,
                    None,
                    {"orderId": live.order_id},
                )
            except ccxt.OperationFailed as exc:
                logger.warning("fetch_my_trades of %s failed (%s)", live.cid, self._scrub(exc))
                found = []
            trades = [t for t in found if str(t.get("order")) == live.order_id]
        if not _covers(trades, filled) and live.trade_waits < int(self.p.trade_waits):
            live.trade_waits += 1
            return None
        if not _covers(trades, filled):
            logger.warning(
                "order %s: its trades cover less than filled %r; fees may be short",
                live.cid,
                filled,
            )
        live.trade_waits = 0
        return trades

    def _fees(
        self, live: _LiveOrder, trades: list[Mapping[str, Any]], delta: float
    ) -> tuple[float, float | None, float | None]:
        """The cumulative fee in the quote currency, and the latest fill's price and size when
        one new trade makes the whole new fill."""
        base, quote = _split_symbol(live.symbol)
        total = 0.0
        for trade in trades:
            fees = trade.get("fees") or ([trade["fee"]] if trade.get("fee") else [])
            for fee in fees:
                cost = _num(fee.get("cost")) if isinstance(fee, Mapping) else None
                if not cost:
                    continue
                currency = fee.get("currency")
                if currency in (None, quote):
                    total += cost
                elif currency == base:
                    total += cost * float(trade["price"])
                elif currency not in self._third_fees:
                    self._third_fees.add(currency)
                    logger.warning(
                        "fees in %s (neither %s nor %s) are not counted", currency, base, quote
                    )
        last = trades[-1] if trades else None
        if last is not None and _num(last.get("amount")) == delta:
            return total, _num(last.get("price")), delta
        return total, None, None

    # -- the ledger -----------------------------------------------------------------------------
    def _apply(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        records = self._ledger.apply(events)
        for rec in records:
            kind = rec["kind"]
            if kind == "fill":
                self._fill(rec)
            elif kind == "transition":
                self._transition(self._live[rec["order"]].order, rec["to"])
            elif kind == "notification":
                self.notify(self._live[rec["order"]].order)
            elif kind == "diagnostic":
                self.diagnostics.append(rec)
        self._mark()

    def _mark(self) -> None:
        """Cash from the ledger; value: the ledger's positions at their data's last close
        (before a data's first bar, at their average price)."""
        state = self._ledger.state()
        self.cash = float(state["cash"])
        value = self.cash
        for pos in state["positions"]:
            data = self._datalist[pos["data"]]
            price = float(data.close[0]) if len(data) else float(pos["price"])
            value += pos["size"] * price
        self.value = value

    @staticmethod
    def _transition(order: Order, status: str) -> None:
        if status == "Expired":
            # bt.Order.expire() only expires an order past its own ``valid``: the exchange's
            # word is enough here
            order.status = Order.Expired
            if len(order.data):
                order.executed.dt = order.data.datetime[0]
            return
        getattr(order, _STATUS_METHODS[status])()

    def _fill(self, rec: Mapping[str, Any]) -> None:
        self.fills.append(dict(rec))
        order = self._live[rec["order"]].order
        data = order.data
        position = self.positions[data]
        size, price, fee = rec["size"], rec["price"], rec["fee"]
        oldsize, oldprice = position.size, position.price
        _, _, opened, closed = Position(oldsize, oldprice).update(size, price)
        comminfo = self.getcommissioninfo(data)
        closedvalue = comminfo.getvaluesize(-closed, oldprice)
        openedvalue = comminfo.getvaluesize(opened, price)
        # the exchange charges one fee per fill: split it as the sizes split
        closedcomm = fee * abs(closed) / abs(size) if closed else 0.0
        openedcomm = fee - closedcomm
        position.price_orig = oldprice
        position.size = rec["position_size"]
        position.price = rec["position_price"]
        position.upopened = opened
        position.upclosed = closed
        dt = _dt(rec["ts"], data)
        position.datetime = bt.num2date(dt)
        order.execute(
            dt,
            size,
            price,
            closed,
            closedvalue,
            closedcomm,
            opened,
            openedvalue,
            openedcomm,
            comminfo.margin,
            rec["pnl"],
            rec["position_size"],
            rec["position_price"],
        )
        order.addcomminfo(comminfo)

    def ledger_state(self) -> dict[str, Any]:
        """The ledger's ``state()``: cash, value, positions and alive client ids."""
        state: dict[str, Any] = self._ledger.state()
        return state

    def order_record(self, order: Order) -> dict[str, Any] | None:
        """The ledger's view of ``order`` (status, filled, cost, fee...)."""
        cid = self._by_ref.get(order.ref)
        return None if cid is None else self._ledger.order(cid)

    def client_id(self, order: Order) -> str | None:
        """The client order id ``order`` was sent with."""
        return self._by_ref.get(order.ref)

    # -- cash, value, positions -----------------------------------------------------------------
    def get_cash(self) -> float:
        return self.cash

    getcash = get_cash

    def get_value(self, datas: Any = None, mkt: bool = False, lever: bool = False) -> float:
        """Cash plus the positions at their data's close; with ``datas``, the value of those
        positions alone."""
        if datas is None:
            return self.value
        return float(sum(self.positions[d].size * d.close[0] for d in datas))

    getvalue = get_value

    def getposition(self, data: Any) -> Position:
        return self.positions[data]


def replay_ledger_log(path: str | os.PathLike[str], backend: str | None = None) -> str | None:
    """Replay an execution-ledger log (a ``LiveBroker`` ``replay_log=``, or any log written by
    ``RecordingLedger``) on a fresh ledger of ``backend`` (``"python"``, ``"rust"`` or
    ``"auto"``; default: ``BT_CRACKTRADER_BACKEND``, else auto, as ``python -m bt_cracktrader
    replay``): None when every batch gives the records (or error) the log holds, to the bit,
    else a line naming the first batch that differs (``batch #k differs: ...``, ``k`` counted
    from 0). A log that is not an execution-ledger log raises ``ValueError``, one the schema
    refuses ``jsonschema.ValidationError``."""
    recording = load(path)
    if "ledger_version" not in recording:
        raise ValueError(
            f"{os.fspath(path)}: a core replay log, not an execution-ledger log: replay it with "
            "python -m bt_cracktrader replay"
        )
    cls, _ = load_ledger(backend)
    try:
        replay_ledger(recording, cls)
    except AssertionError as exc:
        return str(exc)
    return None


def _covers(trades: list[Mapping[str, Any]], filled: float) -> bool:
    total = math.fsum(_num(t.get("amount")) or 0.0 for t in trades)
    return math.isclose(total, filled, rel_tol=1e-9, abs_tol=0.0) or total > filled


def _split_symbol(symbol: str) -> tuple[str, str]:
    base, _, rest = symbol.partition("/")
    return base, rest.split(":")[0]


def _dt(ts: Any, data: Any) -> float:
    """A fill's time as a Backtrader date number: the exchange's, else the data's bar."""
    if ts is not None:
        moment = datetime.datetime.fromtimestamp(ts / 1000.0, tz=datetime.timezone.utc)
        return float(bt.date2num(moment.replace(tzinfo=None)))
    if len(data):
        return float(data.datetime[0])
    return float(bt.date2num(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out

"""``CrackStore``: Backtrader's store for any ccxt exchange.

One store per (exchange id, API key, URL override) shares ONE ccxt instance between the feeds
and the broker, so rate limits and markets are shared::

    store = bt.stores.CrackStore(exchange="binance", sandbox=True)
    data = store.getdata(dataname="BTC/USDT", timeframe=bt.TimeFrame.Minutes, compression=1,
                         fromdate=datetime.datetime(2024, 1, 1), historical=False)
    cerebro.adddata(data)
    cerebro.setbroker(store.getbroker(cash=10000.0))   # paper trading (the default)
    # store.getbroker(live=True): real orders (see LiveBroker), needs keys

Calls go through ``store.call(method, *args)``, whose retry policy depends on the method's
class: reads (``fetch_*``, ``load_markets``) and cancels are retried with exponential backoff
on ``NetworkError``/``RequestTimeout``/``ExchangeNotAvailable`` (any ``OperationFailed``), and
back off longer on ``DDoSProtection``/``RateLimitExceeded`` (honouring ``Retry-After``);
``InvalidNonce`` resynchronises the clock and retries once; order placement (``create_*``,
``edit_*``) is NEVER retried, because a lost reply may hide a placed order (the broker
reconciles it by client order id instead). Errors that are not transient
(``AuthenticationError``, ``InvalidOrder``, ``InsufficientFunds``...) are raised at once.

API keys come from ``config`` (``apiKey``/``secret``) or from the environment variables
``BT_CRACKTRADER_API_KEY`` and ``BT_CRACKTRADER_SECRET``. They never appear in the store's
``repr``, in its log records, or in ccxt's own log records (the store gives ccxt a logger that
masks them).
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
from typing import Any, Callable, ClassVar

import backtrader as bt
from backtrader.store import MetaSingleton

from .market import MarketSpec

__all__ = ["API_KEY_ENV", "SECRET_ENV", "CrackStore", "CrackStoreError"]

logger = logging.getLogger(__name__)

#: Environment variables holding the API key and secret (when ``config`` has none).
API_KEY_ENV = "BT_CRACKTRADER_API_KEY"
SECRET_ENV = "BT_CRACKTRADER_SECRET"

_MASK = "***"
_SECRET_FIELDS = ("apiKey", "secret", "password", "privateKey", "uid", "token")

# methods whose repetition could double an order: never retried
_NO_RETRY_PREFIXES = ("create_", "edit_", "createOrder", "editOrder")
_CANCEL_PREFIXES = ("cancel_", "cancelOrder")


class CrackStoreError(ValueError):
    """A store configuration error (unknown exchange, live trading without keys...)."""


def method_class(method: str) -> str:
    """``"create"`` (never retried), ``"cancel"`` or ``"read"``: the retry class of a ccxt
    method name."""
    if method.startswith(_NO_RETRY_PREFIXES):
        return "create"
    if method.startswith(_CANCEL_PREFIXES):
        return "cancel"
    return "read"


class _MaskingLogger:
    """The logger given to ccxt: ccxt logs request headers (the API key) at DEBUG, so every
    message is formatted here and the secrets replaced before it reaches ``logging``."""

    def __init__(self, target: logging.Logger, secrets: list[str]) -> None:
        self._target = target
        self._secrets = [s for s in secrets if s]

    def _mask(self, msg: Any, args: tuple[Any, ...]) -> str:
        text = str(msg) % args if args else str(msg)
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if self._target.isEnabledFor(level):
            kwargs.pop("exc_info", None)  # a traceback could hold the secrets in its locals
            self._target.log(level, "%s", self._mask(msg, args), **kwargs)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.DEBUG, msg, *args, **kwargs)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.INFO, msg, *args, **kwargs)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.WARNING, msg, *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.ERROR, msg, *args, **kwargs)

    def critical(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.log(logging.CRITICAL, msg, *args, **kwargs)

    def print(self, *args: Any) -> None:
        """ccxt's ``exchange.log`` (verbose mode), masked."""
        print(self._mask(" ".join(str(a) for a in args), ()))

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return self._target.isEnabledFor(level)


def _credentials(config: dict[str, Any]) -> tuple[str | None, str | None]:
    key = config.get("apiKey") or os.environ.get(API_KEY_ENV) or None
    secret = config.get("secret") or os.environ.get(SECRET_ENV) or None
    return key, secret


class _MetaStore(MetaSingleton):
    """One store per (exchange id, API key, URL override): the same arguments give the same
    store (and the same ccxt instance), as Backtrader's stores are singletons."""

    def __init__(cls, name: str, bases: tuple[type, ...], dct: dict[str, Any]) -> None:
        super().__init__(name, bases, dct)
        cls._instances: dict[tuple[Any, ...], Any] = {}

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        exchange = kwargs.get("exchange", args[0] if args else "binance")
        config = dict(kwargs.get("config") or {})
        client = kwargs.get("client")
        ident: tuple[Any, ...]
        if client is not None:
            ident = (str(client.id), getattr(client, "apiKey", None) or None, id(client))
        else:
            ident = (str(exchange), _credentials(config)[0], kwargs.get("url"))
        with cls._lock:
            store = cls._instances.get(ident)
            if store is None:
                store = super(MetaSingleton, cls).__call__(*args, **kwargs)
                store._ident = ident
                cls._instances[ident] = store
            return store


class CrackStore(bt.Store, metaclass=_MetaStore):
    """Backtrader's store for a ccxt exchange (see the module docstring).

    Params:

      - ``exchange`` (default ``"binance"``): the ccxt exchange id.
      - ``config`` (default ``{}``): the ccxt config (``apiKey``, ``secret``, ``options``...);
        the keys default to ``BT_CRACKTRADER_API_KEY``/``BT_CRACKTRADER_SECRET``.
      - ``sandbox`` (default ``True``): use the exchange's sandbox (testnet) URLs.
      - ``url`` (default ``None``): send every API call to this base URL instead (e.g. an
        ``ExchangeEmulator``), keeping the paths.
      - ``client`` (default ``None``): a ready ccxt instance to use as it is (its own URLs,
        options and keys), e.g. ``ExchangeEmulator.client()``.
      - ``retries`` (default 3): retries of a read or cancel after a transient error.
      - ``backoff`` (default 0.5): seconds before the first retry, doubled each time (with up to
        10 % jitter); rate-limit errors wait at least ``Retry-After`` or 4 x ``backoff``.
      - ``max_backoff`` (default 30.0): the longest wait between two attempts.
    """

    params = (
        ("exchange", "binance"),
        ("config", None),
        ("sandbox", True),
        ("url", None),
        ("client", None),
        ("retries", 3),
        ("backoff", 0.5),
        ("max_backoff", 30.0),
    )

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _instances: ClassVar[dict[tuple[Any, ...], CrackStore]]
    _ident: tuple[Any, ...]

    #: how the store waits between attempts (tests replace it)
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self) -> None:
        super().__init__()
        config = dict(self.p.config or {})
        client = self.p.client
        if client is not None:
            self.exchange = client
            self._key = getattr(client, "apiKey", None) or None
            self._secret = getattr(client, "secret", None) or None
        else:
            self._key, self._secret = _credentials(config)
            self.exchange = self._make_exchange(config)
        masking = _MaskingLogger(
            logging.getLogger("ccxt.base.exchange"), [self._key or "", self._secret or ""]
        )
        self.exchange.logger = masking
        # ccxt's verbose mode prints request headers (the key) with exchange.log
        self.exchange.log = masking.print
        self._markets_lock = threading.Lock()
        self.datas: list[Any] = []
        self.broker: Any = None
        self.notifs: collections.deque[Any] = collections.deque()

    def _make_exchange(self, config: dict[str, Any]) -> Any:
        import ccxt

        name = str(self.p.exchange)
        cls = getattr(ccxt, name, None)
        if cls is None or name not in ccxt.exchanges:
            raise CrackStoreError(f"CrackStore: unknown ccxt exchange {name!r}")
        for field in ("apiKey", "secret"):
            config.pop(field, None)
        if self._key:
            config["apiKey"] = self._key
        if self._secret:
            config["secret"] = self._secret
        # a retry inside ccxt would re-send an order with the same client id (see call())
        options = dict(config.get("options") or {})
        options.setdefault("maxRetriesOnFailure", 0)
        config["options"] = options
        exchange = cls(config)
        if self.p.sandbox:
            exchange.set_sandbox_mode(True)
        if self.p.url:
            from .emulator import localize_urls

            localize_urls(exchange, str(self.p.url))
        return exchange

    # -- identity ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        key = _MASK if self._key else None
        if self.p.client is not None:
            return f"CrackStore(exchange={self.exchange.id!r}, client=..., key={key!r})"
        return (
            f"CrackStore(exchange={self.exchange.id!r}, sandbox={bool(self.p.sandbox)}, "
            f"url={self.p.url!r}, key={key!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("CrackStore cannot be pickled (it holds a connection and credentials)")

    @property
    def has_keys(self) -> bool:
        """Whether an API key and a secret are configured (needed for live trading)."""
        return bool(self._key and self._secret)

    def close(self) -> None:
        """Forget this store: the next ``CrackStore(...)`` with the same arguments is new."""
        with type(self)._lock:
            type(self)._instances.pop(self._ident, None)

    @classmethod
    def close_all(cls) -> None:
        """Forget every store (tests)."""
        with cls._lock:
            cls._instances.clear()

    # -- calls ---------------------------------------------------------------------------------
    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``exchange.<method>(*args, **kwargs)`` with the retry policy of the method's class
        (see the module docstring)."""
        import ccxt

        kind = method_class(method)
        fn = getattr(self.exchange, method)
        attempt = 0
        resynced = False
        while True:
            try:
                return fn(*args, **kwargs)
            except ccxt.InvalidNonce as exc:
                if resynced or kind == "create":
                    raise
                resynced = True
                logger.warning(
                    "CrackStore: %s: %s; resynchronising the clock", method, type(exc).__name__
                )
                self.exchange.load_time_difference()
                continue
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                if kind == "create" or attempt >= self.p.retries:
                    raise
                wait = max(self._retry_after(), 4 * self._delay(attempt))
                error = exc
            except ccxt.OperationFailed as exc:
                if kind == "create" or attempt >= self.p.retries:
                    raise
                wait = self._delay(attempt)
                error = exc
            attempt += 1
            logger.warning(
                "CrackStore: %s failed (%s), retry %d/%d in %.2f s",
                method,
                type(error).__name__,
                attempt,
                self.p.retries,
                wait,
            )
            self.sleep(min(wait, self.p.max_backoff))

    def _delay(self, attempt: int) -> float:
        base = float(self.p.backoff) * (2**attempt)
        return float(base * (1.0 + 0.1 * random.random()))

    def _retry_after(self) -> float:
        headers = getattr(self.exchange, "last_response_headers", None) or {}
        try:
            return float(headers.get("Retry-After") or headers.get("retry-after") or 0.0)
        except (TypeError, ValueError):
            return 0.0

    # -- markets and time ----------------------------------------------------------------------
    def load_markets(self, reload: bool = False) -> dict[str, Any]:
        """The exchange's markets, loaded once (a reload that returns none keeps the old)."""
        with self._markets_lock:
            old = self.exchange.markets
            if old and not reload:
                return dict(old)
            markets = self.call("load_markets", reload)
            if not markets and old:
                logger.warning("CrackStore: a market reload returned no market; keeping the old")
                self.exchange.markets = old
                return dict(old)
            return dict(markets)

    def market(self, symbol: str) -> MarketSpec:
        """The precision, limits and fees of ``symbol``."""
        markets = self.load_markets()
        if symbol not in markets:
            raise CrackStoreError(
                f"CrackStore: symbol {symbol!r} is not a market of {self.exchange.id}"
            )
        return MarketSpec.from_ccxt(markets[symbol], int(self.exchange.precisionMode))

    def milliseconds(self) -> int:
        """The exchange's clock (ms, UTC): its server time when it has one, else the host's
        (a bar is closed only when the exchange says so, not when the host does)."""
        if self.exchange.has.get("fetchTime"):
            return int(self.call("fetch_time"))
        return int(self.exchange.milliseconds())

    # -- Backtrader ----------------------------------------------------------------------------
    def getdata(self, *args: Any, **kwargs: Any) -> Any:
        """A ``CrackData`` feed of this store (see ``bt_cracktrader.feed``)."""
        from .feed import CrackData

        return CrackData(*args, store=self, **kwargs)  # type: ignore[call-arg]

    def getbroker(self, *args: Any, live: bool = False, **kwargs: Any) -> Any:
        """The broker: paper trading (``PaperBroker``, the default), or with ``live=True`` the
        live broker (``LiveBroker``), which needs API keys."""
        if not live:
            from .paper import PaperBroker

            return PaperBroker(*args, store=self, **kwargs)  # type: ignore[call-arg]
        if not self.has_keys:
            raise CrackStoreError(
                "CrackStore: live trading needs an API key and secret "
                f"(config apiKey/secret, or {API_KEY_ENV}/{SECRET_ENV})"
            )
        from .livebroker import LiveBroker  # type: ignore[import-not-found,unused-ignore]

        # getbroker(live=True) is the explicit opt-in LiveBroker asks for
        return LiveBroker(self, *args, live=True, **kwargs)  # type: ignore[call-arg]

    def start(self, data: Any = None, broker: Any = None) -> None:
        if data is not None and data not in self.datas:
            self.datas.append(data)
        if broker is not None:
            self.broker = broker

    def stop(self) -> None:
        pass

    def put_notification(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.notifs.append((msg, args, kwargs))

    def get_notifications(self) -> list[Any]:
        notifs = []
        while self.notifs:
            notifs.append(self.notifs.popleft())
        return notifs

"""bt_cracktrader: Backtrader's broker on a deterministic core, in Python or in Rust.

``import bt_cracktrader`` registers ``bt.brokers.CrackBroker`` and ``bt.stores.CrackStore``
(ccxt exchanges: feeds, paper and live brokers)::

    cerebro.setbroker(bt_cracktrader.CrackBroker(backend="rust"))
"""

from __future__ import annotations

import logging

import backtrader as bt

from .broker import CrackBroker
from .core import BACKENDS, CoreInputError, RustBackendUnavailable, load_core
from .store import CrackStore

__all__ = [
    "BACKENDS",
    "CoreInputError",
    "CrackBroker",
    "CrackStore",
    "RustBackendUnavailable",
    "load_core",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())

bt.brokers.CrackBroker = CrackBroker
bt.stores.CrackStore = CrackStore

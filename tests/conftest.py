"""Fixtures for the ccxt store tests: no store survives a test, emulators are stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bt_cracktrader.emulator import ExchangeEmulator
from bt_cracktrader.store import CrackStore


@pytest.fixture(autouse=True)
def _fresh_stores() -> Iterator[None]:
    # CrackStore is a singleton per (exchange, key, url): each test starts without stores
    CrackStore.close_all()
    yield
    CrackStore.close_all()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., ExchangeEmulator]]:
    """``make(**ExchangeEmulator kwargs)``: a started emulator, stopped after the test."""
    started: list[ExchangeEmulator] = []

    def make(**kwargs: Any) -> ExchangeEmulator:
        emu = ExchangeEmulator(**kwargs)
        started.append(emu.start())
        return emu

    yield make
    for emu in started:
        emu.stop()

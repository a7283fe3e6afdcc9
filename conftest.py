"""Shared pytest set-up for ``tests/`` and ``compat_tests/``.

Every behavioural test takes the ``backend`` fixture, parametrised over the cores named in
``BT_CRACKTRADER_TEST_BACKENDS`` (default: both). A core that is asked for and cannot be loaded
fails the test: a missing Rust extension is never a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "fixtures" / "data"
CORE_FIXTURES = ROOT / "fixtures" / "core"

ALL_BACKENDS = ("python", "rust")


def selected_backends() -> list[str]:
    raw = os.environ.get("BT_CRACKTRADER_TEST_BACKENDS", ",".join(ALL_BACKENDS))
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_BACKENDS]
    if unknown or not names:
        raise pytest.UsageError(
            f"BT_CRACKTRADER_TEST_BACKENDS={raw!r}: expected python and/or rust"
        )
    return names


def pytest_addoption(parser: pytest.Parser) -> None:
    # the store's integration test runs against the exchange emulator (a local sandbox) in
    # every run; --sandbox names that run explicitly (CI and the docs use it)
    parser.addoption(
        "--sandbox",
        action="store_true",
        default=False,
        help="run the CrackStore integration test against the local exchange emulator "
        "(it runs by default too)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends())


@pytest.fixture
def core_cls(backend: str):
    from bt_cracktrader.core import load_core

    cls, name = load_core(backend)
    assert name == backend
    return cls


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def core_fixture_dir() -> Path:
    return CORE_FIXTURES

"""Fixtures of the pytest-benchmark suite (not part of the default test run).

``BT_CRACKTRADER_BENCH_BARS`` sets the bars per data (default 300, at least 60).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bt_cracktrader import bench

BARS = int(os.environ.get("BT_CRACKTRADER_BENCH_BARS", "300"))
MINUTE_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "data" / bench.MINUTE_FILE.name


@pytest.fixture(scope="session")
def bench_bars() -> int:
    return BARS


@pytest.fixture(scope="session")
def bench_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-data")


@pytest.fixture(scope="session")
def prepared(bench_workdir: Path, bench_bars: int) -> dict[str, bench.PreparedData]:
    """Every Backtrader profile's data files, written once for the session."""
    return {
        name: bench.prepare_data(name, bench_bars, bench_workdir, minute_file=MINUTE_FILE)
        for name, profile in bench.PROFILES.items()
        if not profile.core_only
    }


@pytest.fixture(scope="session")
def core_stream(bench_bars: int) -> bench.CoreStream:
    return bench.make_core_stream(bench_bars)

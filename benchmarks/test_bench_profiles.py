"""pytest-benchmark suite over the profiles of ``bt_cracktrader.bench`` at small sizes.

    pytest benchmarks                       # time every profile on every backend
    pytest benchmarks --benchmark-disable   # run each once, as a smoke test

Not in the default test run (``testpaths`` in setup.cfg). The Rust backend is skipped, saying
why, when ``bt_cracktrader._rust`` does not import. The full benchmark with parity checks,
subprocess isolation and baselines is ``scripts/benchmark_engine_backends.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bt_cracktrader import bench

RUST_OK, RUST_REASON = bench.rust_status()
CEREBRO_PROFILES = [name for name, p in bench.PROFILES.items() if not p.core_only]
CORE_PROFILES = [name for name, p in bench.PROFILES.items() if p.core_only]
ROUNDS = 3


def _need(engine: str) -> None:
    if engine == "rust" and not RUST_OK:
        pytest.skip(f"Rust backend unavailable: {RUST_REASON}")


# ``engine``, not ``backend``: the root conftest parametrizes any ``backend`` argument
@pytest.mark.parametrize("engine", bench.CEREBRO_BACKENDS)
@pytest.mark.parametrize("profile", CEREBRO_PROFILES)
def test_bench_cerebro(benchmark: Any, prepared: dict[str, Any], profile: str, engine: str) -> None:
    _need(engine)
    files = prepared[profile].files

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        cerebro = bench.build_cerebro(profile, files)
        cerebro.setbroker(bench.make_profile_broker(profile, engine))
        return (cerebro,), {}

    benchmark.extra_info.update(profile=profile, engine=engine, bars=prepared[profile].total_bars)
    benchmark.pedantic(bench.run_cerebro, setup=setup, rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("kind", bench.CORE_INPUT_KINDS)
@pytest.mark.parametrize("engine", bench.CORE_BACKENDS)
@pytest.mark.parametrize("profile", CORE_PROFILES)
def test_bench_core(
    benchmark: Any, core_stream: bench.CoreStream, profile: str, engine: str, kind: str
) -> None:
    """Each core on each input: ``bench.CORE_INPUTS`` names the one a core is timed on in
    the script's report (Rust: packed, Python: tuples); the other pairing is informational."""
    _need(engine)
    cls = bench.core_class(engine)
    batch = bench.pack_core_stream(core_stream)  # packed before timing
    benchmark.extra_info.update(
        profile=profile,
        engine=engine,
        input=kind,
        timed_input=bench.CORE_INPUTS[engine] == kind,
        events=core_stream.events,
    )
    benchmark.pedantic(
        bench.time_core_stream, args=(cls, core_stream, kind, batch), rounds=ROUNDS, iterations=1
    )


@pytest.mark.parametrize("profile", CEREBRO_PROFILES)
def test_parity_cerebro(prepared: dict[str, Any], profile: str) -> None:
    """What the benchmark times is what BackBroker computes."""
    engines = [e for e in bench.CEREBRO_BACKENDS if e != "rust" or RUST_OK]
    files = prepared[profile].files
    result = bench.check_parity({e: bench.parity_record(profile, e, files) for e in engines})
    assert result.ok, result.mismatches


def test_parity_core(core_stream: bench.CoreStream) -> None:
    """Every core on every input gives the Python core's tuple results; both cores'
    ``step_packed`` return the same bytes."""
    engines = [e for e in bench.CORE_BACKENDS if e != "rust" or RUST_OK]
    classes = {e: bench.core_class(e) for e in engines}
    result = bench.check_core_only_parity(core_stream, classes)
    assert result.ok, result.mismatches

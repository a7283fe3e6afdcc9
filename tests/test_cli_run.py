"""``python -m bt_cracktrader run [--compare]``: an unchanged script on CrackBroker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import backtrader as bt
import backtrader.brokers.bbroker
import backtrader.cerebro
import pytest

import bt_cracktrader
from bt_cracktrader import CrackBroker, cli
from bt_cracktrader.runner import (
    RECORD_ANALYZER,
    recording,
    resolve_backend,
    run_script,
    swapped_broker,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures" / "data"
BACKBROKER = backtrader.brokers.bbroker.BackBroker

# A Backtrader script as users write them: default broker, a setcash, printed results.
SCRIPT = """\
import sys

import backtrader as bt


class St(bt.Strategy):
    def next(self):
        if len(self) == 5:
            self.buy(size=10)
        elif len(self) == 50:
            self.close()

    def notify_order(self, order):
        if order.status == order.Completed:
            print("filled %+d @ %.2f" % (order.executed.size, order.executed.price))


cerebro = bt.Cerebro()
cerebro.adddata(bt.feeds.YahooFinanceCSVData(dataname={data!r}))
cerebro.addstrategy(St)
cerebro.broker.setcash(5000.0)
print("broker", type(cerebro.broker).__name__, getattr(cerebro.broker, "backend", "-"))
print("argv", sys.argv[1:])
cerebro.run()
print("final %r" % cerebro.broker.getvalue())
"""


def _script(tmp_path: Path, text: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def script(tmp_path: Path) -> Path:
    return _script(tmp_path, SCRIPT.format(data=str(DATA / "orcl-2014.txt")))


def _lines(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def _env() -> dict[str, str]:
    """The environment of a ``python -m bt_cracktrader`` child: the package under test (the
    one this process imported, installed or not) comes first on its path."""
    env = dict(os.environ)
    pkg_parent = str(Path(bt_cracktrader.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pkg_parent, env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--compare`` in this process starts children that must import the same package."""
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])


# -- run ------------------------------------------------------------------------------------------
def test_run_swaps_the_default_broker_and_passes_arguments_through(
    backend: str, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--cash", "5", "--", "-h", "--backend", "x"]
    assert cli.main(["run", "--backend", backend, str(script), *args]) == 0
    out = capsys.readouterr().out
    name, used = _lines(out, "broker ")[0].split()[1:]
    assert "CrackBroker" in name and used == backend
    assert _lines(out, "argv ") == [f"argv {args!r}"]

    assert cli.main(["run", "--backend", "backtrader", str(script), *args]) == 0
    reference = capsys.readouterr().out
    assert _lines(reference, "broker ") == ["broker BackBroker -"]
    assert _lines(out, "filled ") == _lines(reference, "filled ") != []
    assert _lines(out, "final ") == _lines(reference, "final ")


def test_explicit_backbroker_with_keywords_becomes_crackbroker(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(
        tmp_path,
        """\
        import backtrader as bt
        from backtrader.brokers import BackBroker
        from backtrader.brokers.bbroker import BrokerBack

        for cls in (bt.brokers.BackBroker, BackBroker, BrokerBack, bt.BackBroker):
            broker = cls(cash=1234.0, coc=True)
            print(type(broker).__name__, broker.backend, broker.getcash(), broker.p.coc)
        """,
    )
    assert run_script(path, backend=backend) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert {line.split()[1:] == [backend, "1234.0", "True"] for line in lines} == {True}
    assert all("CrackBroker" in line.split()[0] for line in lines)


def test_the_swap_is_undone_after_the_script_also_when_it_raises(
    backend: str, tmp_path: Path
) -> None:
    argv, path = sys.argv[:], sys.path[:]
    run = bt.Cerebro.run
    ok = _script(tmp_path, "import backtrader as bt\nassert bt.Cerebro().broker.backend\n", "ok.py")
    bad = _script(tmp_path, "raise KeyError('from the script')\n", "bad.py")
    assert run_script(ok, ["a"], backend=backend, records=[]) == 0
    with pytest.raises(KeyError, match="from the script"):
        run_script(bad, backend=backend, records=[])
    for module in (bt, bt.brokers, backtrader.brokers.bbroker, backtrader.cerebro):
        assert module.BackBroker is BACKBROKER
    assert bt.brokers.BrokerBack is BACKBROKER
    assert type(bt.Cerebro().broker) is BACKBROKER
    assert bt.Cerebro.run is run
    assert (sys.argv, sys.path) == (argv, path)


def test_swapped_broker_replaces_every_name(backend: str) -> None:
    with swapped_broker(backend) as cls:
        assert issubclass(cls, CrackBroker) and cls.params.backend == backend
        for module in (bt, bt.brokers, backtrader.brokers.bbroker, backtrader.cerebro):
            assert module.BackBroker is cls
        assert bt.brokers.bbroker.BrokerBack is cls
        assert type(bt.Cerebro().broker) is cls
        assert bt.Cerebro().broker.backend == backend
    assert bt.brokers.BackBroker is BACKBROKER


def test_resolve_backend(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_backend(backend) == (backend, None)
    monkeypatch.setenv("BT_CRACKTRADER_BACKEND", backend)
    assert resolve_backend(None) == (backend, None)
    with pytest.raises(ValueError, match="unknown backend"):
        resolve_backend("cuda")


def test_exit_status_and_traceback_are_the_scripts(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(
        tmp_path,
        """\
        import sys

        def fail():
            raise ValueError("boom")

        if sys.argv[1] == "exit":
            sys.exit(int(sys.argv[2]))
        if sys.argv[1] == "message":
            sys.exit("a message")
        fail()
        """,
    )
    assert cli.main(["run", "--backend", backend, str(path), "exit", "0"]) == 0
    assert cli.main(["run", "--backend", backend, str(path), "exit", "3"]) == 3
    assert cli.main(["run", "--backend", backend, str(path), "message"]) == 1
    assert capsys.readouterr().err.splitlines() == ["a message"]
    assert cli.main(["run", "--backend", backend, str(path), "raise"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "Traceback (most recent call last):"
    assert err[1].startswith(f'  File "{path}"')  # the script's frames, not the runner's
    assert err[-1] == "ValueError: boom"
    assert cli.main(["run", str(tmp_path / "missing.py")]) == 2


def test_python_dash_m_entry_point(backend: str, script: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bt_cracktrader", "run", "--backend", backend, str(script), "x"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _lines(proc.stdout, "argv ") == ["argv ['x']"]
    assert _lines(proc.stdout, "broker ")[0].endswith(f" {backend}")

    for args in (["--help"], ["run", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-m", "bt_cracktrader", *args],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and "usage: python -m bt_cracktrader" in proc.stdout


def test_parse_args_leaves_the_scripts_arguments_alone() -> None:
    ns = cli.parse_args(["run", "--backend", "python", "s.py", "--backend", "x", "--", "-h"])
    assert (ns.backend, ns.script, ns.args) == ("python", "s.py", ["--backend", "x", "--", "-h"])
    ns = cli.parse_args(["run", "--compare", "--backends=backtrader,python", "--", "-s.py", "a"])
    assert (ns.compare, ns.backends, ns.script, ns.args) == (
        True,
        ["backtrader", "python"],
        "-s.py",
        ["a"],
    )
    with pytest.raises(SystemExit):
        cli.parse_args(["run", "--compare", "--backends", "python", "s.py"])
    with pytest.raises(SystemExit):
        cli.parse_args(["run", "--backend", "cuda", "s.py"])


# -- recording ------------------------------------------------------------------------------------
def test_every_cerebro_run_is_recorded(backend: str, tmp_path: Path) -> None:
    path = _script(
        tmp_path,
        f"""\
        import backtrader as bt

        DATA = {str(DATA / "2006-day-001.txt")!r}

        class St(bt.Strategy):
            params = (("period", 10),)

            def __init__(self):
                self.cross = bt.ind.CrossOver(self.data.close, bt.ind.SMA(period=self.p.period))

            def next(self):
                if self.cross > 0:
                    self.buy(size=1)
                elif self.cross < 0 and self.position:
                    self.close()

        for _ in range(2):
            cerebro = bt.Cerebro()
            cerebro.adddata(bt.feeds.BacktraderCSVData(dataname=DATA))
            cerebro.addstrategy(St)
            cerebro.addanalyzer(bt.analyzers.TradeAnalyzer, _name="ta")
            strat = cerebro.run()[0]
            names = [type(a).__name__ for a in strat.analyzers]
            assert names == ["TradeAnalyzer", "RunRecorder"], names

        cerebro = bt.Cerebro(maxcpus=1)
        cerebro.adddata(bt.feeds.BacktraderCSVData(dataname=DATA))
        cerebro.optstrategy(St, period=[5, 15])
        results = cerebro.run()
        assert len(results) == 2
        """,
    )
    records: list[dict[str, Any]] = []
    assert run_script(path, backend=backend, records=records) == 0
    assert len(records) == 3
    first, second, opt = records
    assert first == second
    assert list(first["strategies"]) == ["strategy0"]
    assert first["strategies"]["strategy0"]["orders"] and first["final"]["cash"] != 10000.0
    assert opt["optimization"] is True
    assert list(opt["strategies"]) == ["combination0/strategy0", "combination1/strategy0"]
    assert all(s["bars"] for s in opt["strategies"].values())

    reference: list[dict[str, Any]] = []
    assert run_script(path, backend="backtrader", records=reference) == 0
    assert reference == records


def test_recording_alone_does_not_swap(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []
    with recording(records):
        cerebro = bt.Cerebro()
        cerebro.adddata(bt.feeds.BacktraderCSVData(dataname=str(DATA / "2006-day-001.txt")))
        cerebro.run()
        cerebro.run()  # the recorder is added once
    assert type(cerebro.broker) is BACKBROKER
    assert [kw.get("_name") for _, _, kw in cerebro.analyzers] == [RECORD_ANALYZER]
    assert len(records) == 2 and records[0]["strategies"]["strategy0"]["bars"]


# -- run --compare --------------------------------------------------------------------------------
@pytest.mark.usefixtures("child_env")
def test_compare_identical_runs(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no line that names the broker: the printed output must be identical
    path = _script(
        tmp_path,
        SCRIPT.format(data=str(DATA / "orcl-2014.txt")).replace(
            'print("broker", type(cerebro.broker).__name__, '
            'getattr(cerebro.broker, "backend", "-"))\n',
            "",
        ),
    )
    code = cli.main(["run", "--compare", "--backends", f"backtrader,{backend}", str(path), "z"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{backend}: IDENTICAL to backtrader" in out
    assert out.splitlines()[-1] == "MATCH"


@pytest.mark.usefixtures("child_env")
def test_compare_names_the_first_differing_line(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(tmp_path, "import random\nprint('same')\nprint(random.random())\n")
    code = cli.main(["run", "--compare", "--backends", f"backtrader,{backend}", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{backend}: DIFFERS from backtrader" in out
    assert "stdout line 2:" in out
    assert "record:" not in out and "'same'" not in out
    assert out.splitlines()[-1] == "MISMATCH"


@pytest.mark.usefixtures("child_env")
def test_compare_reports_the_broker_in_the_output(
    backend: str, script: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", "--compare", "--backends", f"backtrader,{backend}", str(script)])
    out = capsys.readouterr().out
    assert code == 1
    assert "stdout line 1:" in out
    assert "backtrader: 'broker BackBroker -'" in out


@pytest.mark.usefixtures("child_env")
def test_compare_fails_when_a_requested_broker_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_rust_unavailable", lambda: "no extension here")
    path = _script(tmp_path, "print('hello')\n", "hello.py")
    code = cli.main(["run", "--compare", "--backends", "backtrader,python,rust", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "rust       UNAVAILABLE: no extension here" in out
    assert "python: IDENTICAL to backtrader" in out
    assert "rust: NOT RUN (unavailable)" in out


@pytest.mark.usefixtures("child_env")
def test_compare_fails_when_the_script_fails_everywhere(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _script(tmp_path, "import sys\nprint('x')\nsys.exit(4)\n")
    code = cli.main(["run", "--compare", "--backends", f"backtrader,{backend}", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{backend}: IDENTICAL to backtrader" in out
    assert "MATCH, but the script failed in every run (exit status 4)" in out


def test_differences_name_the_field_and_the_row() -> None:
    row = [0, "Buy", "Market", "Completed", "d", 732312.0, ["int", 1], 1.0, None]
    record = {"runs": {"run1": {"strategies": {"strategy0": {"orders": [row]}}}}}
    other = {"runs": {"run1": {"strategies": {"strategy0": {"orders": [[*row[:7], 2.0, None]]}}}}}
    ref = cli.Outcome("backtrader", 0, ["a"], [], record)
    found = cli.differences(ref, cli.Outcome("python", 0, ["a", "b"], [], other))
    assert len(found) == 2
    assert found[0].startswith("record: /runs/run1/strategies/strategy0/orders[0][7]: 1.0 != 2.0")
    assert "created.price" in found[0] and "order +0 Buy Market Completed" in found[0]
    assert found[1].splitlines() == [
        "stdout line 2:",
        "      backtrader: <end of output>",
        "      python:     'b'",
    ]
    assert cli.differences(ref, cli.Outcome("python", 0, ["a"], [], record)) == []

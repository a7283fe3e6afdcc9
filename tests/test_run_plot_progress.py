"""``python -m bt_cracktrader run``: ``--plot`` saves the runs' plots, and a progress bar is drawn
on a terminal only."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "backtrader" / "sma_crossover.py"


def test_plot_saves_a_png(backend: str, tmp_path: Path) -> None:
    out = tmp_path / "run.png"
    result = subprocess.run(
        [sys.executable, "-m", "bt_cracktrader", "run", "--backend", backend, "--plot",
         str(out), str(SCRIPT)],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
    assert f"plot saved to {out}" in result.stderr
    # no terminal: no progress bar
    assert "\r" not in result.stderr and "backtest [" not in result.stderr


def test_progress_bar_on_a_terminal(backend: str, tmp_path: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the pty
        os.chdir(tmp_path)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "bt_cracktrader", "run", "--backend", backend, str(SCRIPT)],
        )
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "backtest [" in text and "100%" in text and " bars ETA " in text
    assert "Final Portfolio Value" in text


def test_no_progress_flag(backend: str, tmp_path: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "bt_cracktrader", "run", "--no-progress", "--backend",
             backend, str(SCRIPT)],
        )  # fmt: skip
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    assert b"backtest [" not in b"".join(chunks)

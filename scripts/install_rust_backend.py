#!/usr/bin/env python3
"""Build the Rust backend (``bt_cracktrader._rust``) and install it into a Python environment.

Runs ``<python> -m pip install <repo root>``, which builds the abi3 wheel with maturin
(requires a Rust toolchain), then checks from a directory outside the repository (so that
the source tree cannot shadow the installed package) that the extension imports.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUST_HELP = (
    "error: `cargo` (the Rust toolchain) was not found on PATH.\n"
    "Install Rust with rustup (https://rustup.rs):\n"
    "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh\n"
    'then open a new shell (or run `. "$HOME/.cargo/env"`) and re-run this script.'
)
CHECK_CODE = (
    "import bt_cracktrader._rust as r; "
    "print(r.__file__); "
    "print(r.core_version() if hasattr(r, 'core_version') else '')"
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Build bt_cracktrader's Rust extension (bt_cracktrader._rust) with maturin via pip "
            "and install it into a Python environment."
        )
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="Python interpreter whose environment receives the package (default: %(default)s)",
    )
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="do not build or install; only check that bt_cracktrader._rust imports",
    )
    parser.add_argument(
        "pip_args",
        nargs="*",
        metavar="PIP_ARG",
        help="extra arguments passed to `pip install` (put them after `--`)",
    )
    return parser.parse_args(argv)


def install(python: str, pip_args: Sequence[str]) -> int:
    cmd = [python, "-m", "pip", "install", *pip_args, str(REPO_ROOT)]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False).returncode


def check_import(python: str) -> bool:
    """Import the extension in a fresh interpreter whose cwd is outside the repository."""
    with tempfile.TemporaryDirectory(prefix="bt_cracktrader_check_") as outside:
        proc = subprocess.run(
            [python, "-c", CHECK_CODE],
            cwd=outside,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print("FAILED: `import bt_cracktrader._rust` did not work:", file=sys.stderr)
        print(proc.stderr.strip(), file=sys.stderr)
        return False
    lines = proc.stdout.splitlines()
    module_file = lines[0] if lines else "?"
    core_version = lines[1] if len(lines) > 1 else ""
    print(f"OK: bt_cracktrader._rust imported from {module_file}")
    if core_version:
        print(f"    Rust core version {core_version}")
    if Path(module_file).resolve().is_relative_to(REPO_ROOT):
        print("warning: it was loaded from the source tree, not an install", file=sys.stderr)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.check_only:
        if shutil.which("cargo") is None:
            print(RUST_HELP, file=sys.stderr)
            return 2
        rc = install(args.python, args.pip_args)
        if rc != 0:
            print(f"FAILED: pip install exited with status {rc}", file=sys.stderr)
            return rc
    return 0 if check_import(args.python) else 1


if __name__ == "__main__":
    sys.exit(main())

"""The deterministic broker core: one contract (``contract``), two implementations.

``load_core(backend)`` returns the core class for ``"python"``, ``"rust"`` or ``"auto"``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .contract import CONTRACT_VERSION, CoreInputError
from .ledger import LedgerInvariantError, PyLedger
from .pycore import PyCore

__all__ = [
    "BACKENDS",
    "CONTRACT_VERSION",
    "CoreInputError",
    "LedgerInvariantError",
    "PyCore",
    "PyLedger",
    "RustBackendUnavailable",
    "load_core",
    "load_ledger",
    "rust_core",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``backend=`` and of ``BT_CRACKTRADER_BACKEND``.
BACKENDS = ("python", "rust", "auto")
ENV_VAR = "BT_CRACKTRADER_BACKEND"
BUILD_HINT = "build it with `python scripts/install_rust_backend.py` (needs cargo)"


class RustBackendUnavailable(ImportError):
    """``backend="rust"`` was asked for but ``bt_cracktrader._rust`` does not import."""


def rust_core() -> Any:
    """Return the Rust core class, or raise ``RustBackendUnavailable`` saying how to build it."""
    try:
        from .. import _rust
    except ImportError as exc:
        raise RustBackendUnavailable(
            f"the Rust backend is not available ({exc}); {BUILD_HINT}"
        ) from exc
    core = getattr(_rust, "RustCore", None)
    if core is None:  # a stale build of the extension, from before the core existed
        raise RustBackendUnavailable(
            f"the Rust extension at {_rust.__file__} has no RustCore (a stale build); {BUILD_HINT}"
        )
    return core


def load_core(backend: str | None = None) -> tuple[Any, str]:
    """Resolve a backend name to ``(core class, backend name)``.

    ``None`` reads ``BT_CRACKTRADER_BACKEND`` and defaults to ``"auto"``: the Rust core when
    the extension imports, else the Python core with one WARNING naming the reason.
    """
    name = backend if backend is not None else os.environ.get(ENV_VAR) or "auto"
    if name not in BACKENDS:
        raise ValueError(
            f"unknown backend {name!r}: expected one of {', '.join(repr(b) for b in BACKENDS)}"
        )
    if name == "python":
        return PyCore, "python"
    if name == "rust":
        return rust_core(), "rust"
    try:
        return rust_core(), "rust"
    except RustBackendUnavailable as exc:
        logger.warning("backend 'auto' falls back to the Python core: %s", exc)
        return PyCore, "python"


def load_ledger(backend: str | None = None) -> tuple[Any, str]:
    """Resolve a backend name to ``(execution ledger class, backend name)``, as ``load_core``
    does: ``PyLedger`` or the Rust ``RustLedger``."""
    core, name = load_core(backend)
    if name == "python":
        return PyLedger, name
    from .. import _rust

    ledger = getattr(_rust, "RustLedger", None)
    if ledger is None:  # an extension built before the ledger existed
        raise RustBackendUnavailable(
            f"the Rust extension at {_rust.__file__} has no RustLedger (a stale build); "
            f"{BUILD_HINT}"
        )
    return ledger, name

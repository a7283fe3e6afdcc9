"""The troubleshooting page quotes messages the package really prints."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sources() -> str:
    files = [*ROOT.joinpath("bt_cracktrader").rglob("*.py"), *ROOT.joinpath("scripts").glob("*.py")]
    return "\n".join(p.read_text() for p in files)


def test_every_quoted_message_exists_in_the_code() -> None:
    page = ROOT.joinpath("docs", "troubleshooting.md").read_text()
    quoted = re.findall(r"^> `(.+)`$", page, flags=re.M)
    assert len(quoted) >= 12
    sources = _sources()
    missing = [q for q in quoted if q not in sources]
    assert missing == [], (
        f"messages quoted in docs/troubleshooting.md but not in the code: {missing}"
    )


#: Raised only when our own code is inconsistent (a bug to report, not a runbook entry).
INTERNAL = {
    "unknown core record …",  # the adapter and the core of one wheel disagree
    "no samples",  # benchmark statistics over nothing
    "Cerebro.run did not reach its optimisation pool",  # Backtrader's internals changed
    "… combinations for … parameter sets",  # the sweep's grid and optstrategy's disagree
    "no record column",  # caught by the sweep's own reader, re-raised with the file name
}
#: Raised through helpers whose first argument is not the message: CoreInputError and the
#: snapshot/exchange helpers build "invalid …" and "LiveBroker: … failed" messages, which the
#: sections above document by their common parts.
GENERIC = {"CoreInputError", "_fail", "_fatal", "AssertionError"}


def raised_messages() -> list[tuple[str, int, str]]:
    """``(file, line, template)`` of every message the package raises with a literal or an
    f-string, the formatted values written ``…``."""
    import ast

    found = []
    for path in sorted(ROOT.joinpath("bt_cracktrader").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name in GENERIC or not node.exc.args:
                continue
            arg = node.exc.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                text = arg.value
            elif isinstance(arg, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "…" for v in arg.values)
            else:
                continue
            found.append((str(path.relative_to(ROOT)), node.lineno, text))
    return found


def test_every_raised_message_is_in_the_runbook() -> None:
    page = ROOT.joinpath("docs", "troubleshooting.md").read_text()
    messages = raised_messages()
    assert len(messages) >= 60
    missing = [
        f"{path}:{line}: {text}"
        for path, line, text in messages
        if text not in page and text not in INTERNAL
    ]
    assert missing == [], "messages raised but missing from docs/troubleshooting.md:\n" + (
        "\n".join(missing)
    )

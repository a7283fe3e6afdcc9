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

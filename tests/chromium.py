"""Debian's chromium for the browser tests (playwright cannot download a browser here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# no background traffic: the machine's closed network refuses it, and it only adds noise
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def launch(playwright: Any) -> Any:
    """A headless chromium Browser from a running `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

"""Waiting for something the app does in the background (a training run, a child process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(pred: Callable[[], Any], timeout: float = 120.0, every: float = 0.2) -> Any:
    """Call `pred` every `every` s until it returns something truthy (returned); fail after `timeout` s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout:.0f} s")

"""Running test code in several threads at once (concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def run_together(target: Callable[..., Any], args: Iterable[tuple[Any, ...]], *, timeout: float = 60) -> list[BaseException]:
    """One thread per argument tuple, all started before any is joined; the errors they raised (a test asserts
    there are none: an exception in a thread would otherwise only be printed)."""
    errors: list[BaseException] = []

    def run(*a: Any) -> None:
        try:
            target(*a)
        except BaseException as err:  # noqa: BLE001 - handed to the test, which fails on it
            errors.append(err)

    threads = [threading.Thread(target=run, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors

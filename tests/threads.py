"""Running test code in several threads at once (concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def run_together(target: Callable[..., Any], args: Iterable[tuple[Any, ...]], *, timeout: float = 300) -> list[BaseException]:
    """One thread per argument tuple, all started before any is joined; the errors they raised (a test asserts
    there are none: an exception in a thread would otherwise only be printed), and a TimeoutError when some
    are still running `timeout` seconds after the start (a test must not count the writes of threads that
    have not finished: it once read 1,973 of 2,000 labels that were still being written)."""
    import time

    errors: list[BaseException] = []

    def run(*a: Any) -> None:
        try:
            target(*a)
        except BaseException as err:  # noqa: BLE001 - handed to the test, which fails on it
            errors.append(err)

    threads = [threading.Thread(target=run, args=a) for a in args]
    deadline = time.monotonic() + timeout
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    running = sum(t.is_alive() for t in threads)
    if running:
        errors.append(TimeoutError(f"{running} of {len(threads)} threads still running after {timeout:g} s"))
    return errors


class ThreadRunner:
    """The JobRunner interface, running each run in a thread of this process instead of a spawned child
    (no torch import in a new process: seconds saved per test). A cancel is the flag in the store, which
    the run polls as a child would, so `cancel` has nothing to do here."""

    def __init__(self, services: Any) -> None:
        self.services, self.threads = services, {}

    def launch(self, run_id: int) -> int:
        from ftdemo.jobs.runner import execute_run

        settings = self.services.settings
        thread = threading.Thread(target=execute_run, args=(self.services.db, run_id, settings.models_dir),
                                  kwargs={"margin": settings.activation_margin}, daemon=True)
        thread.start()
        self.threads[run_id] = thread
        return 0

    def cancel(self, run_id: int) -> None:
        pass

    def alive(self) -> list[int]:
        return [i for i, t in self.threads.items() if t.is_alive()]

    def shutdown(self) -> None:
        for t in self.threads.values():
            t.join(60)

"""A small micro-batching queue: many callers, one worker thread, one forward per batch.

Callers ``submit`` items and get a Future. The worker takes the first waiting
item, drains whatever else is queued (up to ``max_batch``), and then waits at
most ``max_wait_ms`` for more only while the batch is smaller than the previous
one: the last batch size is the best guess of how many clients are active. So a
lone request on an idle server runs at once and pays no batching delay, and 16
busy clients are served in batches of 16 without sitting out the full wait.
On an idle server ``run_one`` goes further and runs a lone request in the
caller's own thread (no hand-off to the worker, no wake-up latency); it only
does so while the worker is not running and the last batch was a single item.
Knows nothing about models.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from ftdemo.errors import BatcherClosedError

T = TypeVar("T")
R = TypeVar("R")

_STOP = object()


class MicroBatcher(Generic[T, R]):
    """Run ``run_batch(items) -> results`` (same length, same order) on batches of submitted items."""

    def __init__(
        self, run_batch: Callable[[list[T]], Sequence[R]], *, max_batch: int = 32, max_wait_ms: float = 5.0,
        name: str = "ftdemo-batcher",
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max(0.0, max_wait_ms) / 1000.0
        self._queue: queue.Queue = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()  # makes "check closed, then enqueue" atomic against close()
        self._running = threading.Lock()  # held by whoever runs a batch: the worker or an inline caller
        self._last_size = 1  # size of the last batch: how many clients seem to be active
        self.batches = 0  # counters for tests and the benchmark
        self.items = 0
        self.largest_batch = 0
        self._worker = threading.Thread(target=self._loop, name=name, daemon=True)
        self._worker.start()

    def submit(self, item: T) -> "Future[R]":
        """Queue one item; the Future resolves to its result or raises the batch's error."""
        fut: Future = Future()
        with self._lock:
            if self._closed:
                raise BatcherClosedError("the predictor is closed; start a new one")
            self._queue.put((item, fut))
        return fut

    def run_one(self, item: T) -> R:
        """Submit one item and wait for its result; on an idle server, run it right here."""
        if self._last_size <= 1 and self._running.acquire(blocking=False):
            try:
                if self._queue.empty():
                    if self._closed:
                        raise BatcherClosedError("the predictor is closed; start a new one")
                    self._count(1)
                    result = self._run_batch([item])
                    if len(result) != 1:
                        raise RuntimeError(f"run_batch returned {len(result)} results for 1 item")
                    return result[0]
            finally:
                self._running.release()
        return self.submit(item).result()

    def submit_many(self, items: Sequence[T]) -> "list[Future[R]]":
        """Queue several items at once (they will usually share batches)."""
        return [self.submit(item) for item in items]

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting work, finish what is queued, stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._worker.join(timeout)

    # the worker

    def _gather(self, first: tuple, target: int) -> tuple[list[tuple], bool]:
        """The first item, all that is already queued, and up to `target` items within max_wait."""
        batch, stop = [first], False
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                if len(batch) >= target:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if nxt is _STOP:
                stop = True
                break
            batch.append(nxt)
        return batch, stop

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            with self._running:
                # wait for company only under load: an idle server answers a lone request at once
                batch, stop = self._gather(first, min(self._last_size, self.max_batch))
                live = [(item, fut) for item, fut in batch if fut.set_running_or_notify_cancel()]
                if live:
                    self._run(live)
            if stop:
                return

    def _count(self, size: int) -> None:
        self._last_size = size
        self.batches += 1
        self.items += size
        self.largest_batch = max(self.largest_batch, size)

    def _run(self, live: list[tuple]) -> None:
        self._count(len(live))
        try:
            results = self._run_batch([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(live)} items")
        except BaseException as err:  # noqa: BLE001 - every caller must hear about the failure
            for _, fut in live:
                fut.set_exception(err)
            return
        for (_, fut), res in zip(live, results):
            fut.set_result(res)

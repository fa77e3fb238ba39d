"""The micro-batching queue on its own, with a stand-in for the model."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from ftdemo.errors import BatcherClosedError
from ftdemo.serving.batching import MicroBatcher


def slow_double(items):
    time.sleep(0.005)  # a forward pass costs about the same for 1 or 16 items
    return [2 * x for x in items]


def test_lone_request_runs_inline_in_the_callers_thread():
    threads = []

    def run(items):
        threads.append(threading.current_thread())
        return items

    b = MicroBatcher(run)
    try:
        assert b.run_one(7) == 7
        assert threads == [threading.current_thread()]
    finally:
        b.close()


def test_concurrent_requests_are_batched_and_ordered():
    b = MicroBatcher(slow_double, max_batch=16, max_wait_ms=5)
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(b.run_one, range(160)))
        assert results == [2 * x for x in range(160)]
        assert b.largest_batch > 1 and b.batches < 80
    finally:
        b.close()


def test_max_batch_is_respected():
    sizes = []

    def run(items):
        sizes.append(len(items))
        return items

    b = MicroBatcher(run, max_batch=4)
    try:
        assert [f.result() for f in b.submit_many(list(range(20)))] == list(range(20))
        assert max(sizes) <= 4
    finally:
        b.close()


def test_a_failing_batch_fails_each_of_its_requests():
    def boom(items):
        raise ValueError("model exploded")

    b = MicroBatcher(boom)
    try:
        futures = b.submit_many([1, 2, 3])
        for f in futures:
            with pytest.raises(ValueError, match="exploded"):
                f.result()
        with pytest.raises(ValueError, match="exploded"):
            b.run_one(4)
    finally:
        b.close()


def test_close_finishes_queued_work_then_refuses():
    b = MicroBatcher(slow_double)
    futures = b.submit_many(list(range(10)))
    b.close()
    assert [f.result() for f in futures] == [2 * x for x in range(10)]
    with pytest.raises(BatcherClosedError):
        b.submit(1)
    with pytest.raises(BatcherClosedError):
        b.run_one(1)

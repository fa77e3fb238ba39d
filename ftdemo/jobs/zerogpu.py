"""Training on a ZeroGPU Space: from the app's process, inside a `spaces.GPU` call.

On ZeroGPU hardware CUDA exists only inside functions decorated with `spaces.GPU`: a call waits in
ZeroGPU's queue for a GPU, then runs the function in a worker process forked from the app (its
argument and result are pickled) and gives the GPU back when it returns. A training run there cannot be
a child process of its own, so `ZeroGpuRunner.launch` starts a thread that makes the call and returns
at once; the Train event answers with the run id while the run proceeds. What runs inside the call is
`runner.execute_run`, as for local runs: progress rows, the heartbeat, cancel through the run's flag
(polled every batch), the version saved and the activation guard applied.

Off ZeroGPU the decorator does nothing and the run trains in that thread of the app's process: what
the tests run (tests/jobs/test_zerogpu.py), and what `services.training` never picks there on its own.

The call asks ZeroGPU for a duration, `gpu_seconds`: the run's planned optimizer steps times a per-step
cost, with a margin, plus start-up, bounded by the per-call cap (FTDEMO_ZEROGPU_MAX_S). A shorter
request queues sooner and spends less of the visitor's quota; a run that outlasts its request may be
stopped by ZeroGPU and ends 'failed' with ZeroGPU's message.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spaces  # before torch: on ZeroGPU it patches torch as it loads; elsewhere GPU() returns the function

from ftdemo.jobs.runner import StopRequest, execute_run
from ftdemo.jobs.supervisor import SHUTDOWN_ERROR, SHUTDOWN_GRACE_S, end_if_live
from ftdemo.store import Database
from ftdemo.store import runs as run_repo
from ftdemo.training.config import TrainConfig, base_model_layers

log = logging.getLogger(__name__)

# The duration estimate (docs/benchmarks.md, "ZeroGPU duration"): costs on the safe side of what the GPU
# check (bench/gpu_check.sh) measured on a whole H200, since ZeroGPU lends a slice of one.
STEP_S_PER_LAYER = 0.004  # one optimizer step of batch_size 32, per layer; measured 2.6-3.5 ms (BERT-base: 32-37 ms)
START_S = 30.0  # worker start, CUDA, loading the model, tokenizing, saving the version; measured ~16 s
MARGIN = 1.5  # on the steps: batches of long texts, validation passes, a busy card
UNKNOWN_LAYERS = 12  # a base model whose config cannot be read offline: assume BERT-base


def gpu_seconds(config: TrainConfig, n_examples: int, layers: int | None, *, cap: int) -> int:
    """Seconds to ask ZeroGPU for: a run of `config` on `n_examples` labelled examples with a base model of
    `layers` transformer layers, at most `cap`."""
    per_step = STEP_S_PER_LAYER * (layers or UNKNOWN_LAYERS) * max(1.0, config.resolved_max_batch_examples / 32)
    return min(cap, math.ceil(START_S + MARGIN * config.estimated_steps(n_examples) * per_step))


def adapt_gpu_seconds(config: dict, n_texts: int, layers: int | None, *, cap: int) -> int:
    """The same estimate for an adaptation run (AdaptConfig as a dict): its steps are epochs x batches of
    texts; a masked-LM step costs about what a fine-tuning step does (the head runs on the masked tokens only)."""
    from ftdemo.training.adapt_config import AdaptConfig

    cfg = AdaptConfig.from_dict(config)
    steps = cfg.epochs * -(-n_texts // cfg.batch_size)
    per_step = STEP_S_PER_LAYER * (layers or UNKNOWN_LAYERS) * max(1.0, cfg.batch_size / 32)
    return min(cap, math.ceil(START_S + MARGIN * steps * per_step))


@dataclass(frozen=True)
class GpuJob:
    """What the GPU call needs, in plain values: it is pickled into ZeroGPU's worker process."""

    db_url: str
    run_id: int
    models_dir: str
    margin: float
    app_pid: int
    seconds: int


def requested_seconds(job: GpuJob) -> int:
    """The duration ZeroGPU reads for each call (spaces calls it with the call's arguments)."""
    return job.seconds


# Runs whose GPU call runs in this process (off ZeroGPU), so that shutdown can stop them. A forked
# ZeroGPU worker holds a copy that nothing sets: it stops when the app's process is gone (orphan watch).
_local_stops: dict[int, StopRequest] = {}


@spaces.GPU(duration=requested_seconds)
def train_on_gpu(job: GpuJob) -> dict[str, Any]:
    """One run from its snapshot to a registered version, in the process that holds the GPU."""
    in_app = os.getpid() == job.app_pid
    db = Database(job.db_url, migrate=False)
    try:
        return execute_run(db, job.run_id, Path(job.models_dir), margin=job.margin,
                           stop=_local_stops.get(job.run_id) if in_app else None,
                           parent_pid=None if in_app else job.app_pid)
    finally:
        db.dispose()


class ZeroGpuRunner:
    """Starts the app's training runs as `spaces.GPU` calls, one thread each (JobRunner's interface)."""

    def __init__(self, db: Database, models_dir: Path, *, margin: float = 0.0, max_seconds: int = 300) -> None:
        self.db, self.models_dir, self.margin, self.max_seconds = db, Path(models_dir), margin, max_seconds
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    def launch(self, run_id: int) -> int:
        """Ask for a GPU and train in a thread; returns this process's pid (the run's until a worker runs it)."""
        with self.db.write() as s:
            run = run_repo.get_run(s, run_id)
            run.pid = os.getpid()  # queued for a GPU: alive while the app is (liveness' pid rule)
            kind, raw, n_examples = run.kind, dict(run.config), int(run.snapshot["counts"]["examples"])
            folds = int(run.snapshot.get("folds") or 5)  # a check's
        layers = base_model_layers(str(raw.get("base_model") or ""))
        if kind == "adapt":
            estimate = adapt_gpu_seconds(raw, n_examples, layers, cap=10 ** 9)
        elif kind == "check":  # k fine-tunes, each on all but one fold
            estimate = folds * gpu_seconds(TrainConfig.from_dict(raw), n_examples * (folds - 1) // folds, layers,
                                           cap=10 ** 9)
        else:
            estimate = gpu_seconds(TrainConfig.from_dict(raw), n_examples, layers, cap=10 ** 9)
        seconds = min(estimate, self.max_seconds)
        if estimate > seconds:
            log.warning("run %s: its estimate (%d s of GPU) is more than FTDEMO_ZEROGPU_MAX_S; asking for %d s, "
                        "ZeroGPU may stop it before it ends", run_id, estimate, seconds)
        job = GpuJob(self.db.url, run_id, str(self.models_dir), self.margin, os.getpid(), seconds)
        _local_stops[run_id] = StopRequest()
        # the Train event's context: spaces reads the visitor's request (their ZeroGPU quota) from it
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(self._call, job), name=f"zerogpu-run-{run_id}",
                                  daemon=True)
        with self._lock:
            self._threads[run_id] = thread
        thread.start()
        log.info("training run %s: asking ZeroGPU for %d s of GPU", run_id, seconds)
        return os.getpid()

    def _call(self, job: GpuJob) -> None:
        try:
            train_on_gpu(job)
            reason = "the GPU call ended without recording the run's outcome"
        except Exception as err:  # noqa: BLE001 - ZeroGPU refused the call (quota, duration) or lost its worker
            reason = f"the ZeroGPU call ({job.seconds} s asked for) failed: {str(err) or type(err).__name__}"
        finally:
            with self._lock:
                self._threads.pop(job.run_id, None)
            _local_stops.pop(job.run_id, None)
        end_if_live(self.db, job.run_id, "failed", reason)  # a no-op when the run recorded its outcome

    def alive(self) -> list[int]:
        with self._lock:
            return [run_id for run_id, thread in self._threads.items() if thread.is_alive()]

    def cancel(self, run_id: int) -> None:
        """Nothing to add: the run polls its cancel flag (already set in the store) wherever it runs."""

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)

    def shutdown(self, timeout_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop every run (app shutdown) within `timeout_s` as 'interrupted': one training in this process
        stops within a batch; one in a ZeroGPU worker is marked now, and stops when the app's process ends."""
        for stop in list(_local_stops.values()):
            stop.request("the app shut down")
        deadline = time.monotonic() + timeout_s
        with self._lock:
            threads = dict(self._threads)
        for run_id, thread in threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            end_if_live(self.db, run_id, "interrupted", SHUTDOWN_ERROR)

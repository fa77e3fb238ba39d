"""Training workers: processes on any machine that reaches the database and the models directory
(FTDEMO_MODELS_DIR, e.g. a shared mount) and train the runs an app queued with FTDEMO_TRAINING=workers.

A worker looks for a waiting run every `poll_s` seconds (a read: idle workers never take the write
lock), claims the oldest one in a write transaction (`store.runs.claim_queued`: on PostgreSQL
`FOR UPDATE SKIP LOCKED`, on SQLite inside `BEGIN IMMEDIATE`), so two workers never train one run, and
trains it in its own process with `runner.execute_run`: the same heartbeat, progress rows, cancel flag,
atomic registry save and activation guard as a run the app trains itself. Then it looks again.

A worker that dies (kill -9, a lost machine) stops beating; once the lease (FTDEMO_RUN_LEASE_S) is over,
whoever looks at runs next (the app, another worker) marks its run 'interrupted', and an admin can retry
it. SIGTERM or Ctrl-C stop the run in hand as 'interrupted' within a batch, and the worker exits.

`WorkerQueue` is the app's side of it: TrainingService's runner under FTDEMO_TRAINING=workers, which
starts nothing (the run is already queued for the workers).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from ftdemo.errors import StorageError
from ftdemo.jobs.liveness import STALE_S, reap
from ftdemo.jobs.runner import StopRequest, execute_run, process_name
from ftdemo.store import Database
from ftdemo.store import runs as run_repo

log = logging.getLogger(__name__)

POLL_S = 2.0  # how often an idle worker looks for a queued run (one indexed read)
DEVICES = ("auto", "cpu", "cuda")


def claim(db: Database, worker: str) -> int | None:
    """Claim the oldest run waiting for a worker for `worker`; its id, or None when none waits."""
    with db.read() as s:
        if not run_repo.any_waiting(s):
            return None
    with db.write() as s:  # decide again under the write lock: another worker may have taken it
        run = run_repo.claim_queued(s, worker)
        return run.id if run is not None else None


class Worker:
    """Claims and trains queued runs, one at a time, until stopped.

        worker = Worker(db, settings.models_dir, device="cuda", lease_s=settings.run_lease_s)
        worker.serve()               # until SIGTERM / worker.stop.request(...)
        worker.serve(once=True)      # one run, or none when nothing is queued
    """

    def __init__(self, db: Database, models_dir: Path, *, device: str = "auto", margin: float = 0.0,
                 poll_s: float = POLL_S, lease_s: float = STALE_S, stop: StopRequest | None = None) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
        self.db, self.models_dir, self.device, self.margin = db, Path(models_dir), device, margin
        self.poll_s, self.lease_s = poll_s, lease_s
        self.stop = stop or StopRequest()
        self.name = process_name()

    def check_device(self) -> str:
        """Fail now, not at the first run, when the device asked for is not here; its description."""
        from ftdemo.devices import describe_device, resolve_device

        return describe_device(resolve_device(self.device))

    def run_one(self) -> dict[str, Any] | None:
        """Claim one waiting run and train it to its end; the run as a dict, or None when none waits."""
        reap(self.db, stale_s=self.lease_s)  # a dead worker's run must not look alive to anyone
        run_id = claim(self.db, self.name)
        if run_id is None:
            return None
        log.info("worker %s: claimed training run %s", self.name, run_id)
        run = execute_run(self.db, run_id, self.models_dir, margin=self.margin, stop=self.stop,
                          device=None if self.device == "auto" else self.device)
        log.info("worker %s: training run %s %s%s", self.name, run_id, run["status"],
                 f" ({run['version']})" if run.get("version") else "")
        return run

    def serve(self, *, once: bool = False) -> list[dict[str, Any]]:
        """Train queued runs until stopped (`once`: after one run, or at once when none waits); the runs."""
        done: list[dict[str, Any]] = []
        log.info("worker %s: looking for queued training runs every %.0f s (device %s, models in %s)", self.name,
                 self.poll_s, self.device, self.models_dir)
        while not self.stop.is_set():
            try:
                run = self.run_one()
            except (StorageError, OperationalError) as err:  # a busy or unreachable database: try again later
                log.warning("worker %s: the database did not answer (%s); trying again in %.0f s", self.name,
                            getattr(err, "orig", None) or err, self.poll_s)
                run = None
                if once:
                    raise
            if run is not None:
                done.append(run)
            if once:
                break
            if run is None:
                self.stop.wait(self.poll_s)
        return done


class WorkerQueue:
    """The app's runner under FTDEMO_TRAINING=workers (JobRunner's interface): the run is already queued for
    the workers, so nothing starts here, and nothing in this process needs stopping at shutdown."""

    def launch(self, run_id: int) -> int:
        log.info("training run %s queued for a training worker (python -m ftdemo worker)", run_id)
        return 0

    def alive(self) -> list[int]:
        return []  # no run belongs to this process: liveness judges them all by their heartbeats

    def cancel(self, run_id: int) -> None:
        """Nothing to add: a claimed run polls its cancel flag; the service ends one no worker claimed."""

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        """Nothing to wait for in this process."""

    def shutdown(self, timeout_s: float = 0.0) -> None:
        """The workers' runs go on when the app stops."""

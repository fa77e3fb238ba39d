"""Is a training run still alive? A heartbeat the running process writes, and the rule that reads it.

The process running a run (the app's training child, a training worker, or `python -m ftdemo train`
itself) writes the run's `heartbeat_at` every HEARTBEAT_S seconds from a thread of its own, so a long
batch or a slow evaluation never starves it. Any process that looks at runs (the app polls them every
second while one is live; a worker, each time it looks for work) calls `reap()`: a queued or running run
whose heartbeat is older than the lease (FTDEMO_RUN_LEASE_S, STALE_S by default) is marked 'interrupted',
whoever started it and wherever it ran. Runs from before heartbeats existed, or that died before their
first beat, fall back to their pid when they ran on this host. A run waiting for a worker has no process
yet, so nothing about it can have died: it waits until a worker claims it (or it is cancelled).

A training child also watches its parent: when the app dies (kill -9 included) the child is
re-parented, notices within a second, and stops its run as 'interrupted' instead of training on as
an orphan.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import threading
from collections.abc import Callable, Collection

from sqlalchemy import update

from ftdemo.processes import pid_alive
from ftdemo.settings import DEFAULT_RUN_LEASE_S
from ftdemo.store import Database
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import TrainingRun, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
STALE_S = DEFAULT_RUN_LEASE_S  # fifteen missed beats: the process is gone (or frozen, which is no better)
START_GRACE_S = 60.0  # a queued run's process has this long to write its first beat


def beat(db: Database, run_id: int) -> None:
    """Write one heartbeat (a short transaction of its own)."""
    with db.write() as s:
        s.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(heartbeat_at=utcnow()))


class Heartbeat:
    """A daemon thread that beats for one run until stopped; optionally watches the parent process.

        with Heartbeat(db, run_id, parent_pid=ppid, on_orphaned=stop.set):
            execute_run(...)
    """

    def __init__(self, db: Database, run_id: int, *, interval_s: float = HEARTBEAT_S, parent_pid: int | None = None,
                 on_orphaned: Callable[[], None] | None = None) -> None:
        self.db, self.run_id, self.interval_s = db, run_id, interval_s
        self.parent_pid, self.on_orphaned = parent_pid, on_orphaned
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        beat(self.db, self.run_id)  # at once: the run is visibly alive before the model loads
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        orphan_check = min(1.0, self.interval_s)
        last_beat = 0.0
        elapsed = 0.0
        while not self._stopped.wait(orphan_check):
            elapsed += orphan_check
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("run %s: the app (pid %s) is gone; stopping", self.run_id, self.parent_pid)
                if self.on_orphaned is not None:
                    self.on_orphaned()
                self.parent_pid = None  # say it once
            if elapsed - last_beat >= self.interval_s:
                last_beat = elapsed
                try:
                    beat(self.db, self.run_id)
                except Exception:  # noqa: BLE001 - a busy database must not kill the run; the next beat retries
                    log.warning("run %s: could not write a heartbeat", self.run_id, exc_info=True)


def retry_hint(run_id: int) -> str:
    """What to do about a run that stopped before its end (the same data and settings, as a new run)."""
    return f"retry it (Retry in the Train tab, or `python -m ftdemo retry {run_id}`)"


def _dead(run: TrainingRun, now: dt.datetime, alive: Collection[int], stale_s: float) -> str | None:
    """Why a live run is dead, or None while it may still be alive."""
    if run.id in alive or run_repo.waiting_for_worker(run):
        return None
    if run.heartbeat_at is not None:
        silent = (now - run.heartbeat_at).total_seconds()
        if silent > stale_s:
            where = f" on {run.worker}" if run.worker else ""
            return (f"the training process{where} stopped answering (no heartbeat for {silent:.0f} s); "
                    f"{retry_hint(run.id)}")
        return None
    on_this_host = (run.environment or {}).get("host", platform.node()) == platform.node()
    if run.pid is not None and on_this_host:
        return None if pid_alive(run.pid) else f"the process running it is gone; {retry_hint(run.id)}"
    if (now - run.created_at).total_seconds() > START_GRACE_S:
        return f"its training process never started or never reported; {retry_hint(run.id)}"
    return None


def reap(db: Database, alive: Collection[int] = (), *, stale_s: float = STALE_S) -> list[int]:
    """Mark live runs whose process is gone as 'interrupted'; returns their ids.

    `alive`: runs whose process the caller holds and knows to be running (never reaped). `stale_s`: the
    lease, how long a run's heartbeat may be silent (Settings.run_lease_s).
    """
    now = utcnow()
    with db.read() as s:
        suspects = [r.id for r in run_repo.live_runs(s) if _dead(r, now, alive, stale_s)]
    if not suspects:
        return []
    marked = []
    with db.write() as s:  # decide again under the write lock: a beat may have landed meanwhile
        for run_id in suspects:
            run = run_repo.get_run(s, run_id)
            reason = _dead(run, utcnow(), alive, stale_s) if run.status in run_repo.LIVE else None
            if reason:
                run.status, run.finished_at = "interrupted", utcnow()
                run.error = run.error or reason
                marked.append(run.id)
    for run_id in marked:
        log.warning("training run %s marked interrupted: its process is gone", run_id)
    return marked

"""Training jobs: each run in its own spawned process, so an OOM or crash never takes the app down.

The child writes progress rows and a heartbeat, and polls the run's cancel flag (cooperative cancel
within one batch); SIGTERM or SIGINT (Ctrl-C in the terminal reaches the whole process group) make it
stop as 'interrupted', and so does the death of the app that started it. The parent watches the
process, kills it if a cancel is not honoured within a grace period, marks a run that died without
saying so as failed, with the reason, and on shutdown stops every child within seconds.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from pathlib import Path

from ftdemo import logs
from ftdemo.store import Database
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import utcnow

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 20.0
SHUTDOWN_GRACE_S = 10.0
SHUTDOWN_ERROR = "the app shut down while this run was in progress; start it again"


def describe_exit(code: int | None) -> str:
    """A user-facing reason for a child that exited without recording its outcome."""
    if code is None:
        return "the training process did not report back"
    if code < 0:
        sig = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        hint = " — often the machine ran out of memory; try a smaller batch size or max length" \
            if -code == signal.SIGKILL else ""
        return f"the training process was killed by {sig}{hint}"
    return f"the training process exited with code {code} before finishing"


def child_main(db_url: str, run_id: int, models_dir: str, margin: float, parent_pid: int | None = None) -> None:
    """Entry point of the training process (spawned: a fresh interpreter, no inherited locks)."""
    logs.configure(logging.INFO, "%(asctime)s train[%(process)d] %(levelname)s %(message)s")
    from ftdemo.jobs.runner import StopRequest, execute_run

    stop = StopRequest()
    for sig, why in ((signal.SIGTERM, "the app shut down"), (signal.SIGINT, "interrupted (Ctrl-C)")):
        signal.signal(sig, lambda *_args, why=why: stop.request(why))
    db = Database(db_url, migrate=False)
    try:
        execute_run(db, run_id, Path(models_dir), margin=margin, stop=stop, parent_pid=parent_pid)
    finally:
        db.dispose()


class JobRunner:
    """Starts and watches training processes for one app process."""

    def __init__(self, db: Database, models_dir: Path, *, margin: float = 0.0,
                 grace_s: float = CANCEL_GRACE_S) -> None:
        self.db, self.models_dir, self.margin, self.grace_s = db, Path(models_dir), margin, grace_s
        self._procs: dict[int, mp.process.BaseProcess] = {}
        self._watchers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutting_down = False

    def launch(self, run_id: int) -> int:
        """Start the run's process; returns its pid."""
        proc = mp.get_context("spawn").Process(
            target=child_main, args=(self.db.url, run_id, str(self.models_dir), self.margin, os.getpid()),
            name=f"ftdemo-train-{run_id}", daemon=False)
        proc.start()
        with self._lock:
            self._procs[run_id] = proc
        with self.db.write() as s:
            run_repo.get_run(s, run_id).pid = proc.pid
        watcher = threading.Thread(target=self._watch, args=(run_id, proc), name=f"watch-run-{run_id}", daemon=True)
        with self._lock:
            self._watchers = [t for t in self._watchers if t.is_alive()] + [watcher]
        watcher.start()
        return int(proc.pid or 0)

    def alive(self) -> list[int]:
        with self._lock:
            return [rid for rid, p in self._procs.items() if p.is_alive()]

    def cancel(self, run_id: int) -> None:
        """The cancel flag is already set in the store; kill the process if it ignores it too long."""
        with self._lock:
            proc = self._procs.get(run_id)
        if proc is not None and proc.is_alive():
            timer = threading.Timer(self.grace_s, self._kill, args=(run_id, proc))
            timer.daemon = True
            timer.start()

    def _kill(self, run_id: int, proc: mp.process.BaseProcess) -> None:
        if proc.is_alive():
            log.warning("run %s did not stop within %.0f s of cancel; killing it", run_id, self.grace_s)
            proc.kill()

    def _watch(self, run_id: int, proc: mp.process.BaseProcess) -> None:
        proc.join()
        if self._shutting_down:
            self._record_exit(run_id, proc, "interrupted", SHUTDOWN_ERROR)
        else:
            self._record_exit(run_id, proc, "failed", describe_exit(proc.exitcode))

    def _record_exit(self, run_id: int, proc: mp.process.BaseProcess, status: str, error: str) -> None:
        """The child is gone: if it left its run live (it died without recording an outcome), end it."""
        with self._lock:
            self._procs.pop(run_id, None)
        end_if_live(self.db, run_id, status, error)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        with self._lock:
            proc = self._procs.get(run_id)
        if proc is not None:
            proc.join(timeout)

    def shutdown(self, timeout_s: float = SHUTDOWN_GRACE_S) -> None:
        """Stop every child (app shutdown) within `timeout_s`: SIGTERM asks each to stop its run as
        'interrupted' (it finishes the batch in hand); one still running at the deadline is killed."""
        self._shutting_down = True
        with self._lock:
            procs = dict(self._procs)
        for proc in procs.values():
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + timeout_s
        for run_id, proc in procs.items():
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("run %s did not stop within %.0f s of shutdown; killing it", run_id, timeout_s)
                proc.kill()
                proc.join(5)
            self._record_exit(run_id, proc, "interrupted", SHUTDOWN_ERROR)
        # a watcher whose child just ended may still be recording it: let it finish before the caller
        # disposes of the database (a write after that opens a new connection, to a database maybe gone)
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.join(5)


def end_if_live(db: Database, run_id: int, status: str, error: str) -> None:
    """What ran a run is gone: if the run is still live (nothing recorded its outcome), end it with
    `status` and `error`, or as 'cancelled' when a cancel had been asked for."""
    with db.write() as s:
        run = run_repo.get_run(s, run_id)
        if run.status in run_repo.LIVE:
            if run.cancel_requested:
                run.status, run.error = "cancelled", "cancelled (the process was stopped)"
            else:
                run.status, run.error = status, error
            run.finished_at = utcnow()
            log.error("training run %s: %s", run_id, run.error)

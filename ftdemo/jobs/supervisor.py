"""Training jobs: each run in its own spawned process, so an OOM or crash never takes the app down.

The child writes progress rows and polls the run's cancel flag (cooperative cancel within one
batch); the parent watches the process, kills it if a cancel is not honoured within a grace period,
and marks a run that died without saying so as failed, with the reason.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import signal
import threading
from pathlib import Path

from ftdemo.store import Database
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import utcnow

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 20.0


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


def child_main(db_url: str, run_id: int, models_dir: str, margin: float) -> None:
    """Entry point of the training process (spawned: a fresh interpreter, no inherited locks)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s train[%(process)d] %(levelname)s %(message)s")
    from ftdemo.jobs.runner import execute_run

    db = Database(db_url, migrate=False)
    try:
        execute_run(db, run_id, Path(models_dir), margin=margin)
    finally:
        db.dispose()


class JobRunner:
    """Starts and watches training processes for one app process."""

    def __init__(self, db: Database, models_dir: Path, *, margin: float = 0.0,
                 grace_s: float = CANCEL_GRACE_S) -> None:
        self.db, self.models_dir, self.margin, self.grace_s = db, Path(models_dir), margin, grace_s
        self._procs: dict[int, mp.process.BaseProcess] = {}
        self._lock = threading.Lock()

    def launch(self, run_id: int) -> int:
        """Start the run's process; returns its pid."""
        proc = mp.get_context("spawn").Process(
            target=child_main, args=(self.db.url, run_id, str(self.models_dir), self.margin),
            name=f"ftdemo-train-{run_id}", daemon=False)
        proc.start()
        with self._lock:
            self._procs[run_id] = proc
        with self.db.write() as s:
            run_repo.get_run(s, run_id).pid = proc.pid
        threading.Thread(target=self._watch, args=(run_id, proc), name=f"watch-run-{run_id}", daemon=True).start()
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
        with self._lock:
            self._procs.pop(run_id, None)
        with self.db.write() as s:
            run = run_repo.get_run(s, run_id)
            if run.status in run_repo.LIVE:  # the child died without recording an outcome
                if run.cancel_requested:
                    run.status, run.error = "cancelled", "cancelled (the process was stopped)"
                else:
                    run.status, run.error = "failed", describe_exit(proc.exitcode)
                run.finished_at = utcnow()
                log.error("training run %s: %s", run_id, run.error)

    def wait(self, run_id: int, timeout: float | None = None) -> None:
        with self._lock:
            proc = self._procs.get(run_id)
        if proc is not None:
            proc.join(timeout)

    def shutdown(self) -> None:
        """Stop every child (app shutdown): their runs become 'interrupted' at the next start."""
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            if p.is_alive():
                p.terminate()

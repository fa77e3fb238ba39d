"""Retraining as labels arrive: a dataset fine-tunes again after every N new labels (per dataset; 0 = never).

What counts: labels people make here (label, bulk label, a typed example with its label; undo takes them
back), not imported ones (an import of labelled rows is a deliberate act: Train now is one click away). The
count lives on the dataset row (`labels_since_run`), moved in the transaction of each label and set back to
0 by the creation of any run on the current labels (Train now, the CLI, this trigger), so the check after a
label reads one row, however many labels the dataset holds. It fires once at N: the run it starts resets the
count, and while any run of the dataset (or, training one run at a time, any run at all) is queued or running
it starts nothing: the labels made meanwhile count towards the next run, which starts with the first label
after that run ends once N are in. The run is an ordinary one (created_by "auto"); the activation guard
still decides whether its model goes live.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from ftdemo.errors import AlreadyTrainedError, InvalidInputError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.services.training import TrainingService
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import Dataset, TrainingRun

log = logging.getLogger(__name__)

AUTO = Actor("auto", "admin")  # who starts the automatic runs (their created_by)
MAX_EVERY = 1_000_000


@dataclass(frozen=True)
class RetrainStatus:
    """Where a dataset stands on its way to the next automatic fine-tune."""

    dataset: str
    every: int  # fine-tune after this many new labels; 0: never automatically
    new_labels: int  # labels made since the dataset's last run was created
    remaining: int | None  # labels until the next automatic run (None: off)
    running: bool  # a run of the dataset is queued or running (the next one waits for it to end)
    default: bool  # `every` is the app's FTDEMO_RETRAIN_EVERY (the dataset has no setting of its own)
    waiting: str = ""  # why a due run did not start (e.g. a label with too few examples), "" when none

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RetrainService(Service):
    def __init__(self, db: Any, settings: Any, training: TrainingService) -> None:
        super().__init__(db, settings)
        self.training = training
        self._lock = threading.Lock()  # one start at a time in this process (other processes: the run queue's lock)
        self._refused: dict[str, tuple[int, str]] = {}  # dataset -> (count when a due run was refused, why)

    def _every(self, ds: Dataset) -> int:
        return self.settings.retrain_every if ds.retrain_every is None else int(ds.retrain_every)

    def _live(self, ds: Dataset) -> bool:
        """Whether a run that keeps this dataset's next one from starting is queued or running."""
        with self.db.read() as s:
            q = select(TrainingRun.id).where(TrainingRun.status.in_(run_repo.LIVE))
            if not self.training.one_run_at_a_time:
                q = q.where(TrainingRun.dataset_id == ds.id)
            return s.scalar(q.limit(1)) is not None

    def status(self, dataset: str) -> RetrainStatus:
        """The countdown: every, new labels, remaining, whether a run of the dataset is live."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            every, new = self._every(ds), int(ds.labels_since_run)
            running = s.scalar(select(TrainingRun.id).where(TrainingRun.dataset_id == ds.id,
                                                            TrainingRun.status.in_(run_repo.LIVE)).limit(1)) is not None
        refused = self._refused.get(dataset)
        return RetrainStatus(ds.name, every, new, max(0, every - new) if every else None, running,
                             ds.retrain_every is None, refused[1] if refused and every and new >= every else "")

    def set_every(self, dataset: str, every: int | None, *, actor: Actor) -> RetrainStatus:
        """Fine-tune `dataset` automatically after every `every` new labels (0: never; None: the app's default,
        FTDEMO_RETRAIN_EVERY). Admins only."""
        require_admin(actor, "change when a dataset fine-tunes automatically")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or not 0 <= every <= MAX_EVERY):
            raise InvalidInputError(f"the number of new labels between automatic fine-tunes must be a whole number "
                                    f"from 1 to {MAX_EVERY}, or 0 to turn them off; got {every!r}")
        with self.db.write() as s:
            repo.get_dataset(s, dataset).retrain_every = every
        self._refused.pop(dataset, None)
        return self.status(dataset)

    def _caught_up(self, dataset: str) -> None:
        """A version already holds the current labels: the count starts again (else every next label would
        ask for the same refused run)."""
        with self.db.write() as s:
            repo.get_dataset(s, dataset).labels_since_run = 0

    def after_labels(self, dataset: str) -> dict[str, Any] | None:
        """After new labels (AnnotationService.listeners): start a run if N new labels are in and none is live.
        Returns the run started, or None."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            every, new = self._every(ds), int(ds.labels_since_run)
        if not every or new < every:
            return None
        refused = self._refused.get(dataset)
        if refused and new < refused[0] + max(1, every // 10):
            return None  # refused a moment ago (too few labels of a kind): try again after some more labels
        with self._lock:
            self.training.reap()  # a run whose process died must not hold the next one back
            with self.db.read() as s:
                ds = repo.get_dataset(s, dataset)
                new = int(ds.labels_since_run)
                if new < every or self._live(ds):
                    return None
                options = s.scalar(select(TrainingRun.config).where(TrainingRun.dataset_id == ds.id,
                                                                   TrainingRun.status == "succeeded")
                                   .order_by(TrainingRun.id.desc()).limit(1))
            try:
                # the settings of its last good run (an admin's choices carry on), else the defaults
                run = self.training.start(dataset, dict(options or {}), actor=AUTO)
            except AlreadyTrainedError as err:  # the labels came back to ones a version holds: nothing is due
                self._caught_up(dataset)
                log.info("dataset %r: %d new labels, but %s; no fine-tune started", dataset, new, err)
                return None
            except InvalidInputError as err:
                self._refused[dataset] = (new, str(err))
                log.info("dataset %r: %d new labels, but the automatic fine-tune cannot start: %s", dataset, new, err)
                return None
        self._refused.pop(dataset, None)
        log.info("dataset %r: %d new labels, started automatic fine-tune run %d", dataset, new, run["id"])
        return run

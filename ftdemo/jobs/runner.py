"""One training run from the store's point of view: snapshot in, model version and rows out.

`execute_run` is what the training child process (supervisor.py), a training worker (worker.py) and the
synchronous CLI `train` all call: it reads the run's frozen snapshot, trains with the engine, saves a
registry version, applies the activation guard and records everything (progress, metrics, errors) as
rows, while a heartbeat (liveness.py) tells every other process that the run is alive. An adaptation
run (kind "adapt") goes the same way, but trains a masked LM on the texts and saves an adapted
checkpoint (models/adapted.py) instead of a version; a fine-tune check (kind "check") fine-tunes k times
on k folds of the labels and saves the out-of-fold probabilities (models/checks.py) for the label-error
suspects.

The guard compares like with like: while the candidate is still in memory, the active version is loaded
and both are scored on the candidate's validation rows (the current labels; the split is a hash of the
example id, so every run of a snapshot validates on the same rows), and the paired difference with its
interval decides (models.guard.paired_activation). Labelled audit examples (a per-dataset share kept out
of training, validation and the model-ranked queue) are scored too: an unbiased accuracy per version.

Every way of stopping a run ends it within a batch or two, in a final status: a cancel from the UI
or the API becomes 'cancelled'; a signal (Ctrl-C, SIGTERM) or the death of the app that started it
becomes 'interrupted'. Nothing is saved after a stop was asked for.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftdemo.errors import FtdemoError, TrainingCancelled
from ftdemo.jobs.liveness import Heartbeat
from ftdemo.models.compare import PairedComparison
from ftdemo.models.guard import paired_activation
from ftdemo.store import Database
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import Dataset, Example, TrainingRun, utcnow
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.config import TrainConfig

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 1.0  # at most one progress row per second (evals and the end always land)
CANCEL_POLL_S = 0.5


def process_name() -> str:
    """This process as a run's `worker`: "host:pid", what an admin needs to find it."""
    return f"{platform.node()}:{os.getpid()}"


def environment() -> dict[str, Any]:
    import torch
    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "host": platform.node(), "pid": os.getpid()}
    if torch.cuda.is_available():
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def load_snapshot(db: Database, run: TrainingRun, part: str = "items") -> tuple[list[LabelledText], list[str], TaskType, str]:
    """The run's frozen (example id, labels) list joined to the example texts (an adaptation's labels are
    empty: it reads every text); `part` "audit": its labelled audit examples (kept out of training), [] for
    a run made before audit samples existed."""
    items: list[list[Any]] = run.snapshot.get(part) or []
    texts = load_texts(db, [int(i) for i, _ in items])
    examples = [LabelledText(int(i), *texts[int(i)], tuple(labels)) for i, labels in items if int(i) in texts]
    with db.read() as s:
        ds = s.get(Dataset, run.dataset_id)
        assert ds is not None
        return examples, list(run.snapshot["labels"]), TaskType(ds.task), ds.name


def load_pool(db: Database, run: TrainingRun) -> list[LabelledText]:
    """Self-training's unlabelled pool frozen with the run (snapshot "pool": example ids), without labels;
    [] for runs without self-training. Examples deleted since are left out."""
    ids = [int(i) for i in run.snapshot.get("pool", [])]
    texts = load_texts(db, ids)
    return [LabelledText(i, *texts[i], ()) for i in ids if i in texts]


def load_texts(db: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    """(text, text_pair) of these example ids, read 5,000 at a time."""
    texts: dict[int, tuple[str, str | None]] = {}
    with db.read() as s:
        for start in range(0, len(ids), 5000):
            for ex_id, text, pair in s.execute(select(Example.id, Example.text, Example.text_pair)
                                               .where(Example.id.in_(ids[start:start + 5000]))):
                texts[ex_id] = (text, pair)
    return texts


class StopRequest:
    """Asked from outside the training loop (a signal handler, the orphan watch): stop the run as
    'interrupted' with a reason. Thread- and signal-safe (a flag and a string)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`, waking at once when a stop is asked for; whether one was."""
        return self._event.wait(timeout_s)


class _Progress:
    """Engine callback → run_events rows, throttled; cancel flag ← the run row, polled; a StopRequest."""

    def __init__(self, db: Database, run_id: int, stop: StopRequest) -> None:
        self.db, self.run_id, self.stop = db, run_id, stop
        self._last_write = 0.0
        self._last_poll = 0.0
        self._cancel = False

    def __call__(self, event: Any) -> None:
        now = time.monotonic()
        if event.kind == "step" and now - self._last_write < PROGRESS_EVERY_S:
            return
        self._last_write = now
        payload = event.to_dict()
        with self.db.write() as s:
            run_repo.add_event(s, self.run_id, event.kind, payload)

    def should_stop(self) -> bool:
        if self.stop.is_set():
            return True
        now = time.monotonic()
        if not self._cancel and now - self._last_poll >= CANCEL_POLL_S:
            self._last_poll = now
            with self.db.read() as s:
                cancel, status = s.execute(select(TrainingRun.cancel_requested, TrainingRun.status)
                                           .where(TrainingRun.id == self.run_id)).one()
            self._cancel = bool(cancel)
            if status not in run_repo.LIVE:
                # given up by another process (this one was cut off from the database for longer than the lease)
                # and maybe retried elsewhere: stop rather than save a version nobody waits for
                self.stop.request(f"this run was already ended as {status!r} elsewhere")
                return True
        return self._cancel


def execute_run(db: Database, run_id: int, models_dir: Path, *, margin: float = 0.0,
                on_event: Callable[[Any], None] | None = None, stop: StopRequest | None = None,
                parent_pid: int | None = None, device: str | None = None) -> dict[str, Any]:
    """Train run `run_id` to the end and record the outcome. Returns the run as a dict.

    `margin`: the activation guard's allowance, a share (models.guard.paired_activation): besides a clearly
    better candidate, one level with the active model within it goes live when the comparison is that precise.
    `device`: where this process trains, whatever the run's settings say (a worker's --device); None: the
    run's own `device` setting.
    `stop`: set from outside (signals) to end the run as 'interrupted'. `parent_pid`: the app that
    started this process; when it dies the run stops as 'interrupted' too.
    Never raises for training failures: they become status 'failed' with the error text. Raises only
    if the database itself is unusable, or to pass on a KeyboardInterrupt/SystemExit after recording
    the run as 'interrupted'.
    """
    stop = stop or StopRequest()
    with db.write() as s:
        run = s.get(TrainingRun, run_id)
        assert run is not None, f"run {run_id} does not exist"
        run.status, run.started_at, run.pid, run.environment = "running", utcnow(), os.getpid(), environment()
        run.worker = run.worker or process_name()  # a worker wrote its name when it claimed the run
        kind = run.kind
    saved = {"adapt": "adapted model", "check": "check result"}.get(kind, "model version")
    progress = _Progress(db, run_id, stop)
    callbacks = [progress] + ([on_event] if on_event else [])
    orphaned = lambda: stop.request("the app that started this run stopped")  # noqa: E731
    try:
        with Heartbeat(db, run_id, parent_pid=parent_pid, on_orphaned=orphaned):
            if kind == "adapt":
                _adapt(db, run_id, models_dir, progress, callbacks, device)
            elif kind == "check":
                _check(db, run_id, models_dir, progress, callbacks, device)
            else:
                _finetune(db, run_id, models_dir, progress, callbacks, device, margin)
    except TrainingCancelled as err:
        if stop.is_set():
            _finish(db, run_id, "interrupted", f"{stop.reason}; no {saved} was saved")
        else:
            _finish(db, run_id, "cancelled", str(err))
    except FtdemoError as err:
        _finish(db, run_id, "failed", str(err))
    except (KeyboardInterrupt, SystemExit):
        _finish(db, run_id, "interrupted", f"stopped before it finished (interrupted); no {saved} was saved")
        raise
    except Exception as err:  # noqa: BLE001 - any crash of the engine is recorded, never lost
        log.exception("training run %s failed", run_id)
        _finish(db, run_id, "failed", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=8)}")
    with db.read() as s:
        return run_repo.run_dict(s.get(TrainingRun, run_id))


def _finetune(db: Database, run_id: int, models_dir: Path, progress: _Progress, callbacks: list[Callable[[Any], None]],
              device: str | None, margin: float) -> None:
    """A fine-tune: the engine on the frozen labels (and, with self-training, the frozen pool), the paired
    comparison with the active version and the audit score, a registry version, the activation guard."""
    from ftdemo.models.registry import Registry
    from ftdemo.training.self_train import train_with_pool

    with db.read() as s:
        run = s.get(TrainingRun, run_id)
        examples, labels, task, dataset = load_snapshot(db, run)
        audit_rows = load_snapshot(db, run, "audit")[0]
        config = TrainConfig.from_dict({**run.config, **({"device": device} if device else {})})
        pool = load_pool(db, run) if config.self_training_rounds else []
    log.info("training run %s of %r started: %d labelled examples, %d labels%s", run_id, dataset, len(examples),
             len(labels), f", {len(pool)} unlabelled for self-training" if config.self_training_rounds else "")
    result = train_with_pool(examples, labels, task, config, pool, callbacks=callbacks,
                             should_stop=progress.should_stop)
    if progress.should_stop():  # asked while the last evaluation ran: keep nothing
        raise TrainingCancelled("training was stopped; no model version was saved")
    try:
        selection = compare_with_active(db, run_id, models_dir, result, examples, audit_rows)
    except Exception as err:  # noqa: BLE001 - a failed comparison must not lose the trained version
        log.exception("training run %s: comparing with the active model failed", run_id)
        selection = Selection(problem=f"comparing it with the active model failed ({type(err).__name__}: {err})")
    if progress.should_stop():
        raise TrainingCancelled("training was stopped; no model version was saved")
    info = Registry(models_dir).save(dataset, result, {"run_id": run_id})
    metrics = {**result.metrics, **selection.metrics()}
    with db.write() as s:
        decision = register_version(s, run_id, info.name, result.base_model, metrics, margin=margin,
                                    selection=selection)
        run = s.get(TrainingRun, run_id)
        run.status, run.finished_at, run.version = "succeeded", utcnow(), info.name
        run.metrics, run.timings = metrics, result.timings
        run.progress = {**run.progress, "decision": decision}
    log.info("training run %s of %r saved %s (%s)", run_id, dataset, info.name,
             "now active" if decision["active"] else "kept as a candidate")


def _adapt(db: Database, run_id: int, models_dir: Path, progress: _Progress, callbacks: list[Callable[[Any], None]],
           device: str | None) -> None:
    """An adaptation: masked-LM training on the frozen texts, an adapted checkpoint saved atomically (no
    guard: it is a base for later fine-tunes, never served)."""
    from ftdemo.models.adapted import AdaptedStore
    from ftdemo.training.adapt import adapt
    from ftdemo.training.adapt_config import AdaptConfig

    with db.read() as s:
        run = s.get(TrainingRun, run_id)
        texts, _labels, _task, dataset = load_snapshot(db, run)
        config = AdaptConfig.from_dict({**run.config, **({"device": device} if device else {})})
    log.info("adaptation run %s of %r started: %d texts", run_id, dataset, len(texts))
    result = adapt(texts, config, callbacks=callbacks, should_stop=progress.should_stop)
    if progress.should_stop():
        raise TrainingCancelled("adaptation was stopped; no adapted model was saved")
    info = AdaptedStore(models_dir).save(dataset, result, {"run_id": run_id})
    with db.write() as s:
        run = s.get(TrainingRun, run_id)
        run.status, run.finished_at, run.version = "succeeded", utcnow(), info.name
        run.metrics, run.timings = result.metrics, result.timings
    log.info("adaptation run %s of %r saved %s", run_id, dataset, info.name)


def _check(db: Database, run_id: int, models_dir: Path, progress: _Progress, callbacks: list[Callable[[Any], None]],
           device: str | None) -> None:
    """A fine-tune check: k fine-tunes on the frozen labels, each scoring the fold it left out; the out-of-fold
    probabilities are saved for the suspects list (no version, no guard: nothing of it is served)."""
    from ftdemo.models.checks import CheckStore
    from ftdemo.training.crossfit import crossfit

    with db.read() as s:
        run = s.get(TrainingRun, run_id)
        examples, labels, task, dataset = load_snapshot(db, run)
        config = TrainConfig.from_dict({**run.config, **({"device": device} if device else {})})
        folds = int(run.snapshot.get("folds") or 5)
    log.info("check run %s of %r started: %d labelled examples, %d folds", run_id, dataset, len(examples), folds)
    result = crossfit(examples, labels, task, config, folds=folds, callbacks=callbacks,
                      should_stop=progress.should_stop)
    if progress.should_stop():
        raise TrainingCancelled("the check was stopped; no check result was saved")
    path = CheckStore(models_dir).save(dataset, run_id, result.ids, result.labels, result.probabilities)
    with db.write() as s:
        run = s.get(TrainingRun, run_id)
        run.status, run.finished_at = "succeeded", utcnow()
        run.metrics, run.timings = {**result.metrics(), "file": path.name}, {"total_s": round(sum(result.fold_seconds), 1)}
    log.info("check run %s of %r saved %s", run_id, dataset, path.name)


@dataclass(frozen=True)
class Selection:
    """What the guard needs about one candidate: its paired comparison with the version that was active when
    it was compared (`against`; None when none was), or why there is none (`problem`), and its audit score."""

    against: str | None = None
    comparison: PairedComparison | None = None
    score: str = ""  # the per-row score compared (models.selection.SCORES)
    problem: str = ""
    audit: dict[str, Any] | None = None
    added_labels: int = 0  # the candidate's labelled examples beyond the active version's, when it has all of those

    @property
    def measure(self) -> str:
        from ftdemo.models.selection import SCORE_WORDS

        return SCORE_WORDS.get(self.score, self.score)

    def metrics(self) -> dict[str, Any]:
        """The keys a version's metrics get: "comparison" (the dict of models.compare, plus `against`,
        `score` and the words) and "audit" (accuracy with its interval on the labelled audit examples)."""
        out: dict[str, Any] = {}
        if self.comparison is not None:
            words = self.comparison.describe(f"the active model ({self.against})",
                                             f"validation examples ({self.measure})")
            out["comparison"] = {**self.comparison.to_dict(), "against": self.against, "score": self.score,
                                 "words": words, "added_labels": self.added_labels}
        elif self.problem:
            out["comparison"] = {"against": self.against, "problem": self.problem}
        if self.audit is not None:
            out["audit"] = self.audit
        return out


def compare_with_active(db: Database, run_id: int, models_dir: Path, result: Any, examples: list[LabelledText],
                        audit_rows: list[LabelledText], *, score: str | None = None) -> Selection:
    """Score the candidate (`result`, in memory) and the dataset's active version on the candidate's own
    validation rows and compare them pairwise; score the candidate on the labelled audit examples. A
    version that cannot be loaded (files gone, another architecture's leftovers) gives a `problem`."""
    from ftdemo.errors import FtdemoError
    from ftdemo.models import selection as sel
    from ftdemo.models.inference import load_model_dir
    from ftdemo.models.registry import Registry
    from ftdemo.training.splits import make_splits

    score = score or sel.DEFAULT_SCORE
    labels, task, cfg = list(result.labels), result.task, result.config
    device = str(next(result.model.parameters()).device)
    audit = None
    if audit_rows:
        probs = sel.row_probabilities(result.model, result.tokenizer, audit_rows, task, max_length=cfg.max_length)
        audit = sel.accuracy_interval(sel.row_scores(probs, labels, audit_rows, labels, task, score="correct",
                                                     thresholds=result.thresholds))
    with db.read() as s:
        run = s.get(TrainingRun, run_id)
        ds = s.get(Dataset, run.dataset_id)
        current = run_repo.active_version(s, ds)
        against, dataset = (current.version if current is not None else None), ds.name
        active_run = s.get(TrainingRun, current.run_id) if current is not None and current.run_id else None
        added = added_labels(run.snapshot, active_run.snapshot if active_run is not None else None)
    if against is None:
        return Selection(audit=audit)
    rows = make_splits(examples, labels, task, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction).validation
    try:
        active = load_model_dir(Registry(models_dir).path(dataset, against), device=device)
    except (FtdemoError, OSError) as err:
        return Selection(against, problem=f"the active model {against} could not be loaded to compare with: {err}",
                         audit=audit, added_labels=added)
    cand_probs = sel.row_probabilities(result.model, result.tokenizer, rows, task, max_length=cfg.max_length)
    act_probs = sel.row_probabilities(active.model, active.tokenizer, rows, task,
                                      max_length=min(cfg.max_length, active.max_length))
    cand = sel.row_scores(cand_probs, labels, rows, labels, task, score=score, thresholds=result.thresholds)
    act = sel.row_scores(act_probs, list(active.labels), rows, labels, task, score=score,
                         thresholds=dict(zip(active.labels, (float(t) for t in active.thresholds))))
    return Selection(against, sel.compare_models(cand, act), score, audit=audit, added_labels=added)


def added_labels(candidate_snapshot: dict[str, Any], active_snapshot: dict[str, Any] | None) -> int:
    """How many labelled examples the candidate's snapshot has beyond the active version's, when it has every
    one of those (retraining as labels arrive); 0 when it lacks some (deleted, moved to the audit sample) or
    the active version's run is unknown (a version found on disk)."""
    if not active_snapshot:
        return 0
    ids = lambda snap: {int(item[0]) for item in snap.get("items") or []}  # noqa: E731
    cand, act = ids(candidate_snapshot), ids(active_snapshot)
    return len(cand - act) if act and act <= cand else 0


def register_version(session: Session, run_id: int, version: str, base_model: str, metrics: dict[str, Any],
                     *, margin: float, selection: Selection | None = None) -> dict[str, Any]:
    """Record a new version and apply the activation guard; returns {'active': bool, 'reason': str}.

    `selection`: the candidate compared with the active version on the same validation rows
    (compare_with_active). Without one, or when another version went live since it was made, a
    candidate is activated only if no version is active."""
    ds = session.get(Dataset, run_repo.get_run(session, run_id).dataset_id)
    # an app starting meanwhile may have found the version on disk and registered it (ModelService.reconcile)
    v = run_repo.find_version(session, ds, version)
    if v is None:
        v = run_repo.add_version(session, ds, version, base_model, metrics, run_id=run_id)
    else:
        v.run_id, v.base_model, v.metrics = run_id, base_model, metrics
    current = run_repo.active_version(session, ds)
    selection = selection or Selection()
    if current is None or current.id == v.id:
        ok, reason = paired_activation(None, margin)
    elif selection.problem:
        ok, reason = False, f"{selection.problem}; kept as candidate (activate it by hand to override)"
    elif selection.against != current.version:
        ok, reason = False, (f"{current.version} went live while this version was being compared with "
                             f"{selection.against or 'no active model'}; kept as candidate (activate it by hand to "
                             "override)")
    else:
        ok, reason = paired_activation(selection.comparison, margin, active_version=current.version,
                                       measure=selection.measure, added_labels=selection.added_labels)
    if ok:
        run_repo.activate(session, ds, v, reason)
    else:
        v.reason = reason
    session.flush()
    return {"active": ok, "reason": reason}


def _finish(db: Database, run_id: int, status: str, error: str) -> None:
    with db.write() as s:
        run = s.get(TrainingRun, run_id)
        if run is not None and run.status in ("queued", "running"):
            run.status, run.error, run.finished_at = status, error, utcnow()

"""Training runs: snapshot the current labels, start (a child process, a ZeroGPU call, a queue for training
workers, or in-process for the CLI), watch, cancel, retry."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ftdemo.errors import AlreadyTrainedError, InvalidInputError
from ftdemo.services.annotate import AnnotationService
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import utcnow
from ftdemo.tasks import LabelledText, TaskType, validate_dataset_name
from ftdemo.training.data import snapshot_hash


def snapshot_of(examples: list[LabelledText], labels: list[str]) -> tuple[dict[str, Any], str]:
    """The frozen data a run trains on: (id, labels) pairs and counts, with the snapshot's identity
    (`snapshot_hash`: the same hash the engine writes into the version's metadata.json)."""
    counts = Counter(lab for ex in examples for lab in ex.labels)
    snap = {"labels": labels, "counts": {"examples": len(examples), "per_label": {l: counts.get(l, 0) for l in labels}},
            "items": [[ex.id, list(ex.labels)] for ex in examples]}
    return snap, snapshot_hash(examples)


ADAPTED_NAME = re.compile(r"a\d{4,}")  # an adapted checkpoint's name, as a base model of its dataset's fine-tunes

# an absolute file path (POSIX or Windows) with at least one folder; a URL's path is not one (lookbehind)
_SERVER_PATH = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:[\\/]|/)(?:[^\s'\"/\\]+[\\/])+([^\s'\"/\\]*)")


def brief_error(error: str | None) -> str | None:
    """What an annotator sees of a run's error: its first line, server file paths cut to their last part.

    A crash's error holds a traceback with the server's folders and installed packages; that is for
    admins (who can act on it), not for everyone who may read runs."""
    if not error:
        return error
    first = next((line.strip() for line in error.splitlines() if line.strip()), "")
    return _SERVER_PATH.sub(lambda m: f"…/{m.group(1)}", first)


def where(run: Mapping[str, Any]) -> str:
    """Where a run trains, for people: its process ("host:pid", a worker's or the app's child's), "waiting for
    a worker" while no worker has claimed it, "" before its process starts."""
    if run.get("waiting_for_worker"):
        return "waiting for a worker"
    return str(run.get("worker") or "")


def _refuse_identical(s: Any, ds: Any, config: dict[str, Any], snapshot: dict[str, Any], digest: str) -> None:
    """Refuse a run that would train what a stored version already holds (same snapshot, same settings): it
    would spend the compute and the disk (tens of MB a version) on a copy. Checked before the run is queued,
    so the UI, the CLI, the API and training workers all get the same answer, and no run is created."""
    found = run_repo.identical_version(s, ds, config, digest, list(snapshot.get("labels") or []))
    if found is None:
        return
    version, run = found
    raise AlreadyTrainedError(
        f"{version.version} ({version.status}) already holds this model: run {run.id} trained it on the same "
        f"labels with the same settings, so nothing new was trained; change a label or a setting to train "
        f"again{', or activate ' + version.version + ' to use it' if version.status != 'active' else ''}",
        version.version)


def _shown_to(actor: Actor | None, run: dict[str, Any]) -> dict[str, Any]:
    """The run as `actor` may read it (None: in full, for the CLI and the app's own bookkeeping)."""
    if actor is None or actor.is_admin:
        return run
    return {**run, "error": brief_error(run.get("error"))}


class TrainingService(Service):
    def __init__(self, db: Any, settings: Any, annotate: AnnotationService, runner: Any = None) -> None:
        super().__init__(db, settings)
        self.annotate = annotate
        self._runner = runner
        if settings.zero_gpu and not self.workers and runner is None:
            self._runner = self._make_runner()  # ZeroGPU wants its spaces.GPU function defined before launch

    @property
    def workers(self) -> bool:
        """FTDEMO_TRAINING=workers: runs are queued for training workers, this process trains none itself."""
        return self.settings.training == "workers"

    @property
    def one_run_at_a_time(self) -> bool:
        """Whether a live run of one dataset keeps every other from starting: this machine trains one run at
        a time; training workers train runs of different datasets side by side (one per dataset)."""
        return not self.workers

    @property
    def runner(self) -> Any:
        if self._runner is None:
            self._runner = self._make_runner()
        return self._runner

    def _make_runner(self) -> Any:
        """Where the app's runs train: with FTDEMO_TRAINING=workers on training workers (queued; nothing starts
        here), else a child process each (CPU, a local or dedicated GPU), or on a ZeroGPU Space inside a
        `spaces.GPU` call from this process (CUDA exists only there). Same runs either way."""
        if self.workers:
            from ftdemo.jobs.worker import WorkerQueue

            return WorkerQueue()
        if self.settings.zero_gpu:
            from ftdemo.jobs.zerogpu import ZeroGpuRunner

            return ZeroGpuRunner(self.db, self.settings.models_dir, margin=self.settings.activation_margin,
                                 max_seconds=self.settings.zerogpu_max_s)
        from ftdemo.jobs.supervisor import JobRunner

        return JobRunner(self.db, self.settings.models_dir, margin=self.settings.activation_margin)

    def _prepare(self, dataset: str, options: dict[str, Any], actor: Actor, *, for_workers: bool) -> int:
        """Validate options and data, then create a queued run with its frozen snapshot."""
        require_admin(actor, "train models")
        validate_dataset_name(dataset)  # a name stored before the rule existed would fail only at save
        from ftdemo.training.config import TrainConfig
        from ftdemo.training.splits import make_splits

        opts = {k: v for k, v in options.items() if v is not None and v != ""}
        opts.setdefault("base_model", self.settings.resolved_base_model())
        opts["base_model"] = self.resolve_base_model(dataset, opts["base_model"])
        config = TrainConfig.from_dict(opts)  # raises with the option's name on bad values
        examples, audit = self._training_and_audit(dataset)
        info_labels, task = self._labels_and_task(dataset)
        make_splits(examples, info_labels, task, val_fraction=config.val_fraction,
                    test_fraction=config.test_fraction)  # refuses tiny data now, with which labels need more
        snap, digest = snapshot_of(examples, info_labels)
        if config.self_training_rounds:  # the unlabelled pool is frozen with the run too (ids only)
            with self.db.read() as s:
                snap["pool"] = [i for i, _t, _p in repo.live_texts(s, repo.get_dataset(s, dataset), labelled=False)]
            snap["counts"]["pool"] = len(snap["pool"])
        if audit:  # scored at the end of the run, never trained or validated on
            snap["audit"] = [[ex.id, list(ex.labels)] for ex in audit]
        return self._queue(dataset, config.to_dict(), snap, digest, actor, for_workers=for_workers)

    def _prepare_adapt(self, dataset: str, options: dict[str, Any], actor: Actor, *, for_workers: bool) -> int:
        """Validate the options, then queue an adaptation run over every live text of the dataset (labelled or
        not; labels play no part, and the count of labels since the last fine-tune is left alone)."""
        require_admin(actor, "adapt models")
        validate_dataset_name(dataset)
        from ftdemo.training.adapt_config import AdaptConfig

        opts = {k: v for k, v in options.items() if v is not None and v != ""}
        opts.setdefault("base_model", self.settings.resolved_base_model())
        config = AdaptConfig.from_dict(opts)
        with self.db.read() as s:
            rows = repo.live_texts(s, repo.get_dataset(s, dataset))
        if len(rows) < 2:
            raise InvalidInputError(f"{dataset!r} has {len(rows)} text(s); adaptation needs at least 2 (import texts first)")
        texts = [LabelledText(i, text, pair, ()) for i, text, pair in rows]
        snap = {"labels": [], "counts": {"examples": len(texts)}, "items": [[ex.id, []] for ex in texts]}
        return self._queue(dataset, config.to_dict(), snap, snapshot_hash(texts), actor, for_workers=for_workers,
                           current_labels=False, kind="adapt")

    def _prepare_check(self, dataset: str, options: dict[str, Any], actor: Actor, *, for_workers: bool) -> int:
        """Validate, then queue a fine-tune check: `folds` fine-tunes (TrainConfig options, default 5 folds)
        on every labelled example, audit sample included (its labels can be wrong too), each scoring the fold
        it left out. It neither serves nor resets the count of labels since the last fine-tune."""
        require_admin(actor, "check labels with fine-tunes")
        validate_dataset_name(dataset)
        from ftdemo.training.config import TrainConfig
        from ftdemo.training.splits import DEFAULT_FOLDS, MAX_FOLDS, fold_splits, targets

        opts = {k: v for k, v in options.items() if v is not None and v != ""}
        folds = opts.pop("folds", DEFAULT_FOLDS)
        try:
            folds = int(folds)
        except (TypeError, ValueError):
            raise InvalidInputError(f"folds must be a whole number from 2 to {MAX_FOLDS}, not {folds!r}") from None
        if not 2 <= folds <= MAX_FOLDS:
            raise InvalidInputError(f"folds must be from 2 to {MAX_FOLDS}, not {folds}")
        opts.setdefault("base_model", self.settings.resolved_base_model())
        opts["base_model"] = self.resolve_base_model(dataset, opts["base_model"])
        config = TrainConfig.from_dict({**opts, "test_fraction": 0.0})
        examples = self.annotate.snapshot(dataset)
        labels, task = self._labels_and_task(dataset)
        if not fold_splits(targets(examples, labels, task), task=task, max_folds=folds):
            raise InvalidInputError(f"{dataset!r} needs at least 2 labelled examples of every label for a fine-tune "
                                    "check; label more examples first")
        snap, digest = snapshot_of(examples, labels)
        snap["folds"] = folds
        return self._queue(dataset, config.to_dict(), snap, digest, actor, for_workers=for_workers,
                           current_labels=False, kind="check")

    def _queue(self, dataset: str, config: dict[str, Any], snapshot: dict[str, Any], digest: str, actor: Actor, *,
               for_workers: bool, current_labels: bool = True, kind: str = "finetune") -> int:
        """Create the queued run, unless a live one holds the place it needs (one_run_at_a_time);
        `current_labels`: False for a retry (its frozen data holds none of the labels made since), for an
        adaptation (it trains on no labels) and for a check; `kind`: "finetune", "adapt" or "check"."""
        self.reap()  # a dead run must not block this one
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            if kind == "finetune":
                _refuse_identical(s, ds, config, snapshot, digest)
            live = [r for r in run_repo.live_runs(s) if self.one_run_at_a_time or r.dataset_id == ds.id]
            if live:
                scope = "one run at a time" if self.one_run_at_a_time else "one run per dataset at a time"
                raise InvalidInputError(f"training run {live[0].id} is still {live[0].status}; wait for it or "
                                        f"cancel it before starting another ({scope})")
            return run_repo.create_run(s, ds, config, snapshot, digest, created_by=actor.name,
                                       for_workers=for_workers, current_labels=current_labels, kind=kind).id

    def _launch(self, run_id: int) -> None:
        """Hand a queued run to the runner; a run that cannot start is failed with the reason."""
        try:
            self.runner.launch(run_id)
        except Exception as err:
            with self.db.write() as s:
                run = run_repo.get_run(s, run_id)
                run.status, run.error = "failed", f"could not start the training process: {err}"
            raise

    def _training_and_audit(self, dataset: str) -> tuple[list[LabelledText], list[LabelledText]]:
        """The labelled examples a run trains and validates on, and the labelled audit examples it leaves out."""
        from ftdemo.store.derived import in_audit

        examples = self.annotate.snapshot(dataset)
        with self.db.read() as s:
            share = float(repo.get_dataset(s, dataset).audit_share or 0.0)
        if not share:
            return examples, []
        audit = [ex for ex in examples if in_audit(ex.id, share)]
        held = {ex.id for ex in audit}
        return [ex for ex in examples if ex.id not in held], audit

    def _labels_and_task(self, dataset: str) -> tuple[list[str], TaskType]:
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            return repo.active_label_names(ds), TaskType(ds.task)

    def start(self, dataset: str, options: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
        """Queue a run and start it (`runner`; with workers it waits for one); returns the run at once (poll
        `run()` / `events()`)."""
        run_id = self._prepare(dataset, options, actor, for_workers=self.workers)
        self._launch(run_id)
        return self.run(run_id)

    def retry(self, run_id: int, *, actor: Actor) -> dict[str, Any]:
        """Run again what run `run_id` was to train (failed, cancelled or interrupted): a new run with its frozen
        data and its settings, started like any run (with workers: queued for one). Returns the new run.

        Same data, not today's labels: a retry finishes what was asked for; Train now trains on the labels
        as they are now."""
        new_id = self._requeue(run_id, actor, for_workers=self.workers)
        self._launch(new_id)
        return self.run(new_id)

    def retry_sync(self, run_id: int, *, actor: Actor, on_event: Callable[[Any], None] | None = None,
                   stop: Any = None) -> dict[str, Any]:
        """retry(), trained in this process (the CLI without workers), like train_sync."""
        new_id = self._requeue(run_id, actor, for_workers=False)
        return self._execute_here(new_id, on_event, stop)

    def _requeue(self, run_id: int, actor: Actor, *, for_workers: bool) -> int:
        """A new queued run with the frozen data and settings of run `run_id`, which ended before its end."""
        require_admin(actor, "retry training runs")
        self.reap()  # a run whose process just died becomes retryable now, not after the next poll
        with self.db.read() as s:
            row = run_repo.get_run(s, run_id)
            old, snapshot = run_repo.run_dict(row), dict(row.snapshot)
        if old["status"] in run_repo.LIVE:
            raise InvalidInputError(f"run {run_id} is still {old['status']}; cancel it before retrying it")
        if old["status"] == "succeeded":
            raise InvalidInputError(f"run {run_id} succeeded (it trained {old['version']}); start a new run to "
                                    "train again on the current labels")
        from ftdemo.training.adapt_config import AdaptConfig
        from ftdemo.training.config import TrainConfig

        # a run recorded by an older ftdemo may hold settings now refused
        (AdaptConfig if old["kind"] == "adapt" else TrainConfig).from_dict(old["config"])
        return self._queue(old["dataset"], old["config"], snapshot, old["snapshot_hash"], actor,
                           for_workers=for_workers, current_labels=False, kind=old["kind"])

    def train_sync(self, dataset: str, options: dict[str, Any], *, actor: Actor,
                   on_event: Callable[[Any], None] | None = None, stop: Any = None) -> dict[str, Any]:
        """Train in this process (the CLI): same snapshot, engine, registry and guard as the app.

        `stop` (a jobs.runner.StopRequest): set it, e.g. from a signal handler, to end the run as
        'interrupted' within a batch."""
        run_id = self._prepare(dataset, options, actor, for_workers=False)  # this process trains it, no worker
        return self._execute_here(run_id, on_event, stop)

    def adapt(self, dataset: str, options: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
        """Queue and start an adaptation run (masked-LM training on the dataset's texts; AdaptConfig options),
        like `start`; it ends in an adapted checkpoint (`adapted`), a base model for later fine-tunes."""
        run_id = self._prepare_adapt(dataset, options, actor, for_workers=self.workers)
        self._launch(run_id)
        return self.run(run_id)

    def adapt_sync(self, dataset: str, options: dict[str, Any], *, actor: Actor,
                   on_event: Callable[[Any], None] | None = None, stop: Any = None) -> dict[str, Any]:
        """adapt(), in this process (the CLI), like train_sync."""
        run_id = self._prepare_adapt(dataset, options, actor, for_workers=False)
        return self._execute_here(run_id, on_event, stop)

    def check(self, dataset: str, options: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
        """Queue and start a fine-tune check (`folds` and TrainConfig options), like `start`; the label-error
        suspects use its out-of-fold probabilities once it succeeds."""
        run_id = self._prepare_check(dataset, options, actor, for_workers=self.workers)
        self._launch(run_id)
        return self.run(run_id)

    def check_sync(self, dataset: str, options: dict[str, Any], *, actor: Actor,
                   on_event: Callable[[Any], None] | None = None, stop: Any = None) -> dict[str, Any]:
        """check(), in this process (the CLI), like train_sync."""
        run_id = self._prepare_check(dataset, options, actor, for_workers=False)
        return self._execute_here(run_id, on_event, stop)

    def _execute_here(self, run_id: int, on_event: Callable[[Any], None] | None, stop: Any) -> dict[str, Any]:
        """Run a queued run in this process (the *_sync faces: the CLI), as the training child would."""
        from ftdemo.jobs.runner import execute_run

        return execute_run(self.db, run_id, self.settings.models_dir, margin=self.settings.activation_margin,
                           on_event=on_event, stop=stop)

    def resolve_base_model(self, dataset: str, base_model: str) -> str:
        """A base model as given, except that an adapted checkpoint's name ("a0001") becomes its path."""
        if not ADAPTED_NAME.fullmatch(str(base_model).strip()):
            return base_model
        from ftdemo.models.adapted import AdaptedStore

        return str(AdaptedStore(self.settings.models_dir).get(dataset, base_model).path)

    def adapted(self, dataset: str) -> list[dict[str, Any]]:
        """The dataset's adapted checkpoints, newest first: name, path (the `base_model` option that fine-tunes
        from it), when, from which base, on how many texts, and the masked-LM scores before and after."""
        from ftdemo.models.adapted import AdaptedStore

        with self.db.read() as s:
            name = repo.get_dataset(s, dataset).name  # NotFoundError for a dataset that does not exist
        return [a.to_dict() for a in reversed(AdaptedStore(self.settings.models_dir).list(name))]

    def cancel(self, run_id: int, *, actor: Actor) -> dict[str, Any]:
        require_admin(actor, "cancel training")
        with self.db.write() as s:
            run = run_repo.get_run(s, run_id)
            if run.status not in run_repo.LIVE:
                raise InvalidInputError(f"run {run_id} is already {run.status}")
            run.cancel_requested = True
            if run_repo.waiting_for_worker(run):  # no process would ever read the flag: end it here
                run.status, run.finished_at = "cancelled", utcnow()
                run.error = f"cancelled by {actor.name} before a worker took it"
        self.runner.cancel(run_id)
        return self.run(run_id)

    def run(self, run_id: int, *, actor: Actor | None = None) -> dict[str, Any]:
        """One run; an annotator `actor` gets its error as one line (brief_error)."""
        self.reap()
        with self.db.read() as s:
            run = run_repo.get_run(s, run_id)
            return _shown_to(actor, run_repo.run_dict(run))

    def runs(self, dataset: str, limit: int = 50, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The dataset's runs, newest first; an annotator `actor` gets errors as one line."""
        self.reap()
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            return [_shown_to(actor, run_repo.run_dict(r, dataset=ds.name)) for r in run_repo.list_runs(s, ds, limit)]

    def live(self) -> list[dict[str, Any]]:
        self.reap()
        with self.db.read() as s:
            return [run_repo.run_dict(r) for r in run_repo.live_runs(s)]

    def events(self, run_id: int, after_id: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
        with self.db.read() as s:
            return run_repo.events(s, run_id, after_id)

    def reap(self) -> list[int]:
        """Runs whose process is gone (no heartbeat, dead pid) become 'interrupted'; their ids.

        Called whenever runs are looked at, so a stuck run never blocks training for longer than
        the heartbeat's staleness limit, whoever started it."""
        from ftdemo.jobs.liveness import reap

        return reap(self.db, self._runner.alive() if self._runner is not None else [],
                    stale_s=self.settings.run_lease_s)

    recover = reap  # at start-up: runs a previous app process left 'running' (same rule)

    def close(self) -> None:
        """Stop this process's training children (their runs become 'interrupted') within seconds."""
        if self._runner is not None:
            self._runner.shutdown()

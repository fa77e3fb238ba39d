"""Queries for training runs, their progress events and model versions (caller owns the transaction)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from ftdemo.errors import InvalidInputError, NotFoundError
from ftdemo.store.repo import get_by_id
from ftdemo.store.schema import Dataset, ModelVersion, RunEvent, TrainingRun, utcnow

LIVE = ("queued", "running")


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def run_dict(run: TrainingRun, *, dataset: str | None = None) -> dict[str, Any]:
    if dataset is None and (session := object_session(run)) is not None:
        ds = session.get(Dataset, run.dataset_id)  # identity-map hit when the caller already loaded it
        dataset = ds.name if ds is not None else None
    return {"id": run.id, "dataset_id": run.dataset_id, "dataset": dataset, "kind": run.kind, "status": run.status,
            "config": run.config, "snapshot_hash": run.snapshot_hash, "counts": run.snapshot.get("counts", {}),
            "environment": run.environment, "progress": run.progress, "metrics": run.metrics,
            "timings": run.timings, "error": run.error, "version": run.version,
            "cancel_requested": run.cancel_requested, "created_by": run.created_by,
            "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "worker": run.worker,
            "waiting_for_worker": waiting_for_worker(run)}


def version_dict(v: ModelVersion) -> dict[str, Any]:
    """A version as the CLI, API and UI list it. `comparison`: how it compared with the version active when
    it was trained, on the same validation rows (jobs.runner.Selection; None before there was one);
    `audit`: its accuracy with a 95% interval on the dataset's labelled audit examples (None: none)."""
    metrics = v.metrics or {}
    return {"version": v.version, "status": v.status, "active": v.status == "active", "run_id": v.run_id,
            "base_model": v.base_model, "metrics": v.metrics, "reason": v.reason,
            "created_at": _iso(v.created_at), "activated_at": _iso(v.activated_at),
            "comparison": metrics.get("comparison"), "audit": metrics.get("audit")}


def waiting_for_worker(run: TrainingRun) -> bool:
    """Queued for training workers and not claimed by one yet: no process runs it, and none has died."""
    return run.status == "queued" and bool(run.for_workers) and run.worker is None


def create_run(session: Session, ds: Dataset, config: dict[str, Any], snapshot: dict[str, Any], snapshot_hash: str,
               *, created_by: str, for_workers: bool = False, current_labels: bool = True,
               kind: str = "finetune") -> TrainingRun:
    """A queued run (`kind`: "finetune" or "adapt"); `for_workers`: it waits for a training worker to claim
    it (else the caller starts it).
    `current_labels`: it trains on the labels as they are now (not a retry's frozen data), so the count of
    labels made since the dataset's last run starts again (services/retrain.py)."""
    if current_labels:
        session.execute(update(Dataset).where(Dataset.id == ds.id).values(labels_since_run=0))
    run = TrainingRun(dataset_id=ds.id, kind=kind, status="queued", config=config, snapshot=snapshot,
                      snapshot_hash=snapshot_hash, created_by=created_by, environment={}, progress={}, metrics={},
                      timings={}, error="", version="", for_workers=for_workers)
    session.add(run)
    session.flush()
    return run


# a run a worker may claim (waiting_for_worker as SQL; a cancelled one is ended by the service, never claimed)
_WAITING = (TrainingRun.status == "queued", TrainingRun.for_workers.is_(True), TrainingRun.worker.is_(None),
            TrainingRun.cancel_requested.is_(False))


def claim_queued(session: Session, worker: str) -> TrainingRun | None:
    """The oldest run waiting for a worker, now claimed by `worker` (its name written, a first heartbeat, so
    the liveness rule covers it from here on); None when none waits.

    Call it inside a write transaction: on SQLite that is BEGIN IMMEDIATE, on PostgreSQL the write lock, so
    two workers never claim one run. FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite has no row locks and
    SQLAlchemy leaves the clause out) also keeps a claim from waiting on, or taking, a run whose row another
    transaction holds."""
    run = session.scalars(select(TrainingRun).where(*_WAITING).order_by(TrainingRun.id).limit(1)
                          .with_for_update(skip_locked=True)).first()
    if run is not None:
        run.worker, run.heartbeat_at = worker, utcnow()
        session.flush()
    return run


def any_waiting(session: Session) -> bool:
    """Whether a run waits for a worker: the workers' idle poll, a read that takes no write lock."""
    return session.scalar(select(TrainingRun.id).where(*_WAITING).limit(1)) is not None


def live_runs(session: Session) -> list[TrainingRun]:
    return list(session.scalars(select(TrainingRun).where(TrainingRun.status.in_(LIVE)).order_by(TrainingRun.id)))


def get_run(session: Session, run_id: int) -> TrainingRun:
    run = get_by_id(session, TrainingRun, run_id)
    if run is None:
        raise NotFoundError(f"training run {run_id} does not exist")
    return run


def list_runs(session: Session, ds: Dataset, limit: int = 50) -> list[TrainingRun]:
    return list(session.scalars(select(TrainingRun).where(TrainingRun.dataset_id == ds.id)
                                .order_by(TrainingRun.id.desc()).limit(limit)))


def latest_check(session: Session, ds: Dataset) -> TrainingRun | None:
    """The dataset's newest fine-tune check that succeeded (kind "check"), or None."""
    return session.scalars(select(TrainingRun).where(TrainingRun.dataset_id == ds.id, TrainingRun.kind == "check",
                                                     TrainingRun.status == "succeeded")
                           .order_by(TrainingRun.id.desc()).limit(1)).first()


def add_event(session: Session, run_id: int, kind: str, payload: dict[str, Any]) -> None:
    session.add(RunEvent(run_id=run_id, kind=kind, payload=payload))
    # the latest event doubles as the run's live progress, so a status poll is one row
    session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(progress=payload))


def events(session: Session, run_id: int, after_id: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
    rows = session.execute(select(RunEvent.id, RunEvent.kind, RunEvent.payload)
                           .where(RunEvent.run_id == run_id, RunEvent.id > after_id).order_by(RunEvent.id)).all()
    return [(i, k, p) for i, k, p in rows]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def identical_version(session: Session, ds: Dataset, config: dict[str, Any], snapshot_hash: str,
                      labels: list[str]) -> tuple[ModelVersion, TrainingRun] | None:
    """The stored (not deleted) version, and its run, trained on this very snapshot (`snapshot_hash` and
    the dataset's `labels`, in order) with this very configuration; None when no version holds that model.
    Reads the dataset's versions' runs with this snapshot hash: a handful of rows."""
    rows = session.execute(
        select(ModelVersion, TrainingRun).join(TrainingRun, TrainingRun.id == ModelVersion.run_id)
        .where(ModelVersion.dataset_id == ds.id, ModelVersion.status != "deleted",
               TrainingRun.snapshot_hash == snapshot_hash, TrainingRun.status == "succeeded")
        .order_by(ModelVersion.id.desc())).all()
    wanted = _canonical(config)
    for version, run in rows:
        if _canonical(run.config) == wanted and list((run.snapshot or {}).get("labels") or []) == list(labels):
            return version, run
    return None


# --- model versions ----------------------------------------------------------------------------


def versions(session: Session, ds: Dataset, *, include_deleted: bool = False) -> list[ModelVersion]:
    q = select(ModelVersion).where(ModelVersion.dataset_id == ds.id)
    if not include_deleted:
        q = q.where(ModelVersion.status != "deleted")
    return list(session.scalars(q.order_by(ModelVersion.id.desc())))


def active_version(session: Session, ds: Dataset) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.dataset_id == ds.id,
                                                      ModelVersion.status == "active")).first()


def find_version(session: Session, ds: Dataset, version: str) -> ModelVersion | None:
    """The row of `version` whatever its status (deleted included), or None."""
    return session.scalars(select(ModelVersion).where(ModelVersion.dataset_id == ds.id,
                                                      ModelVersion.version == version)).first()


def get_version(session: Session, ds: Dataset, version: str) -> ModelVersion:
    v = find_version(session, ds, version)
    if v is None or v.status == "deleted":
        known = ", ".join(x.version for x in versions(session, ds)) or "none yet"
        raise NotFoundError(f"{ds.name!r} has no model version {version!r}; versions: {known}")
    return v


def activate(session: Session, ds: Dataset, v: ModelVersion, reason: str) -> None:
    """Make `v` the one active version of its dataset; the one it replaces becomes 'previous', and its
    reason says so (its old "activated because…" would no longer be true)."""
    now = utcnow()
    for other in versions(session, ds):
        if other.status == "active" and other.id != v.id:
            other.status = "previous"
            other.reason = f"was active until {_iso(now)}, replaced by {v.version}"
    v.status, v.activated_at, v.reason = "active", now, reason
    session.flush()


def add_version(session: Session, ds: Dataset, version: str, base_model: str, metrics: dict[str, Any], *,
                run_id: int | None = None) -> ModelVersion:
    """Record a new version as a candidate (whether it goes live is the caller's rule); `run_id`: the run
    that trained it, None when unknown (a version found on disk)."""
    v = ModelVersion(dataset_id=ds.id, version=version, run_id=run_id, status="candidate", base_model=base_model,
                     metrics=metrics, reason="")
    session.add(v)
    session.flush()
    return v


def delete_version(session: Session, ds: Dataset, v: ModelVersion) -> None:
    if v.status == "active":
        raise InvalidInputError(f"{v.version} is active; activate another version before deleting it")
    v.status = "deleted"
    session.flush()

"""Model versions: list, activate (manual = forced), rollback, delete, download, evaluate."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ftdemo.errors import InvalidInputError, NotFoundError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import TrainingRun
from ftdemo.tasks import TaskType

log = logging.getLogger(__name__)


def prune_plan(versions: list[Any], keep: int) -> tuple[list[str], list[Any]]:
    """Which versions (newest first, deleted ones left out) a prune keeps: the active one, the previously
    active one (the latest activated among the others) and the newest `keep`; (kept names, the others)."""
    keep_ids = {v.id for v in versions[:keep]}
    keep_ids |= {v.id for v in versions if v.status == "active"}
    earlier = [v for v in versions if v.status != "active" and v.activated_at is not None]
    if earlier:
        keep_ids.add(max(earlier, key=lambda v: v.activated_at).id)
    return [v.version for v in versions if v.id in keep_ids], [v for v in versions if v.id not in keep_ids]


class ModelService(Service):
    @property
    def registry(self) -> Any:
        from ftdemo.models.registry import Registry

        return Registry(self.settings.models_dir, clean=False)

    def list(self, dataset: str) -> list[dict[str, Any]]:
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            out = [run_repo.version_dict(v) for v in run_repo.versions(s, ds)]
        reg = self.registry
        disk_mb = self.disk_usage_mb(dataset) if out else 0.0
        for item in out:
            path = self._path_or_none(reg, dataset, item["version"])
            item["path"] = str(path) if path else None
            item["size_mb"] = round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1) if path else None
            item["dataset_disk_mb"] = disk_mb  # every version of the dataset together (the same on each row)
        return out

    def reconcile(self) -> list[str]:
        """Register versions found on disk without a row (a crash between the version's atomic rename
        and its row, or a copy from a backup) as candidates; returns "dataset/version" for each.

        Never activates them (the guard never saw them) and never deletes files: the admin decides."""
        from ftdemo.models.registry import read_metadata

        found: list[str] = []
        with self.db.write() as s:
            for ds in repo.list_datasets(s):
                known = {v.version for v in run_repo.versions(s, ds, include_deleted=True)}
                try:
                    on_disk = self.registry.list(ds.name)
                except InvalidInputError:  # a name the registry cannot hold has no versions on disk
                    continue
                for info in on_disk:
                    if info.name in known:
                        continue
                    try:
                        meta = read_metadata(info.path)
                    except InvalidInputError:
                        log.warning("model version %s/%s has unreadable metadata; left unregistered", ds.name,
                                    info.name)
                        continue
                    run_id = meta.get("run_id")
                    run = repo.get_by_id(s, TrainingRun, run_id) if isinstance(run_id, int) else None
                    v = run_repo.add_version(s, ds, info.name, str(meta.get("base_model", "")),
                                             meta.get("metrics") or {},
                                             run_id=run.id if run is not None and run.dataset_id == ds.id else None)
                    v.reason = ("found on disk at start-up without a record (its training process stopped before "
                                "recording it); kept as a candidate: activate it by hand to use it")
                    found.append(f"{ds.name}/{info.name}")
        for item in found:
            log.warning("registered model version %s, found on disk without a record, as a candidate", item)
        return found

    def disk_usage_mb(self, dataset: str) -> float:
        return round(self.registry.disk_usage(dataset) / 2**20, 1)

    def active(self, dataset: str) -> dict[str, Any] | None:
        """The active version with its directory, or None when the dataset has no model yet."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            v = run_repo.active_version(s, ds)
            if v is None:
                return None
            item = run_repo.version_dict(v)
        item["path"] = str(self.registry.path(dataset, item["version"]))
        return item

    def trained_ids(self, dataset: str, version: str) -> frozenset[int] | None:
        """The example ids whose labels `version`'s weights learned (training.splits.trained_ids over its
        run's snapshot); None when no run of this dataset says (a version found on disk, its run deleted)."""
        from ftdemo.training.splits import trained_ids

        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            v = run_repo.get_version(s, ds, version)
            run = repo.get_by_id(s, TrainingRun, v.run_id) if v.run_id is not None else None
            if run is None or run.dataset_id != ds.id or run.kind != "finetune":
                return None
            return trained_ids(run.snapshot or {}, run.config or {}, TaskType(ds.task))

    def path(self, dataset: str, version: str | None = None) -> tuple[str, Path]:
        """(version name, directory) of `version`, or of the active version when None."""
        if version is None:
            active = self.active(dataset)
            if active is None:
                raise NotFoundError(f"{dataset!r} has no active model yet; train one first "
                                    f"(`python -m ftdemo train {dataset}` or the Train tab)")
            return active["version"], Path(active["path"])
        with self.db.read() as s:
            v = run_repo.get_version(s, repo.get_dataset(s, dataset), version)
            name = v.version
        return name, self.registry.path(dataset, name)

    def activate(self, dataset: str, version: str, *, actor: Actor) -> dict[str, Any]:
        """Manual activation is deliberate, so it bypasses the guard (the reason says so)."""
        require_admin(actor, "activate model versions")
        self.registry.path(dataset, version)  # refuses a version whose files are gone
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            v = run_repo.get_version(s, ds, version)
            run_repo.activate(s, ds, v, f"activated by hand by {actor.name}")
            return run_repo.version_dict(v)

    def rollback(self, dataset: str, *, actor: Actor) -> dict[str, Any]:
        """Re-activate the version that was active before the current one."""
        require_admin(actor, "roll back models")
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            current = run_repo.active_version(s, ds)
            earlier = [v for v in run_repo.versions(s, ds) if v.activated_at is not None and v.status != "active"
                       and (current is None or v.activated_at <= current.activated_at)]
            if not earlier:
                raise InvalidInputError(f"{dataset!r} has no earlier active version to roll back to")
            target = max(earlier, key=lambda v: v.activated_at).version
        return self.activate(dataset, target, actor=actor)

    def delete(self, dataset: str, version: str, *, actor: Actor) -> None:
        require_admin(actor, "delete model versions")
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            run_repo.delete_version(s, ds, run_repo.get_version(s, ds, version))
        try:
            self.registry.delete(dataset, version)
        except NotFoundError:
            pass  # files already gone: the row is what mattered

    def prune(self, dataset: str, keep: int, *, actor: Actor) -> dict[str, Any]:
        """Delete every version of the dataset but the active one, the previously active one (what rollback
        goes back to) and the newest `keep`; their rows are marked deleted and their files removed. Returns
        {kept, deleted, freed_mb, disk_mb}. Admins only."""
        require_admin(actor, "delete model versions")
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InvalidInputError(f"keep must be a whole number of recent versions to keep (0 or more); got {keep!r}")
        before = self.disk_usage_mb(dataset)
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            kept, doomed = prune_plan(run_repo.versions(s, ds), keep)
            for v in doomed:
                run_repo.delete_version(s, ds, v)
            deleted = [v.version for v in doomed]
        for name in deleted:  # the rows first: a version whose files are going must not be loaded meanwhile
            try:
                self.registry.delete(dataset, name)
            except NotFoundError:
                pass  # files already gone: the row is what mattered
        after = self.disk_usage_mb(dataset)
        log.info("pruned %d model version(s) of %r (%s), freed %.1f MB", len(deleted), dataset,
                 ", ".join(deleted) or "none", before - after)
        return {"dataset": dataset, "kept": kept, "deleted": deleted, "freed_mb": round(before - after, 1),
                "disk_mb": after}

    def zip(self, dataset: str, version: str, dest_dir: Path) -> Path:
        name, _ = self.path(dataset, version)
        dest_dir.mkdir(parents=True, exist_ok=True)
        return self.registry.zip(dataset, name, dest_dir / f"{dataset}-{name}.zip")

    def evaluate(self, dataset: str, path: str | Path, *, version: str | None = None, text_col: str | None = None,
                 pair_col: str | None = None, label_col: str | None = None) -> dict[str, Any]:
        """Accuracy, macro-F1 and confusion matrix of a version on a labelled file."""
        from ftdemo import io
        from ftdemo.services.transfer import _mapping
        from ftdemo.serving import Predictor
        from ftdemo.training import metrics as M

        name, model_dir = self.path(dataset, version)
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            task, labels = TaskType(ds.task), repo.active_label_names(ds)
        table = io.read_rows(path, max_bytes=None)
        plan = io.plan_import(table, task, labels, _mapping(table.columns, task, text_col, pair_col, label_col),
                              max_text_chars=self.settings.max_text_chars)
        rows = [c for c in plan.valid if c.labels]
        if not rows:
            raise InvalidInputError(f"{Path(path).name} has no labelled rows this dataset knows "
                                    f"({len(plan.errors)} rows had errors); check --label-col")
        predictor = Predictor(model_dir, device=self.settings.serving_device)
        try:
            preds = predictor.predict_many([(c.text, c.text_pair) for c in rows])
        finally:
            predictor.close()
        model_labels = list(predictor.labels)
        probs = np.array([[p.probabilities.get(lab, 0.0) for lab in model_labels] for p in preds])
        if task.is_multi_label:
            y = np.array([[int(lab in c.labels) for lab in model_labels] for c in rows])
            # the predictor already applied the version's tuned thresholds: score its label sets
            chosen = np.array([[1.0 if lab in p.labels else 0.0 for lab in model_labels] for p in preds])
            m = M.multi_label_metrics(y, chosen, model_labels, [0.5] * len(model_labels))
        else:
            unknown = {c.labels[0] for c in rows} - set(model_labels)
            if unknown:
                raise InvalidInputError(f"{name} was trained without label(s) {', '.join(sorted(unknown))}; "
                                        "train a new version first")
            m = M.single_label_metrics([model_labels.index(c.labels[0]) for c in rows], probs, model_labels)
        return {"dataset": dataset, "version": name, "n": m["n"], "accuracy": m["accuracy"],
                "macro_f1": m["macro_f1"], "confusion_matrix": m["confusion_matrix"], "labels": model_labels,
                "per_class": m.get("per_class", {}), "skipped_rows": len(plan.errors) + len(plan.valid) - len(rows)}

    @staticmethod
    def _path_or_none(reg: Any, dataset: str, version: str) -> Path | None:
        try:
            return reg.path(dataset, version)
        except Exception:  # noqa: BLE001 - a listing shows missing files as None
            return None

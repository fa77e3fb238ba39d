"""Datasets, their label sets, and statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.store import repo
from ftdemo.tasks import TaskType, clean_text_name, text_names


@dataclass
class DatasetInfo:
    name: str
    task: str
    labels: list[str]  # active labels, in order
    retired_labels: list[str]
    examples: int
    labelled: int
    description: str = ""
    created_at: str = ""
    text_name: str = "Text"  # what the texts are called (pairs: Premise / Hypothesis unless named otherwise)
    pair_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Stats:
    dataset: str
    task: str
    examples: int
    labelled: int
    unlabelled: int
    label_counts: dict[str, int]
    annotators: dict[str, int] = field(default_factory=dict)  # current labels per annotator
    multi_annotated: int = 0  # examples with ≥2 annotators
    conflicts: int = 0  # of those, examples where annotators disagree
    agreement: float | None = None  # mean agreement over multi-annotated examples

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditStatus:
    """A dataset's audit sample: the share of examples reserved for evaluation (0: none), how many examples
    are in it, how many of those are labelled, and how many examples are labelled in all."""

    dataset: str
    share: float
    examples: int
    labelled: int
    labelled_total: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if not self.share:
            return "no audit sample: every labelled example can be trained on"
        return (f"audit sample: {100 * self.share:g}% of the examples ({self.examples}), {self.labelled} of them "
                f"labelled ({self.labelled_total} labelled in all); kept out of training and of the model's "
                "orders, and used to report each model's accuracy")


MAX_AUDIT_SHARE = 0.5  # the rest must leave enough to train on
LABEL_ACTIONS = ("add", "rename", "retire")


@dataclass(frozen=True)
class LabelEdit:
    """One change to a label set: add `label`, rename `label` to `new`, or retire `label` (history is kept)."""

    action: str  # one of LABEL_ACTIONS
    label: str
    new: str = ""

    def describe(self) -> str:
        return f"rename {self.label!r} to {self.new!r}" if self.action == "rename" else f"{self.action} {self.label!r}"


def _apply(s: Any, ds: Any, edit: LabelEdit) -> None:
    if edit.action == "add":
        repo.add_label(s, ds, edit.label)
    elif edit.action == "rename":
        repo.rename_label(s, ds, edit.label, edit.new)
    elif edit.action == "retire":
        repo.retire_label(s, ds, edit.label)
    else:
        raise InvalidInputError(f"unknown label edit {edit.action!r}; use {', '.join(LABEL_ACTIONS[:-1])} or "
                                f"{LABEL_ACTIONS[-1]}")


class DatasetService(Service):
    def create(self, name: str, task: str | TaskType, labels: list[str] | str, *, actor: Actor,
               description: str = "", text_name: str = "", pair_name: str = "") -> DatasetInfo:
        """A new dataset; `text_name` / `pair_name` say what its texts are called ("" = the task's default)."""
        require_admin(actor, "create datasets")
        text_name, pair_name = clean_text_name(text_name), clean_text_name(pair_name)
        with self.db.write() as s:
            ds = repo.create_dataset(s, name, TaskType.parse(task), labels if isinstance(labels, list) else labels.split(","),
                                     created_by=actor.name, description=description)
            ds.text_name, ds.pair_name = text_name, pair_name if TaskType.parse(task).has_pair else ""
            return self._info(s, ds)

    def list(self) -> list[DatasetInfo]:
        with self.db.read() as s:
            return [self._info(s, ds) for ds in repo.list_datasets(s)]

    def names(self) -> list[str]:
        with self.db.read() as s:
            return [ds.name for ds in repo.list_datasets(s)]

    def info(self, name: str) -> DatasetInfo:
        with self.db.read() as s:
            return self._info(s, repo.get_dataset(s, name))

    def edit_labels(self, name: str, edits: Sequence[LabelEdit], *, actor: Actor) -> DatasetInfo:
        """Apply label edits in order, in one transaction: all of them or, if one fails, none. A later
        edit sees the earlier ones (rename a to z, then add a). The error names the edit that failed."""
        require_admin(actor, "edit labels")
        with self.db.write() as s:
            ds = repo.get_dataset(s, name)
            for number, edit in enumerate(edits, 1):
                try:
                    _apply(s, ds, edit)
                except FtdemoError as err:
                    if len(edits) == 1:
                        raise
                    raise type(err)(f"edit {number} of {len(edits)} ({edit.describe()}) failed: {err}; "
                                    "no label was changed") from None
            return self._info(s, ds)

    def add_label(self, name: str, label: str, *, actor: Actor) -> DatasetInfo:
        return self.edit_labels(name, [LabelEdit("add", label)], actor=actor)

    def rename_label(self, name: str, old: str, new: str, *, actor: Actor) -> DatasetInfo:
        return self.edit_labels(name, [LabelEdit("rename", old, new)], actor=actor)

    def retire_label(self, name: str, label: str, *, actor: Actor) -> DatasetInfo:
        return self.edit_labels(name, [LabelEdit("retire", label)], actor=actor)

    def stats(self, name: str) -> Stats:
        """Counts from the running totals the store keeps (a handful of rows, whatever the dataset's size)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, name)
            totals = repo.dataset_stats(s, ds)
            multi = int(totals.multi_annotated)
            return Stats(
                dataset=ds.name, task=ds.task, examples=int(totals.examples), labelled=int(totals.labelled),
                unlabelled=int(totals.examples - totals.labelled), label_counts=repo.label_counts(s, ds),
                annotators=repo.annotator_counts(s, ds), multi_annotated=multi, conflicts=int(totals.conflicts),
                agreement=round(float(totals.agreement_sum) / multi, 4) if multi else None,
            )

    def audit(self, name: str) -> AuditStatus:
        """The dataset's audit sample (Dataset.audit_share; services.queue hands it out, training leaves it out)."""
        from ftdemo.services.queue import audit_counts

        with self.db.read() as s:
            ds = repo.get_dataset(s, name)
            examples, labelled, total = audit_counts(s, ds)
            return AuditStatus(ds.name, float(ds.audit_share or 0.0), examples, labelled, total)

    def set_audit_share(self, name: str, share: float, *, actor: Actor) -> AuditStatus:
        """Reserve a random `share` of the dataset's examples (by a salted hash of their id) for evaluation:
        never trained on, never picked by the model-ranked queue orders but handed out at random as labels
        come in, and each new model version's accuracy on the labelled ones is reported. 0 turns it off.
        Admins only. Changing it moves examples in or out of the sample (a hash below the new cut)."""
        require_admin(actor, "change a dataset's audit sample")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= MAX_AUDIT_SHARE:
            raise InvalidInputError(f"the audit share must be a number from 0 (none) to {MAX_AUDIT_SHARE} "
                                    f"(e.g. 0.1 for 10% of the examples); got {share!r}")
        with self.db.write() as s:
            repo.get_dataset(s, name).audit_share = float(share)
        return self.audit(name)

    def rebuild(self, name: str | None = None, *, actor: Actor, check_only: bool = False) -> dict[str, list[str]]:
        """Recompute the current labels and totals of a dataset (or all) from the annotation history, or
        (check_only) compare what is stored with what that gives. Returns, per dataset, the derived tables
        that differed ([] = all agreed); after a rebuild they agree again."""
        require_admin(actor, "rebuild derived data")
        from ftdemo.store import derived

        with self.db.read() as s:
            names = [repo.get_dataset(s, name).name] if name else [ds.name for ds in repo.list_datasets(s)]
        out = {}
        for dataset in names:  # one transaction per dataset: labellers of the others are not held up
            with self.db.write() as s:
                ds = repo.get_dataset(s, dataset)
                out[dataset] = derived.check(s, ds)
                if not check_only and out[dataset]:
                    derived.rebuild(s, ds)
        return out

    @staticmethod
    def _info(s: Any, ds: Any) -> DatasetInfo:
        total, labelled = repo.count_examples(s, ds)
        text_name, pair_name = text_names(ds.task, ds.text_name, ds.pair_name)
        return DatasetInfo(name=ds.name, task=ds.task, labels=repo.active_label_names(ds),
                           retired_labels=[l.name for l in ds.labels if l.retired], examples=total, labelled=labelled,
                           description=ds.description, created_at=ds.created_at.isoformat(timespec="seconds"),
                           text_name=text_name, pair_name=pair_name)

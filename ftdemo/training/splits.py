"""Deterministic, stable, stratified train / validation / test splits.

The rule, and why it is sound:

1. **Hash bucket.** Each example gets a number u in [0, 1) from a salted hash of its id
   alone: u < test_fraction → test, u < test_fraction + val_fraction → validation,
   else train. The assignment of an example never depends on any other example, so
   labelling more data never moves an example that is already placed, and the test
   split never leaks into training from one model version to the next. The label is
   deliberately *not* hashed: relabelling an example must not move it between splits.
2. **Stratified in expectation.** Ids are assigned independently of labels, so every
   class lands in each split with the same expected share; for large classes the
   binomial deviation is small (±√n).
3. **Small-class repair.** For small classes chance can leave a split without the class,
   so three deterministic repairs run in order, each moving the example whose hash
   sits nearest the target bucket: (a) every label keeps at least one training
   example; (b) every label with at least 3 examples gets one validation example (so
   macro-F1 on validation sees it), taken from whichever of train/test holds more of
   it; (c) validation is never empty. Repairs only act while a class is too small for
   its hash buckets to satisfy them; once it has grown, all its examples sit in their
   hash buckets — and stay there.

Labels with fewer than 2 examples (positives, for multi-label) are refused with an
InvalidInputError that names them: one example cannot be both learned from and checked.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType

SPLITS = ("train", "validation", "test")
MIN_PER_LABEL = 2
# the fine-tune check (crossfit.py): how many fine-tunes by default and at most; here, not there, so the
# service and the UI read them without importing torch
DEFAULT_FOLDS, MAX_FOLDS = 5, 10
_SALT = b"ftdemo-split-v1:"


@dataclass(frozen=True)
class Splits:
    """Examples of each split, in input order."""

    train: list[LabelledText]
    validation: list[LabelledText]
    test: list[LabelledText]

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}

    def assignment(self) -> dict[int, str]:
        """example id → split name."""
        return {ex.id: name for name in SPLITS for ex in getattr(self, name)}


def unit_hash(example_id: int) -> float:
    """A uniform number in [0, 1) determined by the example id alone (salted blake2b)."""
    digest = hashlib.blake2b(_SALT + str(int(example_id)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def hash_split(example_id: int, val_fraction: float, test_fraction: float) -> str:
    """The split an example belongs to before any small-class repair."""
    u = unit_hash(example_id)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "validation"
    return "train"


def check_examples(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType | str) -> None:
    """Refuse input training cannot use, with a message that says what to fix."""
    task = TaskType.parse(task)
    if len(set(labels)) != len(labels) or len(labels) < (1 if task.is_multi_label else 2):
        raise InvalidInputError(
            f"training needs {'at least one label' if task.is_multi_label else 'at least two distinct labels'}, "
            f"got: {', '.join(labels) or '(none)'}"
        )
    known = set(labels)
    seen: set[int] = set()
    for ex in examples:
        if ex.id in seen:
            raise InvalidInputError(f"example id {ex.id} appears twice in the training snapshot")
        seen.add(ex.id)
        unknown = [lab for lab in ex.labels if lab not in known]
        if unknown:
            raise InvalidInputError(f"example {ex.id}: label {unknown[0]!r} is not one of: {', '.join(labels)}")
        if not task.is_multi_label and len(ex.labels) != 1:
            raise InvalidInputError(f"example {ex.id}: a {task.value} example needs exactly one label, got {len(ex.labels)}")
        if task.has_pair and not (ex.text_pair or "").strip():
            raise InvalidInputError(f"example {ex.id}: a pair example needs a second text (text_pair)")
    counts = Counter(lab for ex in examples for lab in ex.labels)
    short = [lab for lab in labels if counts[lab] < MIN_PER_LABEL]
    if short:
        detail = ", ".join(f"{lab} ({counts[lab]})" for lab in short)
        raise InvalidInputError(
            f"each label needs at least {MIN_PER_LABEL} labelled examples to train; label more examples for: {detail}"
        )


def make_splits(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType | str, *,
                val_fraction: float = 0.1, test_fraction: float = 0.1) -> Splits:
    """Assign every example to train / validation / test (see the module docstring for the rules)."""
    check_examples(examples, labels, task)
    u = {ex.id: unit_hash(ex.id) for ex in examples}
    where = {ex.id: hash_split(ex.id, val_fraction, test_fraction) for ex in examples}
    members = {lab: [ex for ex in examples if lab in ex.labels] for lab in labels}

    def count(lab: str, split: str) -> int:
        return sum(where[ex.id] == split for ex in members[lab])

    def can_leave_train(ex: LabelledText) -> bool:  # moving it keeps every one of its labels in train
        return all(count(lab, "train") >= 2 for lab in ex.labels)

    # (a) every label keeps a training example: pull back the member whose hash is nearest train
    for lab in labels:
        if count(lab, "train") == 0:
            ex = max(members[lab], key=lambda e: u[e.id])
            where[ex.id] = "train"
    # (b) every label with >= 3 examples gets a validation example
    for lab in labels:
        if len(members[lab]) < 3 or count(lab, "validation") > 0:
            continue
        from_test = [ex for ex in members[lab] if where[ex.id] == "test"]
        from_train = [ex for ex in members[lab] if where[ex.id] == "train" and can_leave_train(ex)]
        pool = from_test if len(from_test) >= len(from_train) else from_train
        if pool:  # nearest the validation bucket: highest u in test, lowest u in train
            ex = max(pool, key=lambda e: u[e.id]) if pool is from_test else min(pool, key=lambda e: u[e.id])
            where[ex.id] = "validation"
    # (c) validation is never empty
    if not any(split == "validation" for split in where.values()):
        movable = [ex for ex in examples if where[ex.id] == "train" and can_leave_train(ex)]
        tested = [ex for ex in examples if where[ex.id] == "test"]
        if movable:
            where[min(movable, key=lambda e: u[e.id]).id] = "validation"
        elif tested:
            where[max(tested, key=lambda e: u[e.id]).id] = "validation"
        else:
            raise InvalidInputError("too few examples to hold one out for validation; label a few more examples")
    return Splits(*([ex for ex in examples if where[ex.id] == name] for name in SPLITS))


def trained_ids(snapshot: Mapping[str, Any], config: Mapping[str, Any], task: TaskType | str) -> frozenset[int] | None:
    """The example ids whose labels a fine-tune run's weights learned, from the run's frozen `snapshot`
    ("items": [[id, [label, ...]], ...], "labels", and with self-training "pool") and its `config`: the train
    split of the items, split as the run split them, and the unlabelled pool, which self-training may have
    pseudo-labelled. Every other example (validation, test, audit, labelled since) is a fair test of those
    weights. None when the snapshot does not say (no items, or a split the run could not have made)."""
    items = snapshot.get("items") if isinstance(snapshot, Mapping) else None
    labels = snapshot.get("labels") if isinstance(snapshot, Mapping) else None
    if not items or not labels:
        return None
    try:
        examples = [LabelledText(int(i), "", None, tuple(str(x) for x in names)) for i, names in items]
        split = make_splits(examples, [str(x) for x in labels], task,
                            val_fraction=float(config.get("val_fraction", 0.1)),
                            test_fraction=float(config.get("test_fraction", 0.1)))
    except (InvalidInputError, TypeError, ValueError):
        return None
    pool = (snapshot.get("pool") or []) if int(config.get("self_training_rounds") or 0) else []
    return frozenset(ex.id for ex in split.train) | frozenset(int(i) for i in pool)


def fold_splits(Y: np.ndarray, *, task: TaskType | str, seed: int = 0,
                max_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, held-out rows) of each fold; [] when fewer than 2 folds are possible.

    Folds: up to `max_folds`, no more than the smallest class has examples (single-label, pair: stratified,
    every fold must see every class), or positives of the rarest occurring label (multi-label). Every
    out-of-fold model (the instant model, the word model, the fine-tune check) splits this way."""
    from sklearn.model_selection import KFold, StratifiedKFold

    task = TaskType.parse(task)
    Y = np.asarray(Y)
    n = len(Y)
    if task.is_multi_label:
        positives = Y.sum(axis=0) if n else np.zeros(0)
        occurring = positives[positives > 0]
        folds = int(min(max_folds, occurring.min() if len(occurring) else 0, n))
        if folds < 2:
            return []
        return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(n)))
    counts = np.bincount(Y.astype(int)) if n else np.zeros(0, dtype=int)
    counts = counts[counts > 0]
    folds = int(min(max_folds, counts.min())) if len(counts) > 1 else 0
    if folds < 2:
        return []
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(n), Y.astype(int)))


def targets(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType) -> np.ndarray:
    """The examples' labels as models take them: (n,) label indices, or (n, L) 0/1 for multi-label (a label
    not in `labels` is left out)."""
    index = {lab: j for j, lab in enumerate(labels)}
    if task.is_multi_label:
        out = np.zeros((len(examples), len(labels)), dtype=np.int64)
        for r, ex in enumerate(examples):
            out[r, [index[n] for n in ex.labels if n in index]] = 1
        return out
    return np.array([index[ex.labels[0]] for ex in examples], dtype=np.int64)

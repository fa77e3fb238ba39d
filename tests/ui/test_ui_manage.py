"""Creating datasets and editing labels from the Data tab; admins only."""

from __future__ import annotations

import pytest

from ftdemo.errors import AlreadyExistsError, InvalidInputError, PermissionDeniedError
from ftdemo.ui.manage_panel import create_dataset, edit_labels, set_audit_percent, set_retrain_every


def test_admin_creates_a_dataset(services, admin) -> None:
    info = create_dataset(services, " news ", "multi_label", "sports, politics", "headlines", admin)
    assert (info.name, info.task, info.labels) == ("news", "multi_label", ["sports", "politics"])


def test_annotator_cannot_create(services, annotator) -> None:
    with pytest.raises(PermissionDeniedError, match="only an admin can create datasets"):
        create_dataset(services, "news", "single_label", "a,b", "", annotator)
    assert services.datasets.names() == []


@pytest.mark.parametrize(("name", "task", "labels", "error"), [
    ("x", "single_label", "only", InvalidInputError),
    ("", "single_label", "a,b", InvalidInputError),
    ("x", "ranking", "a,b", InvalidInputError),
    ("x", "single_label", "a|b,c", InvalidInputError),
])
def test_bad_dataset_input_is_refused(services, admin, name, task, labels, error) -> None:
    with pytest.raises(error):
        create_dataset(services, name, task, labels, "", admin)


def test_duplicate_dataset_name(services, reviews, admin) -> None:
    with pytest.raises(AlreadyExistsError, match="already exists"):
        create_dataset(services, reviews, "single_label", "a,b", "", admin)


def test_add_rename_retire_labels(services, reviews, admin) -> None:
    services.annotate.label(reviews, 1, ["neu"], actor=admin)
    info, note = edit_labels(services, reviews, "add", admin, new_name="mixed")
    assert info.labels == ["pos", "neg", "neu", "mixed"] and "added" in note
    info, _ = edit_labels(services, reviews, "rename", admin, label="neu", new_name="neutral")
    assert "neutral" in info.labels
    assert services.annotate.get(reviews, 1).labels == ["neutral"]  # the annotation followed the rename
    info, note = edit_labels(services, reviews, "retire", admin, label="mixed")
    assert info.retired_labels == ["mixed"] and "retired" in note


def test_label_edits_need_input_and_an_admin(services, reviews, admin, annotator) -> None:
    with pytest.raises(InvalidInputError, match="type the new label"):
        edit_labels(services, reviews, "add", admin)
    with pytest.raises(InvalidInputError, match="choose the label"):
        edit_labels(services, reviews, "retire", admin)
    with pytest.raises(InvalidInputError, match="choose a dataset"):
        edit_labels(services, None, "add", admin, new_name="x")
    with pytest.raises(PermissionDeniedError, match="only an admin can edit labels"):
        edit_labels(services, reviews, "add", annotator, new_name="x")


def test_admin_sets_when_a_dataset_fine_tunes_automatically(services, reviews, admin, annotator) -> None:
    status, note = set_retrain_every(services, reviews, 50.0, admin)
    assert (status.every, status.default) == (50, False) and "after every 50 new labels" in note
    status, note = set_retrain_every(services, reviews, 0, admin)
    assert status.every == 0 and "no automatic fine-tunes" in note
    status, _ = set_retrain_every(services, reviews, None, admin)
    assert status.default  # back to the app's default (off in the tests' settings)
    with pytest.raises(InvalidInputError, match="whole number"):
        set_retrain_every(services, reviews, 2.5, admin)
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        set_retrain_every(services, reviews, 10, annotator)


def test_admin_sets_the_audit_sample_in_percent(services, reviews, admin, annotator) -> None:
    status, note = set_audit_percent(services, reviews, 10, admin)
    assert status.share == 0.1 and note.startswith("audit sample: 10% of the examples")
    status, note = set_audit_percent(services, reviews, None, admin)
    assert status.share == 0 and note.startswith("no audit sample")
    with pytest.raises(InvalidInputError, match="percentage from 0 to 50"):
        set_audit_percent(services, reviews, 80, admin)
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        set_audit_percent(services, reviews, 10, annotator)

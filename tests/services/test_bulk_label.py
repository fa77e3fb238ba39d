"""Bulk labelling: one row per example under one batch id, undone as one step, derived state kept right."""

import pytest
from sqlalchemy import select

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor
from ftdemo.services.annotate import MAX_BULK
from ftdemo.store import derived, repo
from ftdemo.store.schema import Annotation

ADA = Actor("ada")


@pytest.fixture
def ids(services):
    services.datasets.create("b", "single_label", "pos,neg,neu", actor=ADA)
    with services.db.write() as s:
        return repo.add_examples(s, repo.get_dataset(s, "b"), [repo.NewExample(f"text {i}") for i in range(30)],
                                 created_by="t")


def _labels(services, ids):
    return {i: services.annotate.get("b", i, with_history=False).labels for i in ids}


def _check(services):
    with services.db.write() as s:
        return derived.check(s, repo.get_dataset(s, "b"))


def test_bulk_label_then_undo_restores_every_example(services, ids):
    bob = Actor("bob", "annotator")
    services.annotate.label("b", ids[0], "neg", actor=ADA)  # earlier labels of ada: put back by the undo
    services.annotate.label("b", ids[1], "pos", actor=ADA)  # already what the bulk action gives: unchanged
    services.annotate.skip("b", ids[2], actor=ADA)
    services.annotate.label("b", ids[3], "neu", actor=bob)  # another annotator's label: never touched
    before, stats_before = _labels(services, ids), services.datasets.stats("b")
    with services.db.read() as s:
        history_before = repo.history(s, repo.get_dataset(s, "b"), ids)

    result = services.annotate.label_many("b", ids[:20] + [ids[0]], ["pos"], actor=ADA, origin="api")
    assert (result.labelled, result.unchanged, result.missing, result.deleted) == (19, 1, [], [])
    assert all(labels == ["pos"] for labels in _labels(services, ids[:3]).values())
    assert services.datasets.stats("b").label_counts["pos"] == 20
    with services.db.read() as s:
        rows = s.scalars(select(Annotation).where(Annotation.batch == result.batch)).all()
    assert len(rows) == 19 and {r.origin for r in rows} == {"api"}
    assert _check(services) == []

    undone = services.annotate.undo("b", actor=ADA)
    assert undone.examples == 19 and "on 19 examples" in undone.action
    assert _labels(services, ids) == before
    after = services.datasets.stats("b")
    assert (after.labelled, after.label_counts, after.annotators) == (stats_before.labelled, stats_before.label_counts,
                                                                      stats_before.annotators)
    assert _check(services) == []
    # the undo is one more step of history per example, and a second undo goes on to ada's action before it
    with services.db.read() as s:
        history = repo.history(s, repo.get_dataset(s, "b"), ids)
    assert all(len(history[i]) == len(history_before.get(i, [])) + 2 for i in ids[:20] if i != ids[1])
    assert services.annotate.undo("b", actor=ADA).example.id == ids[2]  # the skip


def test_missing_and_deleted_ids_are_reported_and_left_alone(services, ids):
    services.annotate.delete("b", ids[5], actor=ADA)
    result = services.annotate.label_many("b", [ids[4], ids[5], 999_999, -3], "neg", actor=ADA)
    assert (result.labelled, result.missing, result.deleted) == (1, [999_999, -3], [ids[5]])
    assert "2 not in the dataset" in result.message and "1 deleted" in result.message
    assert _check(services) == []


def test_bulk_label_is_bounded_and_checks_its_labels(services, ids):
    with pytest.raises(InvalidInputError, match=f"at most {MAX_BULK}"):
        services.annotate.label_many("b", range(1, MAX_BULK + 2), "pos", actor=ADA)
    with pytest.raises(InvalidInputError, match="at least one example"):
        services.annotate.label_many("b", [], "pos", actor=ADA)
    with pytest.raises(InvalidInputError, match="not in this dataset's labels"):
        services.annotate.label_many("b", ids[:2], "posi", actor=ADA)
    with pytest.raises(InvalidInputError):
        services.annotate.label_many("b", ids[:2], "pos,neg", actor=ADA)  # single-label: one label each


def test_nothing_new_writes_no_batch(services, ids):
    services.annotate.label_many("b", ids[:3], "pos", actor=ADA)
    again = services.annotate.label_many("b", ids[:3], "pos", actor=ADA)
    assert (again.batch, again.labelled, again.unchanged) == (None, 0, 3)


def test_suggestions_shown_in_a_bulk_list_are_recorded_per_row_and_leave_the_rate_with_the_undo(services, ids):
    shown = {ids[0]: repo.Shown(("pos",), "instant"), ids[1]: repo.Shown(("neg",), "v0002"),
             ids[2]: repo.Shown(("pos",), "instant"), ids[9]: repo.Shown(("neu",), "instant")}  # ids[9]: not labelled
    services.annotate.label("b", ids[2], "pos", actor=ADA)  # already so: no new row, nothing recorded for it
    result = services.annotate.label_many("b", ids[:4], ["pos"], actor=ADA, origin="label", shown=shown)
    assert (result.labelled, result.unchanged) == (3, 1)
    with services.db.read() as s:
        rows = {r.example_id: r for r in s.scalars(select(Annotation).where(Annotation.batch == result.batch))}
    assert {i: (r.suggested, r.suggestion_model, r.suggestion_outcome) for i, r in rows.items()} == {
        ids[0]: (["pos"], "instant", "accepted"), ids[1]: (["neg"], "v0002", "changed"), ids[3]: (None, "", "")}
    rates = {row["model"]: (row["shown"], row["accepted"], row["changed"]) for row in services.annotate.acceptance("b")}
    assert rates == {"instant": (1, 1, 0), "v0002": (1, 0, 1)}
    with services.db.read() as s:  # the history (and so the exports) carry it, like a single label's
        history = repo.history(s, repo.get_dataset(s, "b"), [ids[1]])
    assert [(h["suggested"], h["suggestion_outcome"]) for h in history[ids[1]]] == [(["neg"], "changed")]
    assert _check(services) == []

    services.annotate.undo("b", actor=ADA)
    assert services.annotate.acceptance("b") == []

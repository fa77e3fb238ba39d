"""Label-error review over a real database and a tiny encoder: the suspects list, and relabel / confirm /
undo as append-only rows."""

from __future__ import annotations

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor, Services
from ftdemo.store import repo
from ftdemo.store.schema import Review

ADA, REVIEWER = Actor("ada"), Actor("rita", "annotator")


@pytest.fixture
def sv(assist_settings):  # type: ignore[no-untyped-def]
    services = Services(assist_settings)
    yield services
    services.close()


def _labelled(sv: Services, n: int = 30) -> list[int]:
    sv.datasets.create("r", "single_label", "pos,neg", actor=ADA)
    with sv.db.write() as s:
        ds = repo.get_dataset(s, "r")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"{'good' if i % 2 else 'bad'} thing number {i}")
                                        for i in range(n)], created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids)], annotator="ada")
    return ids


def _reviews(sv: Services) -> list[tuple[int, str, list[str], int | None]]:
    with sv.db.read() as s:
        return [(r.example_id, r.verdict, r.labels, r.reverts_id) for r in s.query(Review).order_by(Review.id)]


def test_suspects_rest_on_every_labelled_example_and_need_enough_labels(sv: Services) -> None:
    ids = _labelled(sv)
    found = sv.review.suspects("r", wait=True)
    assert (found.labelled, found.checked, found.folds) == (len(ids), len(ids), 5)
    for x in found.suspects:
        assert x.given != x.suggested and x.id in ids and 0 <= x.confidence <= 1
        assert x.history[0]["annotator"] == "ada"  # who labelled it and when, for the Review view
    sv.datasets.create("few", "single_label", "pos,neg", actor=ADA)
    assert "at least 10" in sv.review.suspects("few", wait=True).note


def test_relabel_and_confirm_are_append_only_and_undoable(sv: Services) -> None:
    ids = _labelled(sv, 12)
    target = ids[0]  # labelled neg by ada
    done = sv.review.relabel("r", target, "pos", actor=REVIEWER)
    assert done.example.labels == ["pos"] and "neg → pos" in done.message
    history = sv.annotate.get("r", target).history
    assert [(h["annotator"], h["labels"]) for h in history] == [("ada", ["neg"]), ("rita", ["pos"])]
    assert history[-1]["origin"] == "review"
    undone = sv.review.undo("r", actor=REVIEWER)
    assert undone is not None and undone.example.labels == ["neg"] and "relabel undone" in undone.message
    assert len(sv.annotate.get("r", target).history) == 3  # nothing deleted: the undo is a row too

    sv.review.confirm("r", ids[1], actor=REVIEWER)
    assert sv.review.relabel("r", ids[3], "pos", actor=REVIEWER).message.endswith("confirmed")  # its own label
    assert [v for _, v, _, _ in _reviews(sv)] == ["relabel", "undo", "confirm", "confirm"]
    assert sv.review.undo("r", actor=REVIEWER).message.startswith(f"#{ids[3]}: confirmation undone")
    assert sv.review.undo("r", actor=REVIEWER).message.startswith(f"#{ids[1]}: confirmation undone")
    assert sv.review.undo("r", actor=REVIEWER) is None
    assert [v for _, v, _, _ in _reviews(sv)][-2:] == ["undo", "undo"]


def test_a_confirmed_label_leaves_the_list_until_it_changes(sv: Services) -> None:
    ids = _labelled(sv, 20)
    # plant an obvious disagreement: two "bad" texts labelled pos
    for i in (ids[0], ids[2]):
        sv.annotate.label("r", i, "pos", actor=ADA)
    before = {x.id for x in sv.review.suspects("r", wait=True, limit=None).suspects}
    if not before:
        pytest.skip("the tiny random encoder separated nothing here")
    picked = sorted(before)[0]
    sv.review.confirm("r", picked, actor=REVIEWER)
    assert picked not in {x.id for x in sv.review.suspects("r", limit=None).suspects}
    label = sv.annotate.get("r", picked).labels[0]
    sv.annotate.label("r", picked, "neg" if label == "pos" else "pos", actor=ADA)  # the label changes
    still = {x.id for x in sv.review.suspects("r", limit=None).suspects}
    assert picked not in still or sv.annotate.get("r", picked).labels != [label]


def test_bad_review_input_is_refused_and_writes_nothing(sv: Services) -> None:
    ids = _labelled(sv, 12)
    sv.datasets.create("empty", "single_label", "pos,neg", actor=ADA)
    unlabelled = sv.annotate.add("empty", "no label yet", actor=ADA).id
    with pytest.raises(InvalidInputError, match="no label to confirm"):
        sv.review.confirm("empty", unlabelled, actor=REVIEWER)
    with pytest.raises(InvalidInputError):
        sv.review.relabel("r", ids[0], "maybe", actor=REVIEWER)
    with pytest.raises(InvalidInputError):
        sv.review.suspects("r", limit=0)
    assert _reviews(sv) == []


def test_a_fine_tune_check_joins_the_suspects_for_the_examples_it_held_out(sv: Services, tiny_model_dir) -> None:
    ids = _labelled(sv, 30)
    before = sv.review.suspects("r", wait=True)
    assert before.models == ("instant model (embeddings)", "word model (TF-IDF of words and word pairs)")
    assert before.check_run is None
    fast = {**FAST_TRAIN, "base_model": str(tiny_model_dir), "folds": 3}
    with pytest.raises(PermissionDeniedError, match="only an admin can check labels"):
        sv.training.check("r", fast, actor=REVIEWER)
    with pytest.raises(InvalidInputError, match="folds must be from 2 to 10"):
        sv.training.check_sync("r", {**fast, "folds": 1}, actor=ADA)
    run = sv.training.check_sync("r", fast, actor=ADA)
    assert run["status"] == "succeeded", run["error"]
    assert (run["kind"], run["version"], run["metrics"]["folds"], run["metrics"]["examples"]) == ("check", "", 3, 30)
    assert sv.models.list("r") == []  # a check serves nothing
    after = sv.review.suspects("r", wait=True)
    assert after.check_run == run["id"] and after.to_dict()["check_run"] == run["id"]
    assert after.models[-1] == f"fine-tune check (run {run['id']}: 30 of 30 examples)"
    with sv.db.write() as s:
        ds = repo.get_dataset(s, "r")
        new = repo.add_examples(s, ds, [repo.NewExample(f"good thing number {i}") for i in (98, 99)], created_by="t")
    sv.annotate.label("r", new[0], "pos", actor=ADA)  # one label since the last fine-tune
    again = sv.training.check_sync("r", fast, actor=ADA)  # a check is never refused as a repeat; it counts no labels
    assert again["status"] == "succeeded" and sv.review.suspects("r", wait=True).check_run == again["id"]
    with sv.db.read() as s:
        assert repo.get_dataset(s, "r").labels_since_run == 1  # what retraining counts is left alone
    sv.annotate.label("r", new[1], "pos", actor=ADA)  # labelled after the check: the other two models judge it
    assert sv.review.suspects("r", wait=True).models[-1] == f"fine-tune check (run {again['id']}: 31 of 32 examples)"
    sv.datasets.add_label("r", "meh", actor=ADA)  # the check knows two labels: it no longer fits
    changed = sv.review.suspects("r", wait=True)
    assert changed.check_run is None and "run a check again" in changed.note and ids

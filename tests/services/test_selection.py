"""Honest model selection through the services: the paired activation guard at the end of a real run, and the
audit sample (kept out of training, validation and the model-ranked queue; reported per version)."""

from __future__ import annotations

import re

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.models.compare import PairedComparison
from ftdemo.models.guard import paired_activation
from ftdemo.services import Actor, Services
from ftdemo.services.queue import audit_due
from ftdemo.store import repo
from ftdemo.store.derived import in_audit
from ftdemo.store.schema import TrainingRun
from ftdemo.ui.models_tab import load_models, summary_html, versions_frame

SHARE = 0.25


@pytest.fixture
def keyword(services, admin):  # type: ignore[no-untyped-def]
    """120 labelled examples whose label is decided by a keyword."""
    services.datasets.create("kw", "single_label", "pos,neg", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "kw")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"example {i} is {'good' if i % 2 else 'bad'} stuff")
                                        for i in range(120)], created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids)], annotator="t")
    return ids


def test_runs_are_compared_on_the_same_rows_and_audit_examples_are_left_out(services, admin, keyword,
                                                                             tiny_model_dir):
    assert services.datasets.set_audit_share("kw", SHARE, actor=admin).share == SHARE
    audit = {i for i in keyword if in_audit(i, SHARE)}
    options = {**FAST_TRAIN, "base_model": str(tiny_model_dir)}
    first = services.training.train_sync("kw", options, actor=admin)
    second = services.training.train_sync("kw", {**options, "seed": 7}, actor=admin)
    for run in (first, second):
        assert run["status"] == "succeeded", run["error"]
        assert run["counts"]["examples"] == 120 - len(audit)  # never trained or validated on
    with services.db.read() as s:
        snap = repo.get_by_id(s, TrainingRun, second["id"]).snapshot
    assert not audit & {i for i, _ in snap["items"]} and {i for i, _ in snap["audit"]} == audit
    # the seed does not move the validation split: both runs validate on the same rows
    n_val = first["metrics"]["validation"]["n"]
    assert second["metrics"]["validation"]["n"] == n_val
    assert first["progress"]["decision"] == {"active": True, "reason": "no active model to compare with; activated"}
    comparison = second["metrics"]["comparison"]
    assert comparison["against"] == "v0001" and comparison["n"] == n_val and comparison["score"] == "p_true"
    decision = second["progress"]["decision"]
    words = PairedComparison(**{k: comparison[k] for k in ("difference", "low", "high", "p_value", "n", "level", "test")})
    assert (decision["active"], decision["reason"]) == paired_activation(
        words, services.settings.activation_margin, active_version="v0001", measure="probability of the true label")
    assert decision["reason"].startswith(comparison["words"]) and f"on {n_val} validation examples" in decision["reason"]
    assert comparison["added_labels"] == 0  # the same labels: only a clearly better candidate goes live
    listed = {v["version"]: v for v in services.models.list("kw")}
    assert listed["v0002"]["comparison"] == comparison and listed["v0001"]["comparison"] is None
    for v in listed.values():  # each version's accuracy on the labelled audit examples, with its interval
        assert v["audit"]["n"] == len(audit) and v["audit"]["low"] <= v["audit"]["accuracy"] <= v["audit"]["high"]
    screen = load_models(services, "kw")  # the Models tab reports them
    assert f"audit sample: {len(audit)} labelled of {len(audit)}" in summary_html(screen)
    assert all(re.fullmatch(r"[01]\.\d{3} \([01]\.\d\d–[01]\.\d\d\)", cell)
               for cell in versions_frame(screen.versions)["audit acc."])


def test_a_retrain_on_more_labels_goes_live_unless_clearly_worse(services, admin, tiny_model_dir):
    """Retraining as labels arrive: the candidate has every label of the active version and more, so "not
    clearly different" activates it (runner.added_labels tells the guard); the same labels again would not."""
    options = {**FAST_TRAIN, "base_model": str(tiny_model_dir)}
    services.datasets.create("kw", "single_label", "pos,neg", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "kw")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"example {i} is {'good' if i % 2 else 'bad'} stuff")
                                        for i in range(120)], created_by="t")
        label = lambda part: [(i, ["pos" if i % 2 else "neg"]) for i in part]  # noqa: E731
        repo.add_label_annotations(s, ds, label(ids[:80]), annotator="t")
    first = services.training.train_sync("kw", options, actor=admin)
    assert first["status"] == "succeeded" and first["counts"]["examples"] == 80
    with services.db.write() as s:  # 40 more labels arrive
        repo.add_label_annotations(s, repo.get_dataset(s, "kw"), label(ids[80:]), annotator="t")
    second = services.training.train_sync("kw", {**options, "seed": 7}, actor=admin)
    comparison, decision = second["metrics"]["comparison"], second["progress"]["decision"]
    assert comparison["added_labels"] == 40 and comparison["against"] == "v0001"
    words = PairedComparison(**{k: comparison[k] for k in ("difference", "low", "high", "p_value", "n", "level", "test")})
    assert (decision["active"], decision["reason"]) == paired_activation(
        words, services.settings.activation_margin, active_version="v0001", measure="probability of the true label",
        added_labels=40)
    assert decision["active"] == (not comparison["clearly_worse"] or comparison["clearly_better"])
    if decision["active"] and not comparison["clearly_better"]:
        assert "trained on the same labels and 40 more labels, and not clearly worse: activated" in decision["reason"]


def test_audit_share_is_admins_only_and_checked(services, admin, annotator, keyword):
    with pytest.raises(PermissionDeniedError):
        services.datasets.set_audit_share("kw", 0.1, actor=annotator)
    for bad in (-0.1, 0.9, True, "0.1"):
        with pytest.raises(InvalidInputError, match="audit share"):
            services.datasets.set_audit_share("kw", bad, actor=admin)
    status = services.datasets.audit("kw")
    assert (status.share, status.examples, status.labelled, status.labelled_total) == (0.0, 0, 0, 120)


def test_model_ranked_orders_hand_out_audit_examples_only_as_audit_picks(assist_settings):  # type: ignore[no-untyped-def]
    sv = Services(assist_settings)
    try:
        sv.datasets.create("reviews", "single_label", "pos,neg", actor=Actor.local())
        with sv.db.write() as s:
            ids = repo.add_examples(s, repo.get_dataset(s, "reviews"), [
                repo.NewExample(f"item {i} was {'good' if i % 2 else 'bad'} " + "very " * (i % 5)) for i in range(60)],
                created_by="t")
        status = sv.datasets.set_audit_share("reviews", SHARE, actor=Actor.local())
        audit = {i for i in ids if in_audit(i, SHARE)}
        assert status.examples == len(audit) and 5 < len(audit) < 25
        sv.assist.ensure_embeddings("reviews", wait=True)
        assert audit & set(sv.assist.ranked_ids("reviews", "default") or ())  # the model would pick some
        me = Actor("ann", "annotator")
        due_picks = 0
        for k in range(30):
            with sv.db.read() as s:
                due = audit_due(s, repo.get_dataset(s, "reviews"))
            view = sv.annotate.next("reviews", me, order="default" if k % 2 else "uncertain")
            assert (view.id in audit) == due, f"pick {k}: audit example {view.id} handed out when due={due}"
            due_picks += due
            sv.annotate.label("reviews", view.id, "pos" if view.id % 2 else "neg", actor=me)
        status = sv.datasets.audit("reviews")
        assert status.labelled == due_picks and status.labelled_total == 30
        assert abs(status.labelled - SHARE * 30) <= 1  # the audit set keeps pace with the labels
    finally:
        sv.close()

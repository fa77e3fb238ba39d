"""The suggestion an annotator saw is recorded with their annotation (accepted or changed), exported, and
summed up per model as an acceptance rate."""

import json

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor

ADA = Actor("ada")


@pytest.fixture
def ids(services):
    services.datasets.create("s", "multi_label", "a,b,c", actor=ADA)
    return [services.annotate.add("s", f"text {i}", actor=ADA).id for i in range(6)]


def _last(services, example_id):
    return services.annotate.get("s", example_id).history[-1]


def test_accepted_and_changed_suggestions_are_recorded(services, ids):
    services.annotate.label("s", ids[0], ["b", "a"], actor=ADA,
                            suggestion={"labels": ["a", "b"], "model": "instant", "probability": 0.8})
    services.annotate.label("s", ids[1], ["a"], actor=ADA, suggestion={"labels": ["a", "c"], "model": "v0001"})
    services.annotate.label("s", ids[2], ["c"], actor=ADA)  # no suggestion shown
    assert {k: _last(services, ids[0])[k] for k in ("suggested", "suggestion_model", "suggestion_outcome")} == \
        {"suggested": ["a", "b"], "suggestion_model": "instant", "suggestion_outcome": "accepted"}
    assert _last(services, ids[1])["suggestion_outcome"] == "changed"
    assert (_last(services, ids[2])["suggested"], _last(services, ids[2])["suggestion_outcome"]) == (None, "")
    # the same labels again record nothing new, suggestion or not
    services.annotate.label("s", ids[2], ["c"], actor=ADA, suggestion={"labels": ["c"], "model": "instant"})
    assert len(services.annotate.get("s", ids[2]).history) == 1


def test_a_suggestion_dict_from_the_assist_service_is_taken_as_it_comes(services, ids):
    shown = {"label": "b", "labels": ["b"], "probabilities": {"a": 0.1, "b": 0.9, "c": 0.2}, "model": "instant"}
    services.annotate.label("s", ids[0], "b", actor=ADA, suggestion=shown)
    assert _last(services, ids[0])["suggestion_outcome"] == "accepted"


@pytest.mark.parametrize("bad", ["a", {"labels": "a"}, {"labels": [1]}, {"labels": ["a"], "model": 3},
                                 {"labels": ["a"], "model": "m" * 65}, {"model": "instant"}])
def test_a_malformed_suggestion_is_refused_before_anything_is_written(services, ids, bad):
    with pytest.raises(InvalidInputError, match="suggestion"):
        services.annotate.label("s", ids[0], "a", actor=ADA, suggestion=bad)
    assert services.annotate.get("s", ids[0]).history == []


def test_acceptance_rate_per_model(services, ids):
    bob = Actor("bob", "annotator")
    for i, (chosen, suggested, model) in enumerate([("a", "a", "instant"), ("b", "a", "instant"), ("a", "a", "instant"),
                                                    ("c", "c", "v0002"), ("b", "b", "instant")]):
        services.annotate.label("s", ids[i], chosen, actor=bob, suggestion={"labels": [suggested], "model": model})
    services.annotate.undo("s", actor=bob)  # the last one (accepted): undone, so it no longer counts
    assert services.annotate.acceptance("s") == [
        {"model": "instant", "shown": 3, "accepted": 2, "changed": 1, "rate": 0.6667},
        {"model": "v0002", "shown": 1, "accepted": 1, "changed": 0, "rate": 1.0}]
    services.datasets.create("other", "single_label", "x,y", actor=ADA)
    assert services.annotate.acceptance("other") == []


def test_exports_carry_the_suggestion(services, ids, tmp_path):
    services.annotate.label("s", ids[0], ["a"], actor=ADA, suggestion={"labels": ["a"], "model": "instant"})
    services.transfer.export("s", tmp_path / "out.jsonl", actor=ADA)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    [entry] = next(r for r in rows if r["id"] == ids[0])["history"]
    assert (entry["suggested"], entry["suggestion_model"], entry["suggestion_outcome"]) == (["a"], "instant", "accepted")
    assert {"id", "annotator", "kind", "labels", "created_at", "reverts_id"} <= set(entry)  # the old keys stay

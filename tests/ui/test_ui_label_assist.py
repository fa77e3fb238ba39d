"""The Label tab with the model's help, over real services and a tiny encoder: the suggestion preselected and
recorded as accepted or changed, the switch that turns it off, the assist line, the similar-examples panel
with bulk labelling and its undo."""

from __future__ import annotations

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, Services
from ftdemo.ui.label_tab import (
    MAX_BUTTONS,
    accept_suggestion,
    assist_line,
    load_screen,
    render,
    submit_labels,
    undo_last,
)
from ftdemo.ui.similar_panel import find_similar, label_selected, undo_selected

ANNA = Actor.local("anna")
ELEMS = {n: n for n in ["progress", "card", "example_id", "shown_labels", "message", "keys", "multi", "radio",
                        "submit", "skip", "undo", "add_text", "add_pair", "add_labels", "shown_suggestion", "accept",
                        "done"]} | {"buttons": [f"button{i}" for i in range(MAX_BUTTONS)]}


@pytest.fixture
def sv(assist_settings):  # type: ignore[no-untyped-def]
    services = Services(assist_settings)
    yield services
    services.close()


def _ready(sv: Services, name: str, task: str, labels: list[str], texts: list[str], labelled: dict[int, list[str]]
           ) -> list[int]:
    """A dataset with `texts`, the examples at the given positions labelled by someone else, embeddings done."""
    sv.datasets.create(name, task, labels, actor=Actor.local("admin"))
    ids = [sv.annotate.add(name, text, actor=Actor.local("admin")).id for text in texts]
    for pos, chosen in labelled.items():
        sv.annotate.label(name, ids[pos], chosen, actor=Actor.local("seed"))
    sv.assist.ensure_embeddings(name, wait=True)
    return ids


TEXTS = [f"review {i}: it was {'good' if i % 2 else 'bad'}" + " really" * (i % 4) for i in range(16)]


@pytest.fixture
def reviews(sv: Services) -> list[int]:
    return _ready(sv, "reviews", "single_label", ["pos", "neg"], TEXTS,
                  {i: ["pos" if i % 2 else "neg"] for i in range(8)})


def test_the_suggestion_is_shown_preselected_and_enter_accepts_it(sv: Services, reviews: list[int]) -> None:
    screen = load_screen(sv, "reviews", ANNA, order="in_order")
    suggestion = screen.suggestion
    assert suggestion is not None and suggestion["model"] == "instant"
    assert suggestion["labels"] and set(suggestion["probabilities"]) == {"pos", "neg"}
    out = render(screen, ELEMS)
    assert out["accept"]["visible"] is True and out["shown_suggestion"] == suggestion
    assert "Suggested:" in out["card"] and "by the instant model" in out["card"]
    variants = {out[f"button{i}"]["value"]: out[f"button{i}"]["variant"] for i in range(2)}
    picked = suggestion["labels"][0]
    assert variants == {f"{k + 1} · {lab}": "primary" if lab == picked else "secondary"
                        for k, lab in enumerate(["pos", "neg"])}

    shown = screen.example.id
    after = accept_suggestion(sv, "reviews", shown, suggestion, ANNA)
    assert after.message == f"#{shown} labelled {picked} (the suggestion)"
    assert sv.annotate.get("reviews", shown).labels == [picked]
    [row] = sv.annotate.acceptance("reviews")
    assert (row["model"], row["shown"], row["accepted"], row["changed"]) == ("instant", 1, 1, 0)


def test_choosing_another_label_records_the_suggestion_as_changed(sv: Services, reviews: list[int]) -> None:
    screen = load_screen(sv, "reviews", ANNA, order="in_order")
    other = next(lab for lab in ("pos", "neg") if lab not in screen.suggestion["labels"])
    submit_labels(sv, "reviews", screen.example.id, [other], ANNA, suggestion=screen.suggestion)
    [row] = sv.annotate.acceptance("reviews")
    assert (row["accepted"], row["changed"], row["rate"]) == (0, 1, 0.0)


def test_suggestions_off_show_and_record_nothing(sv: Services, reviews: list[int]) -> None:
    screen = load_screen(sv, "reviews", ANNA, order="in_order", suggest=False)
    assert screen.example is not None and screen.suggestion is None
    out = render(screen, ELEMS)
    assert out["accept"]["visible"] is False and "Suggested" not in out["card"]
    assert all(out[f"button{i}"]["variant"] == "primary" for i in range(2))
    with pytest.raises(InvalidInputError, match="no suggestion"):
        accept_suggestion(sv, "reviews", screen.example.id, None, ANNA)
    submit_labels(sv, "reviews", screen.example.id, ["pos"], ANNA, suggestion=None, suggest=False)
    assert sv.annotate.acceptance("reviews") == []
    assert "suggestions off" in assist_line(sv, "reviews", suggestions_on=False)


def test_multi_label_checkboxes_start_with_the_suggested_labels(sv: Services) -> None:
    texts = [f"item {i} about {'sports' if i % 2 else 'tech'}" for i in range(12)]
    _ready(sv, "topics", "multi_label", ["sports", "tech"], texts,
           {i: ["sports" if i % 2 else "tech"] for i in range(8)})
    screen = load_screen(sv, "topics", ANNA, order="in_order")
    assert screen.mode == "multi" and screen.suggestion is not None
    out = render(screen, ELEMS)
    assert out["multi"]["value"] == screen.suggestion["labels"]
    assert out["accept"]["visible"] is False  # Enter submits the ticked boxes


def test_the_assist_line_names_embeddings_models_and_acceptance(sv: Services, reviews: list[int]) -> None:
    screen = load_screen(sv, "reviews", ANNA, order="in_order")
    accept_suggestion(sv, "reviews", screen.example.id, screen.suggestion, ANNA)
    line = assist_line(sv, "reviews")
    assert "embeddings ready" in line and "suggestions by the instant model" in line
    assert "accepted: the instant model 100% of 1" in line
    assert assist_line(sv, None) == ""


def test_when_everything_is_labelled_the_tab_offers_review_and_training(sv: Services) -> None:
    _ready(sv, "done", "single_label", ["pos", "neg"], ["a", "b"], {0: ["pos"], 1: ["neg"]})
    out = render(load_screen(sv, "done", ANNA), ELEMS)
    assert out["done"]["visible"] is True
    assert "every example is labelled or skipped" in out["card"] and "Train tab" in out["card"]


def test_similar_then_bulk_label_then_one_undo_restores_all(sv: Services, reviews: list[int]) -> None:
    found = find_similar(sv, "reviews", "it was good", "", 6, None)
    assert len(found.choices) == 6 and found.labels == ["pos", "neg"] and not found.multi
    assert found.note.startswith("6 examples most like “it was good”")
    ids = [value for _, value in found.choices]
    before = {i: sv.annotate.get("reviews", i).labels for i in ids}
    done = label_selected(sv, "reviews", ids, "pos", ANNA, origin="label")
    assert "labelled" in done and "undoes them all" in done
    assert all(sv.annotate.get("reviews", i).labels == ["pos"] for i in ids)

    screen = undo_last(sv, "reviews", ANNA)  # U in the Label tab undoes the whole bulk action: anna's 6 rows
    listed = ", ".join(f"#{i}" for i in ids)
    assert screen.message == f"undone: your label “pos” on 6 examples ({listed}; back to the labels each had before)"
    assert {i: sv.annotate.get("reviews", i).labels for i in ids} == before


def test_undo_that_takes_back_the_lists_labels_not_a_card_label_given_since(sv: Services, reviews: list[int]) -> None:
    found = find_similar(sv, "reviews", "it was good", "", 16, None)
    ids = [value for _, value in found.choices if value in reviews[8:]][:5]
    label_selected(sv, "reviews", ids, "pos", ANNA, origin="label")
    changed, card = ids[0], reviews[0]
    submit_labels(sv, "reviews", changed, ["neg"], ANNA)  # on the card: one of the five, then another example
    submit_labels(sv, "reviews", card, ["pos"], ANNA)

    message = undo_selected(sv, "reviews", ANNA, origin="label")
    assert message.startswith("undone: your label “pos” on 4 examples (#")
    assert f"#{changed}" not in message and message.endswith("; 1 you changed since was left as it is")
    assert [sv.annotate.get("reviews", i).labels for i in ids] == [["neg"], [], [], [], []]
    assert sv.annotate.get("reviews", card).labels == ["pos"]  # the card label stays
    assert undo_selected(sv, "reviews", ANNA, origin="label").startswith("nothing to undo here")

    assert undo_last(sv, "reviews", ANNA).message == f"undone: your label “pos” on #{card} (back to no label of yours)"
    assert undo_last(sv, "reviews", ANNA).message == f"undone: your label “neg” on #{changed} (back to label “pos”)"
    last = undo_last(sv, "reviews", ANNA)  # the list's label on it is current again: now it can be taken back
    assert last.message == f"undone: your label “pos” on 1 example (#{changed}; back to the labels each had before)"
    assert sv.annotate.get("reviews", changed).labels == []


def test_similar_to_the_example_on_screen_and_with_a_text_filter(sv: Services, reviews: list[int]) -> None:
    found = find_similar(sv, "reviews", "", "really", 20, reviews[0])
    assert found.choices and all("really" in shown for shown, _ in found.choices)
    assert reviews[0] not in [value for _, value in found.choices]  # not itself
    with pytest.raises(InvalidInputError, match="type a text"):
        find_similar(sv, "reviews", "  ", "", 10, None)
    with pytest.raises(InvalidInputError, match="tick the examples"):
        label_selected(sv, "reviews", [], "pos", ANNA, origin="label")
    with pytest.raises(InvalidInputError, match="choose the label"):
        label_selected(sv, "reviews", [reviews[9]], [], ANNA, origin="label")


def test_bulk_labelling_from_the_list_records_the_suggestions_it_showed(sv: Services, reviews: list[int]) -> None:
    found = find_similar(sv, "reviews", "it was good", "", 16, None)
    unlabelled = set(reviews[8:])
    assert set(found.suggestions) == unlabelled  # labelled rows show their labels, not a suggestion
    assert all(s["model"] == "instant" and s["labels"] for s in found.suggestions.values())
    ticked = [value for _, value in found.choices]
    label_selected(sv, "reviews", ticked, "pos", ANNA, origin="label", suggestions=found.suggestions)
    took = sum(s["labels"] == ["pos"] for s in found.suggestions.values())
    [row] = sv.annotate.acceptance("reviews")
    assert (row["model"], row["shown"], row["accepted"], row["changed"]) == ("instant", 8, took, 8 - took)

    undo_last(sv, "reviews", ANNA)
    assert sv.annotate.acceptance("reviews") == []

"""Label tab logic and rendering against a real SQLite DB."""

from __future__ import annotations

import gradio as gr
import pytest

from ftdemo.errors import InvalidInputError, NotFoundError
from ftdemo.services import Actor
from ftdemo.ui import html
from ftdemo.ui.label_tab import (
    MAX_BUTTONS,
    LabelScreen,
    add_example,
    button_text,
    load_screen,
    render,
    skip_example,
    submit_labels,
    undo_last,
)

ANNA = Actor.local("anna")


def test_load_screen_without_dataset_shows_nothing(services) -> None:
    screen = load_screen(services, None, ANNA)
    assert screen.info is None and screen.example is None and screen.mode == ""


def test_load_screen_shows_first_unlabelled_and_progress(services, reviews) -> None:
    screen = load_screen(services, reviews, ANNA)
    assert screen.mode == "buttons"
    assert screen.example.text == "great phone"
    assert (screen.stats.labelled, screen.stats.examples) == (0, 5)


def test_label_flow_advances_and_counts(services, reviews) -> None:
    screen = load_screen(services, reviews, ANNA)
    for expected_labelled, label in ((1, "pos"), (2, "neg"), (3, "neu")):
        shown = screen.example.id
        screen = submit_labels(services, reviews, shown, [label], ANNA)
        assert screen.stats.labelled == expected_labelled
        assert screen.example.id != shown
        assert f"#{shown} labelled {label}" == screen.message
    assert screen.stats.label_counts == {"pos": 1, "neg": 1, "neu": 1}
    assert services.datasets.stats(reviews).annotators == {"anna": 3}


def test_label_unknown_label_is_refused(services, reviews) -> None:
    with pytest.raises(InvalidInputError, match="not in this dataset's labels"):
        submit_labels(services, reviews, 1, ["posi"], ANNA)


def test_label_needs_a_label_and_an_example(services, reviews) -> None:
    with pytest.raises(InvalidInputError, match="at least one label"):
        submit_labels(services, reviews, 1, [], ANNA)
    with pytest.raises(InvalidInputError, match="no example"):
        submit_labels(services, reviews, None, ["pos"], ANNA)


def test_skip_moves_on_without_labelling(services, reviews) -> None:
    screen = skip_example(services, reviews, 1, ANNA)
    assert screen.example.id == 2
    assert screen.stats.labelled == 0
    # someone else still gets the skipped example
    assert load_screen(services, reviews, Actor.local("bob")).example.id == 1


def test_undo_brings_the_example_back(services, reviews) -> None:
    submit_labels(services, reviews, 1, ["pos"], ANNA)
    screen = submit_labels(services, reviews, 2, ["neg"], ANNA)
    assert screen.stats.labelled == 2
    screen = undo_last(services, reviews, ANNA)
    assert screen.example.id == 2
    assert screen.stats.labelled == 1
    assert "undone" in screen.message
    screen = undo_last(services, reviews, ANNA)
    assert screen.example.id == 1 and screen.stats.labelled == 0
    assert undo_last(services, reviews, ANNA).message == "nothing to undo"


def test_undo_acts_on_the_label_tab_only_and_says_what_it_undid(services, reviews) -> None:
    from ftdemo.ui.data_tab import set_labels

    submit_labels(services, reviews, 1, ["pos"], ANNA)  # in the Label tab
    set_labels(services, reviews, 3, ["neg"], ANNA)  # minutes later, an edit in the Data tab
    screen = undo_last(services, reviews, ANNA)
    assert screen.example.id == 1 and services.annotate.get(reviews, 3).labels == ["neg"]
    assert screen.message == "undone: your label “pos” on #1 (back to no label of yours)"


def test_undo_is_per_annotator(services, reviews) -> None:
    submit_labels(services, reviews, 1, ["pos"], ANNA)
    assert undo_last(services, reviews, Actor.local("bob")).message == "nothing to undo"
    assert services.datasets.stats(reviews).labelled == 1


def test_add_example_keeps_the_shown_one(services, reviews) -> None:
    screen = add_example(services, reviews, "brand new text", None, ["pos"], ANNA, shown_id=1)
    assert screen.example.id == 1
    assert screen.stats.examples == 6 and screen.stats.labelled == 1
    assert "labelled pos" in screen.message


def test_add_unlabelled_example_joins_the_queue(services, reviews) -> None:
    add_example(services, reviews, "unlabelled one", "", [], ANNA, shown_id=None)
    views, _ = services.annotate.search(reviews, text="unlabelled one")
    assert views[0].labels == []


def test_add_duplicate_or_empty_is_refused(services, reviews) -> None:
    with pytest.raises(InvalidInputError, match="already in the dataset"):
        add_example(services, reviews, "great phone", None, [], ANNA, shown_id=1)
    with pytest.raises(InvalidInputError, match="empty"):
        add_example(services, reviews, "   ", None, [], ANNA, shown_id=1)


def test_add_pair_needs_the_second_text(services, pairs) -> None:
    with pytest.raises(InvalidInputError, match="second text"):
        add_example(services, pairs, "only one", "", [], ANNA, shown_id=None)
    screen = add_example(services, pairs, "one", "two", ["neutral"], ANNA, shown_id=None)
    assert screen.stats.examples == 3


def test_multi_label_submits_several_labels(services, topics) -> None:
    screen = load_screen(services, topics, ANNA)
    assert screen.mode == "multi"
    screen = submit_labels(services, topics, screen.example.id, ["tech", "politics"], ANNA)
    assert services.annotate.get(topics, 1).labels == ["politics", "tech"]


def test_shuffled_order_is_stable_per_seed(services, make) -> None:
    name = make("many", "single_label", ["a", "b"], [f"text {i}" for i in range(30)])
    first = [load_screen(services, name, ANNA, order="shuffled", seed=s).example.id for s in (1, 2, 3, 4)]
    again = [load_screen(services, name, ANNA, order="shuffled", seed=s).example.id for s in (1, 2, 3, 4)]
    assert first == again
    assert len(set(first)) > 1  # different browsers start at different places


def test_unknown_dataset_is_a_friendly_error(services) -> None:
    with pytest.raises(NotFoundError, match="no dataset named"):
        load_screen(services, "nope", ANNA)


# --- rendering ---------------------------------------------------------------------------------


def _elems() -> dict:
    """Stand-ins for the tab's components: render() only uses them as dict keys."""
    names = ["progress", "card", "example_id", "shown_labels", "message", "keys", "multi", "radio", "submit", "skip",
             "undo", "add_text", "add_pair", "add_labels", "shown_suggestion", "accept", "done"]
    e: dict = {n: n for n in names}
    e["buttons"] = [f"button{i}" for i in range(MAX_BUTTONS)]
    return e


def test_render_single_label_shows_one_button_per_label(services, reviews) -> None:
    out = render(load_screen(services, reviews, ANNA), _elems())
    visible = [out[f"button{i}"] for i in range(MAX_BUTTONS) if out[f"button{i}"]["visible"]]
    assert [b["value"] for b in visible] == ["1 · pos", "2 · neg", "3 · neu"]
    assert out["multi"]["visible"] is False and out["submit"]["visible"] is False
    assert out["example_id"] == 1 and out["shown_labels"] == ["pos", "neg", "neu"]
    assert 'id="ftd-count">0 / 5 labelled' in out["progress"]
    assert "Enter" not in out["keys"]  # no suggestion here (no embeddings): Enter has nothing to accept
    assert "<kbd>Enter</kbd> accept the suggestion" in html.key_hint("buttons", suggested=True)


def test_render_multi_label_shows_checkboxes_and_submit(services, topics) -> None:
    out = render(load_screen(services, topics, ANNA), _elems())
    assert out["multi"]["visible"] is True  # each checkbox shows its number key; the value is the label
    assert out["multi"]["choices"] == [("1 · sports", "sports"), ("2 · politics", "politics"), ("3 · tech", "tech")]
    assert out["submit"]["visible"] is True
    assert not any(out[f"button{i}"]["visible"] for i in range(MAX_BUTTONS))
    assert "Enter" in out["keys"]


def test_render_pair_shows_both_texts(services, pairs) -> None:
    out = render(load_screen(services, pairs, ANNA), _elems())
    assert "A man sleeps." in out["card"] and "A person rests." in out["card"]
    assert ">Premise<" in out["card"] and ">Hypothesis<" in out["card"]  # not "Text / Second text"
    assert out["add_pair"]["visible"] is True and out["add_pair"]["label"] == "Hypothesis"
    assert out["add_text"]["label"] == "Premise"


def test_a_pair_dataset_can_name_its_texts(services, admin) -> None:
    services.datasets.create("qa", "pair", ["yes", "no"], actor=admin, text_name="Question", pair_name="Passage")
    services.annotate.add("qa", "Is it raining?", "The sun shines all day.", actor=admin)
    out = render(load_screen(services, "qa", ANNA), _elems())
    assert ">Question<" in out["card"] and ">Passage<" in out["card"]
    assert services.datasets.info("qa").to_dict()["pair_name"] == "Passage"


def test_render_many_labels_uses_a_radio_list(services, make) -> None:
    labels = [f"l{i}" for i in range(MAX_BUTTONS + 1)]
    name = make("wide", "single_label", labels, ["x"])
    out = render(load_screen(services, name, ANNA), _elems())
    assert out["radio"]["visible"] is True and out["submit"]["visible"] is True
    assert not any(out[f"button{i}"]["visible"] for i in range(MAX_BUTTONS))
    assert "<kbd>Enter</kbd> submit" in out["keys"]


def test_render_escapes_user_text(services, make) -> None:
    payload = "<img src=x onerror=alert(1)>"
    name = make("xss", "single_label", ["a", "b"], [payload])
    out = render(load_screen(services, name, Actor.local("<b>me</b>")), _elems())
    assert "<img" not in out["card"]
    assert html.esc(payload) in out["card"]


def test_render_empty_queue_says_so(services, reviews) -> None:
    for example_id in range(1, 6):
        submit_labels(services, reviews, example_id, ["pos"], ANNA)
    out = render(load_screen(services, reviews, ANNA), _elems())
    assert "Nothing left to label" in out["card"]
    assert out["skip"]["interactive"] is False
    assert out["example_id"] is None


def test_button_text_numbers_only_the_first_nine() -> None:
    assert button_text(0, "pos") == "1 · pos"
    assert button_text(9, "tenth") == "tenth"


def test_screen_mode_is_empty_without_info() -> None:
    assert LabelScreen().mode == ""
    assert isinstance(gr.update(visible=True), dict)  # render() relies on gr.update being a plain dict


def test_progress_counts_down_to_the_next_automatic_fine_tune(services, reviews, admin) -> None:
    assert "ftd-retrain" not in render(load_screen(services, reviews, ANNA), _elems())["progress"]  # off in tests
    services.retrain.set_every(reviews, 3, actor=admin)
    submit_labels(services, reviews, 1, ["pos"], ANNA)
    out = render(load_screen(services, reviews, ANNA), _elems())
    assert "2 labels until the next automatic fine-tune" in out["progress"]

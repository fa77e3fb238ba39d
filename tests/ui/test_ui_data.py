"""Data tab logic: browsing with filters and pages, editing, deleting, the label chart."""

from __future__ import annotations

import re

import pytest

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor
from ftdemo.ui.data_tab import (
    PAGE_SIZE,
    UNLABELLED,
    Filters,
    browse,
    distribution,
    save_text,
    set_deleted,
    set_labels,
    table_frame,
)


@pytest.fixture
def labelled(services, reviews, admin) -> str:
    """reviews with #1 pos (ada), #2 neg (bob), #3 pos (ada), #4 and #5 unlabelled."""
    bob = Actor("bob", "annotator")
    services.annotate.label(reviews, 1, ["pos"], actor=admin)
    services.annotate.label(reviews, 2, ["neg"], actor=bob)
    services.annotate.label(reviews, 3, ["pos"], actor=admin)
    return reviews


def _ids(page) -> list[int]:
    return list(page.frame["id"])


def test_browse_everything(services, labelled) -> None:
    page = browse(services, labelled, Filters())
    assert _ids(page) == [1, 2, 3, 4, 5] and page.total == 5 and page.pages == 1
    assert list(page.frame.columns) == ["id", "text", "labels", "votes", "status"]
    assert page.caption == "1–5 of 5 · page 1 of 1"


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(label="pos"), [1, 3]),
    (Filters(label=UNLABELLED), [4, 5]),
    (Filters(annotator="bob"), [2]),
    (Filters(text="PHONE"), [1]),
    (Filters(text="%"), []),  # LIKE wildcards are matched literally
    (Filters(label="pos", annotator="bob"), []),
])
def test_browse_filters(services, labelled, filters, expected) -> None:
    assert _ids(browse(services, labelled, filters)) == expected


def test_browse_pages_and_clamps(services, make) -> None:
    name = make("big", "single_label", ["a", "b"], [f"text {i:02d}" for i in range(PAGE_SIZE * 2 + 3)])
    first, last = browse(services, name, Filters(), 1), browse(services, name, Filters(), 99)
    assert (first.pages, len(first.frame)) == (3, PAGE_SIZE)
    assert (last.page, len(last.frame)) == (3, 3)
    assert browse(services, name, Filters(), 0).page == 1
    assert "41–43 of 43" in last.caption


def test_browse_without_dataset_is_empty(services) -> None:
    page = browse(services, None, Filters())
    assert page.total == 0 and page.caption == "No examples match."


def test_pair_table_has_second_text(services, pairs) -> None:
    frame = browse(services, pairs, Filters()).frame
    assert "second text" in frame.columns and frame.iloc[0]["second text"] == "A person rests."


def test_table_cuts_long_texts(services, make) -> None:
    name = make("long", "single_label", ["a", "b"], ["word " * 100])
    views, _ = services.annotate.search(name)
    assert table_frame(views, pair=False).iloc[0]["text"].endswith("…")


def test_distribution_keeps_label_order(services, labelled) -> None:
    bars = distribution(services.datasets.stats(labelled))
    assert re.findall(r'class="ftd-bar-label"[^>]*>([^<]*)<', bars) == ["pos", "neg", "neu"]
    assert re.findall(r'class="ftd-bar-n">(\d+)<', bars) == ["2", "1", "0"]
    assert "ftd-bar-row" not in distribution(None) and "choose a dataset" in distribution(None)


def test_admin_edits_text(services, labelled, admin) -> None:
    view = save_text(services, labelled, 4, "it is red", None, admin)
    assert view.text == "it is red"


def test_annotator_cannot_edit_or_delete(services, labelled, annotator) -> None:
    with pytest.raises(PermissionDeniedError, match="only an admin can edit examples"):
        save_text(services, labelled, 4, "changed", None, annotator)
    with pytest.raises(PermissionDeniedError, match="only an admin can delete examples"):
        set_deleted(services, labelled, 4, annotator)
    assert services.annotate.get(labelled, 4).text == "love it"


def test_delete_hides_and_restore_brings_back(services, labelled, admin) -> None:
    assert set_deleted(services, labelled, 1, admin).deleted
    assert 1 not in _ids(browse(services, labelled, Filters()))
    shown = browse(services, labelled, Filters(include_deleted=True))
    assert 1 in _ids(shown) and shown.frame.iloc[0]["status"] == "deleted"
    assert services.datasets.stats(labelled).labelled == 2
    assert not set_deleted(services, labelled, 1, admin, restore=True).deleted
    assert services.datasets.stats(labelled).labelled == 3


def test_set_labels_is_the_actor_own_annotation(services, labelled, annotator) -> None:
    view = set_labels(services, labelled, 1, ["pos"], annotator)  # annotators may label
    assert view.annotators == 2
    view = set_labels(services, labelled, 1, [], annotator)  # nothing chosen: withdraw mine
    assert view.annotators == 1 and view.labels == ["pos"]


def test_edit_needs_a_selection(services, labelled, admin) -> None:
    with pytest.raises(InvalidInputError, match="select an example"):
        save_text(services, labelled, None, "x", None, admin)
    with pytest.raises(InvalidInputError, match="select an example"):
        set_labels(services, labelled, None, ["pos"], admin)

"""The Label tab's "similar examples" panel: the nearest examples (by embedding) to the one on screen or to a
typed text, optionally only those containing a word, ticked and labelled in one action (one annotation row
each, undone as one step). The suggestions the list showed are recorded with the labels, as accepted or changed,
like a suggestion on the Label tab's card.

`find_similar`, `label_selected` and `undo_selected` take plain values (tested without a browser); the panel
only wires them. The list is found again (same search) after either undo, the panel's or the Label tab's, so
the labels it shows are the examples' labels now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, Services
from ftdemo.services.annotate import parse_suggestion
from ftdemo.ui import assist_view, html
from ftdemo.ui.context import PRIVATE, UIContext, guard

DEFAULT_LIMIT = 25


@dataclass
class SimilarResult:
    """What the panel shows after a search: the choices (text, example id), the labels to pick from, a note."""

    choices: list[tuple[str, int]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    multi: bool = False
    note: str = ""
    suggestions: dict[int, dict[str, Any]] = field(default_factory=dict)  # shown next to unlabelled examples


def find_similar(services: Services, dataset: str | None, query: str, text_filter: str, limit: int,
                 shown_id: int | None) -> SimilarResult:
    """The examples most like `query` (or, when it is empty, like the example on screen)."""
    if not dataset:
        raise InvalidInputError(html.NO_DATASET)
    query = (query or "").strip()
    if not query and shown_id is None:
        raise InvalidInputError("type a text to search for, or open an example to find ones like it")
    info = services.datasets.info(dataset)
    rows = services.assist.similar(dataset, example_id=None if query else int(shown_id), text=query or None,
                                   limit=int(limit or DEFAULT_LIMIT), text_filter=(text_filter or "").strip())
    progress = services.assist.progress(dataset)
    like = f"“{query}”" if query else f"#{shown_id}"
    note = f"{len(rows)} examples most like {like}"
    if text_filter and text_filter.strip():
        note += f" containing “{text_filter.strip()}”"
    if not progress.complete:
        note += f" (among the {progress.done:,} of {progress.total:,} examples embedded so far)"
    shown = {int(row["id"]): row["suggestion"] for row in rows if not row.get("labels") and row.get("suggestion")}
    return SimilarResult(assist_view.similar_choices(rows), list(info.labels), info.task == "multi_label", note, shown)


def label_selected(services: Services, dataset: str | None, ids: list[int], labels: list[str] | str | None,
                   actor: Actor, *, origin: str, suggestions: dict[int, dict[str, Any]] | None = None) -> str:
    """Label every ticked example at once; returns what was done, in words. `suggestions`: what the list
    showed per example id (`SimilarResult.suggestions`), recorded as accepted or changed."""
    if not dataset:
        raise InvalidInputError(html.NO_DATASET)
    if not ids:
        raise InvalidInputError("tick the examples to label first (or “Select all”)")
    chosen = [labels] if isinstance(labels, str) else list(labels or [])
    if not chosen:
        raise InvalidInputError("choose the label to give them")
    ticked = [int(i) for i in ids]
    listed = suggestions or {}
    shown = {i: x for i in ticked if (x := parse_suggestion(listed.get(i))) is not None}
    result = services.annotate.label_many(dataset, ticked, chosen, actor=actor, origin=origin, shown=shown)
    return result.message + (" · U or “Undo that” undoes them all" if result.labelled else "")


def undo_selected(services: Services, dataset: str | None, actor: Actor, *, origin: str) -> str:
    """Take back the actor's last bulk label from this list (not a label given on the card since, which the
    Label tab's Undo takes back); returns what was done, in words."""
    if not dataset:
        raise InvalidInputError(html.NO_DATASET)
    undone = services.annotate.undo(dataset, actor=actor, origin=origin, bulk=True)
    if undone is None:
        return "nothing to undo here: no labels given from this list are left to take back"
    return undone.describe()


def create_similar_panel(ctx: UIContext, *, origin: str, example_id: gr.State) -> dict[str, Any]:
    """The panel, inside the Label tab; `example_id` is the tab's state of the example on screen."""
    services = ctx.services
    with gr.Accordion("Similar examples: find and label many at once", open=False, elem_id="ftd-similar"):
        with gr.Row():
            query = gr.Textbox(label="Examples like this text", placeholder="empty: like the example on screen",
                               scale=3, elem_id="ftd-similar-query")
            text_filter = gr.Textbox(label="Containing (optional)", scale=2)
            limit = gr.Slider(5, 200, value=DEFAULT_LIMIT, step=5, label="How many", scale=1)
        find = gr.Button("Find similar", scale=0, min_width=140, elem_id="ftd-similar-find")
        results = gr.CheckboxGroup(label="id · similarity · label · text: tick the ones to label",
                                   elem_id="ftd-similar-results")
        with gr.Row():
            select_all = gr.Button("Select all", scale=0, min_width=110)
            select_none = gr.Button("Select none", scale=0, min_width=110)
            labels = gr.Dropdown(label="Label them", scale=1, elem_id="ftd-bulk-labels")
            apply = gr.Button("Label selected", variant="primary", scale=0, min_width=150, elem_id="ftd-bulk-apply")
            undo = gr.Button("Undo that", scale=0, min_width=110, elem_id="ftd-bulk-undo")
        note = gr.HTML(elem_id="ftd-similar-note")
        found_ids = gr.State([])  # the ids listed, for "Select all"
        found_suggestions = gr.State({})  # the suggestions listed, recorded with the labels
        search = gr.State(None)  # [dataset, text, containing, how many, example id] of the list shown
    outputs = [results, labels, note, found_ids, found_suggestions, search]

    def shown(found: SimilarResult, message: str = "", *, asked: list[Any] | None = None) -> dict[Any, Any]:
        out = {
            results: gr.update(choices=found.choices, value=[]),
            labels: gr.update(choices=found.labels, multiselect=found.multi,
                              value=[] if found.multi else None),
            note: html.message(message or found.note),
            found_ids: [value for _, value in found.choices],
            found_suggestions: found.suggestions,
        }
        if asked is not None:
            out[search] = asked
        return out

    @guard(note)
    @ctx.anyone
    def on_find(dataset: str | None, text: str, contains: str, n: int, shown_id: int | None) -> dict:
        asked = [dataset, text, contains, n, shown_id]
        return shown(find_similar(services, *asked), asked=asked)

    @guard(note)
    @ctx.anyone
    def on_relist(dataset: str | None, asked: list[Any] | None) -> Any:
        """The list shown, found again: after an undo its labels are out of date."""
        if not dataset or not asked or asked[0] != dataset:  # nothing listed, or for another dataset
            return gr.skip()
        listed = shown(find_similar(services, *asked))
        return {key: listed[key] for key in (results, found_ids, found_suggestions)}  # the note and label stay

    @guard(note)
    @ctx.anyone
    def on_apply(dataset: str | None, name: str, ticked: list[int], chosen: Any, text: str, contains: str, n: int,
                 shown_id: int | None, suggestions: dict[int, dict[str, Any]], bump: int, request: gr.Request) -> dict:
        done = label_selected(services, dataset, ticked, chosen, ctx.actor(request, name), origin=origin,
                              suggestions=suggestions)
        asked = [dataset, text, contains, n, shown_id]
        out = shown(find_similar(services, *asked), done, asked=asked)
        out[labels] = gr.update()  # keep the chosen label for the next batch
        out[ctx.refresh] = (bump or 0) + 1  # the Label tab's counts follow
        return out

    @guard(note)
    @ctx.anyone
    def on_undo(dataset: str | None, name: str, bump: int, request: gr.Request) -> dict:
        text = undo_selected(services, dataset, ctx.actor(request, name), origin=origin)
        return {note: html.message(text), ctx.refresh: (bump or 0) + 1}

    def relist_after(event: Any) -> None:
        """Find the list again once `event` (an undo) is done."""
        event.then(on_relist, [ctx.dataset, search], [results, found_ids, found_suggestions, note], **PRIVATE)

    @ctx.anyone
    def on_select_all(ids: list[int]) -> list[int]:
        return list(ids or [])

    @ctx.anyone
    def on_select_none() -> list[int]:
        return []

    find.click(on_find, [ctx.dataset, query, text_filter, limit, example_id], outputs, **PRIVATE)
    query.submit(on_find, [ctx.dataset, query, text_filter, limit, example_id], outputs, **PRIVATE)
    apply.click(on_apply, [ctx.dataset, ctx.annotator, results, labels, query, text_filter, limit, example_id,
                           found_suggestions, ctx.refresh], [*outputs, ctx.refresh], **PRIVATE)
    relist_after(undo.click(on_undo, [ctx.dataset, ctx.annotator, ctx.refresh], [note, ctx.refresh], **PRIVATE))
    select_all.click(on_select_all, [found_ids], [results], show_progress="hidden", **PRIVATE)
    select_none.click(on_select_none, None, [results], show_progress="hidden", **PRIVATE)
    return dict(query=query, text_filter=text_filter, limit=limit, find=find, results=results, labels=labels,
                apply=apply, undo=undo, note=note, select_all=select_all, select_none=select_none, found_ids=found_ids,
                found_suggestions=found_suggestions, search=search, relist_after=relist_after)

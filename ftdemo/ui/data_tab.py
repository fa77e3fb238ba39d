"""Data tab: browse, filter and edit examples; label distribution; dataset, label and file panels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, ExampleView, Services, Stats
from ftdemo.ui import charts, html
from ftdemo.ui.agreement_panel import create_agreement_panel
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.manage_panel import create_manage_panel
from ftdemo.ui.transfer_panel import create_transfer_panel

ORIGIN = "data"  # recorded with annotations made here (the Label tab's undo leaves them alone)
PAGE_SIZE = 20
ANY = ""
UNLABELLED = "__unlabelled__"
TEXT_CHARS = 160  # table cells are cut; the edit box shows the whole text


@dataclass
class Filters:
    text: str = ""
    label: str = ANY  # ANY, UNLABELLED or a label name
    annotator: str = ANY
    include_deleted: bool = False


@dataclass
class Page:
    frame: pd.DataFrame
    total: int
    page: int  # 1-based
    pages: int

    @property
    def caption(self) -> str:
        if not self.total:
            return "No examples match."
        first = (self.page - 1) * PAGE_SIZE + 1
        return f"{first}–{min(self.page * PAGE_SIZE, self.total)} of {self.total} · page {self.page} of {self.pages}"


# --- logic -------------------------------------------------------------------------------------


def _cut(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def table_frame(views: list[ExampleView], *, pair: bool) -> pd.DataFrame:
    """Rows for the examples table (plain strings; the table widget escapes them)."""
    columns = ["id", "text", *(["second text"] if pair else []), "labels", "votes", "status"]
    rows = []
    for v in views:
        status = "deleted" if v.deleted else ("conflict" if v.annotators > 1 and v.agreement < 1 else "")
        rows.append([v.id, _cut(v.text), *([_cut(v.text_pair)] if pair else []), ", ".join(v.labels),
                     v.annotators, status])
    return pd.DataFrame(rows, columns=columns)


def column_widths(*, pair: bool) -> list[str]:
    return ["6%", "31%", "29%", "14%", "10%", "10%"] if pair else ["6%", "55%", "19%", "10%", "10%"]


def browse(services: Services, dataset: str | None, filters: Filters, page: int = 1) -> Page:
    """One page of the dataset's examples matching `filters` (page is clamped to the valid range)."""
    if not dataset:
        return Page(table_frame([], pair=False), 0, 1, 1)
    pair = services.datasets.info(dataset).task == "pair"
    kwargs = dict(text=filters.text.strip(), label=None if filters.label in (ANY, UNLABELLED) else filters.label,
                  annotator=filters.annotator or None, unlabelled=filters.label == UNLABELLED,
                  include_deleted=filters.include_deleted)
    page = max(1, int(page or 1))
    views, total = services.annotate.search(dataset, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **kwargs)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if page > pages:  # past the end (rows went away meanwhile): the last page; one search in the usual case
        page = pages
        views, total = services.annotate.search(dataset, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **kwargs)
    return Page(table_frame(views, pair=pair), total, page, pages)


def distribution(stats: Stats | None) -> str:
    """Current label counts as bars, in the dataset's label order."""
    return charts.bar_chart(stats.label_counts if stats else {}, title="Current labels",
                            empty="choose a dataset to see its labels" if stats is None else "no labels yet")


def save_text(services: Services, dataset: str, example_id: int | None, text: str, text_pair: str | None,
              actor: Actor) -> ExampleView:
    if example_id is None:
        raise InvalidInputError("select an example in the table first")
    return services.annotate.edit(dataset, int(example_id), text, text_pair or None, actor=actor)


def set_deleted(services: Services, dataset: str, example_id: int | None, actor: Actor, *,
                restore: bool = False) -> ExampleView:
    if example_id is None:
        raise InvalidInputError("select an example in the table first")
    return services.annotate.delete(dataset, int(example_id), actor=actor, restore=restore)


def set_labels(services: Services, dataset: str, example_id: int | None, labels: list[str],
               actor: Actor) -> ExampleView:
    """The actor's own annotation for the selected example (appended; others' labels stay)."""
    if example_id is None:
        raise InvalidInputError("select an example in the table first")
    if not labels:
        return services.annotate.clear(dataset, int(example_id), actor=actor, origin=ORIGIN)
    return services.annotate.label(dataset, int(example_id), labels, actor=actor, origin=ORIGIN)


# --- layout and wiring ---------------------------------------------------------------------------


def create_data_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Tab("Data", id="data") as tab:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row():
                    search = gr.Textbox(placeholder="Search the texts…  (Enter)", show_label=False, scale=3,
                                        container=False, elem_id="ftd-search")
                    label_filter = gr.Dropdown([("Any label", ANY)], value=ANY, show_label=False, scale=1,
                                               container=False, min_width=140)
                    annotator_filter = gr.Dropdown([("Anyone", ANY)], value=ANY, show_label=False, scale=1,
                                                   container=False, min_width=140)
                    deleted = gr.Checkbox(label="Show deleted", scale=0, min_width=130, container=False)
                table = gr.Dataframe(interactive=False, wrap=True, max_height=560, elem_id="ftd-table",
                                     elem_classes="ftd-table", show_label=False)
                with gr.Row():
                    prev_page = gr.Button("← Previous", size="sm", scale=0, min_width=110)
                    caption = gr.Markdown()
                    next_page = gr.Button("Next →", size="sm", scale=0, min_width=110)
            with gr.Column(scale=2):
                chart = gr.HTML(distribution(None), elem_id="ftd-data-chart")
                summary = gr.HTML()
                with gr.Column(visible=False, variant="panel") as editor:
                    edit_title = gr.Markdown("#### Selected example")
                    edit_text = gr.Textbox(label="Text", lines=3, max_lines=12, elem_id="ftd-edit-text")
                    edit_pair = gr.Textbox(label="Second text", lines=2, max_lines=8, visible=False)
                    # single-label: picking another label replaces the current one; multi-label: any number
                    edit_label = gr.Dropdown(label="Your label", elem_id="ftd-edit-label")
                    edit_labels = gr.Dropdown(label="Your labels", multiselect=True, visible=False,
                                              elem_id="ftd-edit-labels")
                    with gr.Row():
                        save_labels_btn = gr.Button("Save label", size="sm", variant="primary")
                        save_text_btn = gr.Button("Save text", size="sm")
                        delete_btn = gr.Button("Delete", size="sm", variant="stop")
                        restore_btn = gr.Button("Restore", size="sm", visible=False)
                    edit_history = gr.HTML()
                edit_msg = gr.HTML()
        manage = create_manage_panel(ctx)
        agreement = create_agreement_panel(ctx)
        transfer = create_transfer_panel(ctx)
        page = gr.State(1)
        selected = gr.State(None)
    e: dict[str, Any] = dict(
        tab=tab, search=search, label_filter=label_filter, annotator_filter=annotator_filter, deleted=deleted,
        table=table, prev_page=prev_page, next_page=next_page, caption=caption, chart=chart, summary=summary,
        editor=editor, edit_title=edit_title, edit_text=edit_text, edit_pair=edit_pair, edit_label=edit_label,
        edit_labels=edit_labels,
        save_labels=save_labels_btn, save_text=save_text_btn, delete=delete_btn, restore=restore_btn,
        edit_history=edit_history, edit_msg=edit_msg, page=page, selected=selected, manage=manage,
        transfer=transfer, agreement=agreement,
    )
    filter_inputs = [search, label_filter, annotator_filter, deleted]

    def _filters(text: str, label: str, annotator: str, include_deleted: bool) -> Filters:
        return Filters(text or "", label or ANY, annotator or ANY, bool(include_deleted))

    def _table(dataset: str | None, filters: Filters, page_no: int) -> dict:
        result = browse(services, dataset, filters, page_no)
        pair = bool(dataset) and services.datasets.info(dataset).task == "pair"
        return {table: gr.update(value=result.frame, column_widths=column_widths(pair=pair)),
                caption: result.caption, page: result.page,
                prev_page: gr.update(interactive=result.page > 1),
                next_page: gr.update(interactive=result.page < result.pages)}

    @guard(edit_msg)
    @ctx.anyone
    def on_dataset(dataset: str | None, *filter_values: Any) -> dict:
        """Dataset switched or changed elsewhere: reset filters' choices, redraw everything."""
        stats = services.datasets.stats(dataset) if dataset else None
        labels = services.datasets.info(dataset).labels if dataset else []
        people = services.annotate.annotators(dataset) if dataset else []
        filters = _filters(*filter_values)
        if filters.label not in (ANY, UNLABELLED, *labels):
            filters.label = ANY
        if filters.annotator not in (ANY, *people):
            filters.annotator = ANY
        return {
            **_table(dataset, filters, 1),
            label_filter: gr.update(choices=[("Any label", ANY), ("Unlabelled", UNLABELLED), *[(x, x) for x in labels]],
                                    value=filters.label),
            annotator_filter: gr.update(choices=[("Anyone", ANY), *[(p, p) for p in people]], value=filters.annotator),
            chart: distribution(stats), summary: html.stats_summary(stats), editor: gr.update(visible=False),
            selected: None, edit_msg: "",
        }

    @guard(edit_msg)
    @ctx.anyone
    def on_filter(dataset: str | None, *filter_values: Any) -> dict:
        return _table(dataset, _filters(*filter_values), 1)

    def on_page(step: int) -> Any:
        @guard(edit_msg)
        @ctx.anyone
        def handler(dataset: str | None, page_no: int, *filter_values: Any) -> dict:
            return _table(dataset, _filters(*filter_values), int(page_no or 1) + step)

        return handler

    def _editor(dataset: str, view: ExampleView, actor: Actor, note: str = "") -> dict:
        """The edit box for one example; text edits and delete/restore only for admins."""
        info = services.datasets.info(dataset)
        admin, multi = actor.is_admin, info.task == "multi_label"
        return {
            editor: gr.update(visible=True), selected: view.id,
            edit_title: f"#### Example #{view.id}" + (" (deleted)" if view.deleted else ""),
            edit_text: gr.update(value=view.text, interactive=admin, label=info.text_name),
            edit_pair: gr.update(value=view.text_pair or "", visible=info.task == "pair", interactive=admin,
                                 label=info.pair_name or "Second text"),
            edit_label: gr.update(choices=[("(none)", "")] + [(x, x) for x in info.labels], visible=not multi,
                                  value=next((x for x in view.labels if x in info.labels), "") if not multi else ""),
            edit_labels: gr.update(choices=info.labels, visible=multi,
                                   value=[x for x in view.labels if x in info.labels] if multi else []),
            save_text_btn: gr.update(visible=admin),
            delete_btn: gr.update(visible=admin and not view.deleted),
            restore_btn: gr.update(visible=admin and view.deleted),
            edit_history: html.history(services.annotate.get(dataset, view.id).history),
            edit_msg: html.message(note) if note else "",
        }

    @guard(edit_msg)
    @ctx.anyone
    def on_select(dataset: str | None, name: str, evt: gr.SelectData, request: gr.Request) -> dict:
        row = evt.row_value or []
        if not dataset or not row:
            return {}
        return _editor(dataset, services.annotate.get(dataset, int(row[0])), ctx.actor(request, name))

    def after_change(dataset: str, view: ExampleView, actor: Actor, note: str, page_no: int,
                     filter_values: tuple) -> dict:
        stats = services.datasets.stats(dataset)
        return {**_table(dataset, _filters(*filter_values), page_no), **_editor(dataset, view, actor, note),
                chart: distribution(stats), summary: html.stats_summary(stats)}

    @guard(edit_msg)
    @ctx.anyone
    def on_save_labels(dataset: str, example_id: int | None, one: str | None, several: list[str], name: str,
                       page_no: int, text: str, label: str, annotator: str, include_deleted: bool,
                       request: gr.Request) -> dict:
        actor = ctx.actor(request, name)
        multi = bool(dataset) and services.datasets.info(dataset).task == "multi_label"
        labels = list(several or []) if multi else ([one] if one else [])
        view = set_labels(services, dataset, example_id, list(labels or []), actor)
        note = f"your label for #{view.id} is saved" if labels else f"your label for #{view.id} is withdrawn"
        return after_change(dataset, view, actor, note, page_no, (text, label, annotator, include_deleted))

    @guard(edit_msg)
    @ctx.admin("edit examples")
    def on_save_text(dataset: str, example_id: int | None, new_text: str, new_pair: str, name: str, page_no: int,
                     text: str, label: str, annotator: str, include_deleted: bool, request: gr.Request) -> dict:
        actor = ctx.actor(request, name)
        view = save_text(services, dataset, example_id, new_text, new_pair, actor)
        return after_change(dataset, view, actor, f"#{view.id} saved", page_no,
                            (text, label, annotator, include_deleted))

    def on_delete(restore: bool) -> Any:
        @guard(edit_msg)
        @ctx.admin("delete examples")
        def handler(dataset: str, example_id: int | None, name: str, page_no: int, text: str, label: str,
                    annotator: str, include_deleted: bool, request: gr.Request) -> dict:
            actor = ctx.actor(request, name)
            view = set_deleted(services, dataset, example_id, actor, restore=restore)
            note = f"#{view.id} restored" if restore else f"#{view.id} deleted (kept in the history; Restore undoes it)"
            return after_change(dataset, view, actor, note, page_no, (text, label, annotator, include_deleted))

        return handler

    table_outputs = [table, caption, page, prev_page, next_page]
    all_outputs = [*table_outputs, label_filter, annotator_filter, chart, summary, editor, selected, edit_msg]
    editor_outputs = [editor, selected, edit_title, edit_text, edit_pair, edit_label, edit_labels, save_text_btn,
                      delete_btn,
                      restore_btn, edit_history, edit_msg]
    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, ctx.refresh.change, tab.select):
        trigger(on_dataset, [ctx.dataset, *filter_inputs], all_outputs, **quiet)
    search.submit(on_filter, [ctx.dataset, *filter_inputs], [*table_outputs, edit_msg], **quiet)
    for control in (label_filter, annotator_filter, deleted):
        control.input(on_filter, [ctx.dataset, *filter_inputs], [*table_outputs, edit_msg], **quiet)
    prev_page.click(on_page(-1), [ctx.dataset, page, *filter_inputs], [*table_outputs, edit_msg], **quiet)
    next_page.click(on_page(+1), [ctx.dataset, page, *filter_inputs], [*table_outputs, edit_msg], **quiet)
    table.select(on_select, [ctx.dataset, ctx.annotator], editor_outputs, **quiet)
    # a conflict's row (first column: its id) opens it in the editor, with its history
    agreement["conflicts"].select(on_select, [ctx.dataset, ctx.annotator], editor_outputs, **quiet)
    change_outputs = [*table_outputs, *editor_outputs, chart, summary]
    save_labels_btn.click(on_save_labels,
                          [ctx.dataset, selected, edit_label, edit_labels, ctx.annotator, page, *filter_inputs],
                          change_outputs, **quiet)
    save_text_btn.click(on_save_text,
                        [ctx.dataset, selected, edit_text, edit_pair, ctx.annotator, page, *filter_inputs],
                        change_outputs, **quiet)
    delete_btn.click(on_delete(False), [ctx.dataset, selected, ctx.annotator, page, *filter_inputs],
                     change_outputs, **quiet)
    restore_btn.click(on_delete(True), [ctx.dataset, selected, ctx.annotator, page, *filter_inputs],
                      change_outputs, **quiet)
    return e

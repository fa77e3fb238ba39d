"""Data tab panel: create a dataset; add, rename and retire labels; when it fine-tunes automatically; its audit
sample (admins only)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, DatasetInfo, Services
from ftdemo.services.datasets import MAX_AUDIT_SHARE, AuditStatus
from ftdemo.services.retrain import RetrainStatus
from ftdemo.ui import html
from ftdemo.ui.agreement_panel import add_overlap_controls
from ftdemo.ui.context import PRIVATE, UIContext, guard

TASKS = [("Single label: one label per text", "single_label"),
         ("Multi-label: any number of labels per text", "multi_label"),
         ("Sentence pair: one label per pair of texts", "pair")]


def create_dataset(services: Services, name: str, task: str, labels: str, description: str,
                   actor: Actor) -> DatasetInfo:
    return services.datasets.create((name or "").strip(), task, labels or "", actor=actor,
                                    description=(description or "").strip())


def edit_labels(services: Services, dataset: str | None, action: str, actor: Actor, *, label: str = "",
                new_name: str = "") -> tuple[DatasetInfo, str]:
    """Apply one label edit ('add', 'rename', 'retire'); returns the new info and what happened."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    label, new_name = (label or "").strip(), (new_name or "").strip()
    if action == "add":
        if not new_name:
            raise InvalidInputError("type the new label's name")
        return services.datasets.add_label(dataset, new_name, actor=actor), f"added label {new_name!r}"
    if not label:
        raise InvalidInputError(f"choose the label to {action}")
    if action == "rename":
        if not new_name:
            raise InvalidInputError(f"type the new name for {label!r}")
        return (services.datasets.rename_label(dataset, label, new_name, actor=actor),
                f"renamed {label!r} to {new_name!r} (its annotations follow)")
    if action == "retire":
        return (services.datasets.retire_label(dataset, label, actor=actor),
                f"retired {label!r}: hidden from labelling and training; add it again to bring it back")
    raise InvalidInputError(f"unknown label action {action!r}")


def set_retrain_every(services: Services, dataset: str | None, every: float | None, actor: Actor
                      ) -> tuple[RetrainStatus, str]:
    """Fine-tune `dataset` automatically after every `every` new labels (0: never; empty: the app's default)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    if every is not None and (every != int(every)):
        raise InvalidInputError(f"type a whole number of labels, e.g. 200 (0: never); got {every}")
    status = services.retrain.set_every(dataset, None if every is None else int(every), actor=actor)
    if not status.every:
        return status, "no automatic fine-tunes: train from the Train tab"
    return status, (f"fine-tunes automatically after every {status.every} new labels"
                    f"{' (the app default)' if status.default else ''}; {status.remaining} to go")


def set_audit_percent(services: Services, dataset: str | None, percent: float | None, actor: Actor
                      ) -> tuple[AuditStatus, str]:
    """Reserve `percent` % of the dataset's examples for evaluation (0 or empty: none)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    if percent is not None and not 0 <= percent <= 100 * MAX_AUDIT_SHARE:
        raise InvalidInputError(f"type a percentage from 0 to {100 * MAX_AUDIT_SHARE:g}, e.g. 10; got {percent:g}")
    status = services.datasets.set_audit_share(dataset, (percent or 0) / 100, actor=actor)
    return status, status.describe()


def create_manage_panel(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Accordion("Datasets and labels", open=False) as panel:
        with gr.Row(equal_height=False):
            with gr.Column():
                gr.Markdown("#### New dataset\nThe task type is fixed once created; labels can change later.")
                name = gr.Textbox(label="Name", placeholder="e.g. reviews", elem_id="ftd-new-dataset")
                task = gr.Radio(TASKS, value="single_label", label="Task")
                labels = gr.Textbox(label="Labels", placeholder="positive, negative",
                                    info="comma-separated; labels may not contain ',' or '|'",
                                    elem_id="ftd-new-labels")
                description = gr.Textbox(label="Description (optional)")
                create = gr.Button("Create dataset", variant="primary", elem_id="ftd-create-dataset")
            with gr.Column():
                gr.Markdown("#### Labels of the current dataset\n"
                            "Renaming keeps every annotation; retiring hides a label without deleting history.")
                current = gr.HTML()
                with gr.Row():
                    existing = gr.Dropdown(label="Label", scale=1)
                    new_name = gr.Textbox(label="New name", scale=1)
                with gr.Row():
                    add = gr.Button("Add as new label", size="sm")
                    rename = gr.Button("Rename", size="sm")
                    retire = gr.Button("Retire", size="sm", variant="stop")
                with gr.Row(equal_height=True):
                    every = gr.Number(label="Fine-tune automatically after every N new labels", precision=0,
                                      minimum=0, info="0: never; empty: the app's default (FTDEMO_RETRAIN_EVERY)",
                                      scale=2, elem_id="ftd-retrain-every")
                    save_every = gr.Button("Save", size="sm", scale=0, min_width=80)
                overlap = add_overlap_controls(ctx)  # beside it: how many annotators label each example
                with gr.Row(equal_height=True):
                    audit = gr.Number(label="Audit sample: % of examples reserved for evaluation", minimum=0,
                                      maximum=100 * MAX_AUDIT_SHARE, info="never trained on nor picked by the model; "
                                      "the Models tab reports each version's accuracy on them. 0: none",
                                      scale=2, elem_id="ftd-audit-share")
                    save_audit = gr.Button("Save", size="sm", scale=0, min_width=80)
        message = gr.HTML()

    def _labels_view(info: DatasetInfo | None) -> dict:
        if info is None:
            return {current: "", existing: gr.update(choices=[], value=None)}
        retired = f" · retired: {html.esc(', '.join(info.retired_labels))}" if info.retired_labels else ""
        text = f'<div class="ftd-msg ok">{html.esc(", ".join(info.labels))}{retired}</div>'
        return {current: text, existing: gr.update(choices=info.labels + info.retired_labels, value=None)}

    def _every_view(dataset: str | None) -> dict:
        if not dataset:
            return {every: None, audit: None}
        status = services.retrain.status(dataset)
        return {every: None if status.default else status.every,
                audit: round(100 * services.datasets.audit(dataset).share, 2)}

    @guard(message)
    @ctx.anyone
    def on_dataset(dataset: str | None) -> dict:
        return {**_labels_view(services.datasets.info(dataset) if dataset else None), **_every_view(dataset)}

    @guard(message)
    @ctx.admin("change when a dataset fine-tunes automatically")
    def on_every(dataset: str | None, value: float | None, who: str, bump: int, request: gr.Request) -> dict:
        _, note = set_retrain_every(services, dataset, value, ctx.actor(request, who))
        return {**_every_view(dataset), message: html.message(note), ctx.refresh: (bump or 0) + 1}

    @guard(message)
    @ctx.admin("change a dataset's audit sample")
    def on_audit(dataset: str | None, value: float | None, who: str, bump: int, request: gr.Request) -> dict:
        _, note = set_audit_percent(services, dataset, value, ctx.actor(request, who))
        return {**_every_view(dataset), message: html.message(note), ctx.refresh: (bump or 0) + 1}

    @guard(message)
    @ctx.admin("create datasets")
    def on_create(name_: str, task_: str, labels_: str, description_: str, who: str, request: gr.Request) -> dict:
        info = create_dataset(services, name_, task_, labels_, description_, ctx.actor(request, who))
        return {ctx.dataset: gr.update(choices=services.datasets.names(), value=info.name),
                name: "", labels: "", description: "",
                message: html.message(f"created {info.name} ({info.task}; labels: {', '.join(info.labels)})")}

    def on_label(action: str) -> Any:
        @guard(message)
        @ctx.admin("edit labels")
        def handler(dataset: str | None, label: str, new: str, who: str, bump: int, request: gr.Request) -> dict:
            info, note = edit_labels(services, dataset, action, ctx.actor(request, who), label=label, new_name=new)
            return {**_labels_view(info), new_name: "", message: html.message(note), ctx.refresh: (bump or 0) + 1}

        return handler

    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, ctx.refresh.change):
        trigger(on_dataset, [ctx.dataset], [current, existing, every, audit, message], **quiet)  # message: errors only
    save_every.click(on_every, [ctx.dataset, every, ctx.annotator, ctx.refresh], [every, audit, message, ctx.refresh],
                     **quiet)
    save_audit.click(on_audit, [ctx.dataset, audit, ctx.annotator, ctx.refresh], [every, audit, message, ctx.refresh],
                     **quiet)
    create.click(on_create, [name, task, labels, description, ctx.annotator],
                 [ctx.dataset, name, labels, description, message], **quiet)
    for button, action in ((add, "add"), (rename, "rename"), (retire, "retire")):
        button.click(on_label(action), [ctx.dataset, existing, new_name, ctx.annotator, ctx.refresh],
                     [current, existing, new_name, message, ctx.refresh], **quiet)
    ctx.admin_only.append(panel)
    return dict(panel=panel, name=name, task=task, labels=labels, description=description, create=create,
                current=current, existing=existing, new_name=new_name, add=add, rename=rename, retire=retire,
                every=every, save_every=save_every, audit=audit, save_audit=save_audit, message=message,
                overlap=overlap)

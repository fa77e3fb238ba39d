"""Data tab panel: agreement between annotators (the kappa matrix, alpha and Fleiss' kappa with their
intervals, per label) and the examples they disagree on (a row opens the example and its history in the
Data tab's editor); and the overlap setting, shown beside "fine-tune every N labels" (admins only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gradio as gr
import pandas as pd

from ftdemo.errors import InvalidInputError
from ftdemo.explain.render import score_color
from ftdemo.services import Services
from ftdemo.ui import html
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.html import esc

CONFLICTS_SHOWN = 50


# --- pure views ---------------------------------------------------------------------------------------------


def estimate_text(est: Mapping[str, Any], key: str = "value") -> str:
    """'0.712 (95% interval 0.58 to 0.82, 80 items)', or why there is no value."""
    if est.get(key) is None:
        return f"undefined ({est.get('items', 0)} items: too few, or one label only)"
    interval = f"interval {est['low']:.2f} to {est['high']:.2f}, " if est.get("low") is not None else ""
    return f"{est[key]:.3f} ({interval}{est['items']} items)"


def kappa_matrix_html(names: Sequence[str], matrix: Sequence[Sequence[float | None]]) -> str:
    """The annotator × annotator Cohen's kappa as an HTML heatmap (like the confusion matrix); '—' where
    two annotators share no example."""
    if len(names) < 2:
        return '<div class="ftd-msg ok">No two annotators have labelled the same example yet.</div>'
    head = "".join(f"<th>{esc(n)}</th>" for n in names)
    body = []
    for name, row in zip(names, matrix):
        cells = []
        for value in row:
            if value is None:
                cells.append('<td class="ftd-cm-cell" title="no example labelled by both">—</td>')
                continue
            rgb = score_color(max(float(value), 0.0), 1.0, signed=False)
            luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
            ink = "#fff" if luminance < 0.55 else "#111"
            cells.append(f'<td class="ftd-cm-cell" style="background:rgb{rgb};color:{ink}">{value:.2f}</td>')
        body.append(f'<tr><th class="ftd-cm-row">{esc(name)}</th>{"".join(cells)}</tr>')
    return (f'<div class="ftd-cm" id="ftd-kappa-matrix"><table><tr><th class="ftd-cm-corner">Cohen\'s kappa</th>'
            f'{head}</tr>{"".join(body)}</table><div class="ftd-cm-caption">1: always agree · 0: no better than '
            f'chance · below 0: worse than chance</div></div>')


def summary_html(result: Mapping[str, Any]) -> str:
    """Krippendorff's alpha, Fleiss' kappa and the per-label values in words and numbers."""
    if not result.get("overlap_items"):
        return html.message("No example has two or more annotators yet: set an overlap share (admins, "
                            "Datasets and labels) so the queue hands some examples to several annotators.")
    level = f"{result['interval']['level']:.0%}"
    fleiss = result["fleiss_kappa"]
    lines = [f"Over <b>{result['overlap_items']}</b> examples labelled by two or more annotators "
             f"({level} bootstrap intervals):",
             f"Krippendorff's alpha: <b>{esc(estimate_text(result['krippendorff_alpha']))}</b>",
             f"Fleiss' kappa: <b>{esc(estimate_text(fleiss))}</b>"
             + (f" on the examples with {fleiss['raters']} annotators" if fleiss.get("raters") else "")]
    rows = "".join(f"<li>{esc(label)}: alpha {esc(estimate_text(v['krippendorff_alpha']))}</li>"
                   for label, v in result.get("per_label", {}).items())
    return (f'<div class="ftd-msg ok" id="ftd-agreement-summary">{"<br>".join(lines)}'
            f'<br>Per label (chosen or not):<ul>{rows}</ul></div>')


def conflicts_frame(views: Sequence[Any]) -> pd.DataFrame:
    """The examples annotators disagree on: id (a click opens it), text, who chose what now."""
    rows = []
    for v in views:
        now: dict[str, str] = {}
        for row in v.history:  # oldest first: the last row of each annotator is their current state
            now[row["annotator"]] = ", ".join(row["labels"]) if row["kind"] == "label" else ""
        rows.append({"id": v.id, "text": v.text if len(v.text) <= 90 else v.text[:89] + "…",
                     "labels now": "; ".join(f"{who}: {labels}" for who, labels in sorted(now.items()) if labels),
                     "agreement": f"{v.agreement:.0%}"})
    return pd.DataFrame(rows, columns=["id", "text", "labels now", "agreement"])


# --- the panel ----------------------------------------------------------------------------------------------


def create_agreement_panel(ctx: UIContext) -> dict[str, Any]:
    """The panel; its `conflicts` table's first column is the example id, so the Data tab wires a row click
    to its editor (which shows the example's history)."""
    services: Services = ctx.services
    with gr.Accordion("Agreement between annotators", open=False) as panel:
        with gr.Row():
            compute = gr.Button("Compute agreement", size="sm", scale=0, min_width=180, elem_id="ftd-agreement")
            gr.Markdown("Cohen's kappa per pair, Fleiss' kappa and Krippendorff's alpha over the examples two or "
                        "more annotators labelled, with bootstrap intervals.")
        with gr.Row(equal_height=False):
            matrix = gr.HTML()
            summary = gr.HTML()
        gr.Markdown("Examples the annotators disagree on (select one to see it and its history above):")
        conflicts = gr.Dataframe(interactive=False, wrap=True, max_height=360, show_label=False,
                                 elem_id="ftd-conflicts")
        message = gr.HTML()

    @guard(message)
    @ctx.anyone
    def on_compute(dataset: str | None) -> dict:
        if not dataset:
            return {matrix: "", summary: "", conflicts: conflicts_frame([]), message: ""}
        result = services.agreement.agreement(dataset)
        found = services.annotate.conflicts(dataset, CONFLICTS_SHOWN)
        return {matrix: kappa_matrix_html(result.annotators, result.kappa_matrix()),
                summary: summary_html(result.to_dict()), conflicts: conflicts_frame(found), message: ""}

    compute.click(on_compute, [ctx.dataset], [matrix, summary, conflicts, message], show_progress="minimal", **PRIVATE)
    return dict(panel=panel, compute=compute, matrix=matrix, summary=summary, conflicts=conflicts, message=message)


def add_overlap_controls(ctx: UIContext) -> dict[str, Any]:
    """The overlap row of the Datasets and labels panel (called inside its layout): share, k, Save and a
    status line."""
    services: Services = ctx.services
    with gr.Row(equal_height=True):
        share = gr.Number(label="Share of examples for several annotators", minimum=0, maximum=1, step=0.05,
                          info="0..1, for agreement; 0: each example to one annotator", scale=2,
                          elem_id="ftd-overlap-share")
        k = gr.Number(label="Annotators each", precision=0, minimum=2, maximum=50, value=2, scale=1,
                      elem_id="ftd-overlap-k")
        save = gr.Button("Save", size="sm", scale=0, min_width=80, elem_id="ftd-overlap-save")
    message = gr.HTML()

    def _view(dataset: str | None) -> dict:
        if not dataset:
            return {share: None, k: 2}
        setting = services.agreement.overlap(dataset)
        return {share: setting.share, k: setting.k}

    @guard(message)
    @ctx.anyone
    def on_dataset(dataset: str | None) -> dict:
        return _view(dataset)

    @guard(message)
    @ctx.admin("change how many annotators label each example")
    def on_save(dataset: str | None, share_: float | None, k_: float | None, who: str, request: gr.Request) -> dict:
        if not dataset:
            raise InvalidInputError("choose a dataset first")
        setting = services.agreement.set_overlap(dataset, 0.0 if share_ is None else float(share_),
                                                 2 if k_ is None else k_, actor=ctx.actor(request, who))
        return {**_view(dataset), message: html.message(setting.message)}

    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, ctx.refresh.change):
        trigger(on_dataset, [ctx.dataset], [share, k, message], **quiet)
    save.click(on_save, [ctx.dataset, share, k, ctx.annotator], [share, k, message], **quiet)
    return dict(share=share, k=k, save=save, message=message)

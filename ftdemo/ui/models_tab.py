"""Models tab: the dataset's model versions and their quality; activate, roll back, delete (admins),
download any version as a zip.

The logic functions take plain values and return a ModelsScreen; `create_models_tab` wires them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, DatasetInfo, Services
from ftdemo.ui import html, plots
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.downloads import fresh_folder
from ftdemo.ui.train_form import display_model

VERSION_COLUMNS = ["version", "status", "val acc.", "val macro-F1", "test acc.", "test macro-F1",
                   "vs active (points)", "audit acc.", "created (UTC)", "MB", "reason (activation guard)"]
COLUMN_WIDTHS = ["6%", "8%", "6%", "7%", "6%", "7%", "9%", "9%", "11%", "5%", "26%"]
SPLITS = [("Validation", "validation"), ("Test", "test")]
STATUS_WORDS = {"active": "● active", "candidate": "candidate (never active)", "previous": "previously active"}


@dataclass
class ModelsScreen:
    info: DatasetInfo | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    disk_mb: float = 0.0
    selected: dict[str, Any] | None = None
    split: str = "validation"
    message: str = ""
    audit: str = ""  # the dataset's audit sample in words ("" when it has none)


# --- logic -------------------------------------------------------------------------------------


def load_models(services: Services, dataset: str | None, *, selected: str | None = None, split: str = "validation",
                message: str = "") -> ModelsScreen:
    """The dataset's versions; `selected` (else the active one, else the newest) is shown in detail."""
    if not dataset:
        return ModelsScreen(message=message)
    versions = services.models.list(dataset)
    chosen = (next((v for v in versions if v["version"] == selected), None)
              or next((v for v in versions if v["active"]), None) or (versions[0] if versions else None))
    audit = services.datasets.audit(dataset)
    return ModelsScreen(services.datasets.info(dataset), versions, services.models.disk_usage_mb(dataset), chosen,
                        split if split in dict(map(reversed, SPLITS)) else "validation", message,
                        f"audit sample: {audit.labelled} labelled of {audit.examples}" if audit.share else "")


def _need(dataset: str | None, version: str | None) -> tuple[str, str]:
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    if not version:
        raise InvalidInputError("select a version in the table first")
    return dataset, version


def activate_version(services: Services, dataset: str | None, version: str | None, actor: Actor,
                     split: str = "validation") -> ModelsScreen:
    dataset, version = _need(dataset, version)
    services.models.activate(dataset, version, actor=actor)
    return load_models(services, dataset, selected=version, split=split,
                       message=f"{version} is now active: predictions use it from the next request")


def roll_back(services: Services, dataset: str | None, actor: Actor, split: str = "validation") -> ModelsScreen:
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    item = services.models.rollback(dataset, actor=actor)
    return load_models(services, dataset, selected=item["version"], split=split,
                       message=f"rolled back: {item['version']} is active again")


def delete_version(services: Services, dataset: str | None, version: str | None, actor: Actor,
                   split: str = "validation") -> ModelsScreen:
    dataset, version = _need(dataset, version)
    services.models.delete(dataset, version, actor=actor)
    return load_models(services, dataset, split=split, message=f"{version} and its files are deleted")


def prune_versions(services: Services, dataset: str | None, keep: float | None, actor: Actor,
                   split: str = "validation") -> ModelsScreen:
    """Delete all but the active, the previously active and the newest `keep` versions (admins)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    if keep is None or keep != int(keep) or keep < 0:
        raise InvalidInputError(f"type how many recent versions to keep, a whole number (0 or more); got {keep}")
    out = services.models.prune(dataset, int(keep), actor=actor)
    note = (f"deleted {', '.join(out['deleted'])}: {out['freed_mb']:,.1f} MB freed" if out["deleted"]
            else "nothing to delete")
    return load_models(services, dataset, split=split, message=f"{note}; kept {', '.join(out['kept'])}")


def zip_version(services: Services, dataset: str | None, version: str | None) -> Path:
    """A zip of the version in a fresh temp folder (old ones are swept)."""
    dataset, version = _need(dataset, version)
    return services.models.zip(dataset, version, fresh_folder(services.settings.temp_file_hours))


def versions_frame(versions: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for v in versions:
        val = plots.split_metrics(v.get("metrics"), "validation")
        test = plots.split_metrics(v.get("metrics"), "test")
        rows.append([v["version"], STATUS_WORDS.get(v["status"], v["status"]),
                     plots.fmt_score(val.get("accuracy")), plots.fmt_score(val.get("macro_f1")),
                     plots.fmt_score(test.get("accuracy")), plots.fmt_score(test.get("macro_f1")),
                     comparison_cell(v.get("comparison")), audit_cell(v.get("audit")),
                     plots.fmt_time(v.get("created_at")), "" if v.get("size_mb") is None else v["size_mb"],
                     v.get("reason") or ""])
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def comparison_cell(comparison: dict[str, Any] | None) -> str:
    """'+2.1 ± 3.0 (30)': candidate − active in points on the same validation rows, and how many rows."""
    if not comparison or comparison.get("difference") is None:
        return "not compared" if comparison else ""
    half = (comparison["high"] - comparison["low"]) / 2
    return f"{100 * comparison['difference']:+.1f} ± {100 * half:.1f} ({int(comparison['n'])})"


def audit_cell(audit: dict[str, Any] | None) -> str:
    """'0.812 (0.75–0.86)': accuracy on the labelled audit examples with its 95% interval."""
    if not audit or audit.get("accuracy") is None:
        return ""
    return f"{audit['accuracy']:.3f} ({audit['low']:.2f}–{audit['high']:.2f})"


def selection_html(v: dict[str, Any]) -> str:
    """The version's paired comparison with the model active when it was trained, and its audit accuracy, in
    words."""
    from ftdemo.models.selection import describe_accuracy

    lines = []
    comparison = v.get("comparison") or {}
    if comparison.get("words"):
        lines.append(f"Compared on the same rows when trained: {comparison['words']}.")
    elif comparison.get("problem"):
        lines.append(f"Not compared with the active model: {comparison['problem']}.")
    if audit := describe_accuracy(v.get("audit")):
        lines.append(f"Accuracy on the audit sample (never trained on, never picked by the model): {audit}.")
    return "".join(f'<div class="ftd-meta">{html.esc(line)}</div>' for line in lines)


def version_header(v: dict[str, Any], info: DatasetInfo) -> str:
    facts = [f"<b>{html.esc(v['version'])}</b>", html.esc(STATUS_WORDS.get(v["status"], v["status"]).lstrip("● ")),
             f"base model {html.esc(display_model(v.get('base_model') or ''))}"]
    if v.get("run_id"):
        facts.append(f"run #{int(v['run_id'])}")
    if v.get("activated_at"):
        facts.append(f"last activated {html.esc(plots.fmt_time(v['activated_at']))} UTC")
    reason = f'<div class="ftd-meta">{html.esc(v["reason"])}</div>' if v.get("reason") else ""
    return f'<div class="ftd-version-head">{" · ".join(facts)}</div>{reason}{selection_html(v)}'


def summary_html(screen: ModelsScreen) -> str:
    n = len(screen.versions)
    active = next((v["version"] for v in screen.versions if v["active"]), None)
    parts = [f"<b>{n}</b> version{'s' if n != 1 else ''}",
             f"active: <b>{html.esc(active)}</b>" if active else "none active",
             f"{screen.disk_mb:,.1f} MB on disk", *([html.esc(screen.audit)] if screen.audit else []),
             "select a row for its confusion matrix and per-label scores"]
    return f'<div class="ftd-msg ok">{" · ".join(parts)}</div>'


# --- rendering -----------------------------------------------------------------------------------


def render(screen: ModelsScreen, e: dict[str, Any]) -> dict[Any, Any]:
    info, v = screen.info, screen.selected
    has = bool(screen.versions)
    if info is None:
        empty = html.empty(html.NO_DATASET)
    elif not has:
        empty = html.empty(f"No models for “{info.name}” yet. Train one in the Train tab.")
    else:
        empty = ""
    metrics = plots.split_metrics(v.get("metrics"), screen.split) if v else {}
    labels = list((metrics.get("per_class") or {}).keys()) or (info.labels if info else [])
    multi = bool(info) and info.task == "multi_label"
    out = {
        e["empty"]: gr.update(value=empty, visible=not has),
        e["body"]: gr.update(visible=has),
        e["summary"]: summary_html(screen) if has else "",
        e["table"]: versions_frame(screen.versions),
        e["selected"]: v["version"] if v else None,
        e["pending"]: None,
        e["delete"]: gr.update(value="Delete", interactive=bool(v) and not v["active"]),
        e["activate"]: gr.update(interactive=bool(v) and not v["active"]),
        e["download"]: gr.update(value=f"Download {v['version']} (.zip)" if v else "Download (.zip)",
                                 interactive=bool(v)),
        e["file"]: gr.update(value=None, visible=False),
        e["header"]: version_header(v, info) if v and info else "",
        e["split"]: screen.split,
        e["confusion"]: plots.confusion_html(metrics, labels, multi_label=multi) if v else "",
        e["per_class"]: plots.per_class_frame(metrics),
        e["message"]: html.message(screen.message) if screen.message else "",
    }
    if "prune" in e:  # the prune button and its pending confirmation start again with every redraw
        out.update({e["prune_pending"]: None,
                    e["prune"]: gr.update(value="Prune old versions", interactive=len(screen.versions) > 1)})
    return out


# --- layout and wiring ---------------------------------------------------------------------------


def create_models_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Tab("Models", id="models") as tab:
        empty = gr.HTML(html.empty(html.NO_DATASET), elem_id="ftd-models-empty")
        with gr.Column(visible=False) as body:
            summary = gr.HTML(elem_id="ftd-models-summary")
            table = gr.Dataframe(versions_frame([]), interactive=False, wrap=True, max_height=300,
                                 column_widths=COLUMN_WIDTHS,
                                 elem_id="ftd-models-table", elem_classes="ftd-table", show_label=False)
            with gr.Row():
                activate = gr.Button("Activate", variant="primary", size="sm", scale=0, min_width=110,
                                     elem_id="ftd-models-activate")
                rollback = gr.Button("Roll back", size="sm", scale=0, min_width=110, elem_id="ftd-models-rollback")
                delete = gr.Button("Delete", variant="stop", size="sm", scale=0, min_width=110,
                                   elem_id="ftd-models-delete")
                keep = gr.Number(value=3, precision=0, minimum=0, label="Keep the last", scale=0, min_width=110,
                                 elem_id="ftd-models-keep")
                prune = gr.Button("Prune old versions", size="sm", scale=0, min_width=170, elem_id="ftd-models-prune")
                gr.HTML(scale=1)  # spacer: the download sits at the right
                download = gr.Button("Download (.zip)", size="sm", scale=0, min_width=200,
                                     elem_id="ftd-models-download")
            file = gr.File(label="Model zip", visible=False, interactive=False, elem_id="ftd-models-file")
            message = gr.HTML(elem_id="ftd-models-msg")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    header = gr.HTML(elem_id="ftd-models-header")
                    split = gr.Radio(SPLITS, value="validation", label="Evaluated on", show_label=False,
                                     container=False)
                    confusion = gr.HTML(elem_id="ftd-models-confusion")
                with gr.Column(scale=2):
                    per_class = gr.Dataframe(plots.per_class_frame({}), interactive=False, label="Per label",
                                             elem_id="ftd-models-per-class", elem_classes="ftd-table")
        selected = gr.State(None)
        pending = gr.State(None)  # version waiting for the second click on Delete
        prune_pending = gr.State(None)  # the number to keep, waiting for the second click on Prune
    ctx.admin_only.extend([activate, rollback, delete, keep, prune])
    e: dict[str, Any] = dict(tab=tab, empty=empty, body=body, summary=summary, table=table, activate=activate,
                             rollback=rollback, delete=delete, download=download, file=file, message=message,
                             header=header, split=split, confusion=confusion, per_class=per_class,
                             selected=selected, pending=pending, keep=keep, prune=prune, prune_pending=prune_pending)
    outputs = [empty, body, summary, table, selected, pending, delete, activate, download, file, header, split,
               confusion, per_class, message, prune_pending, prune]

    @guard(message)
    @ctx.anyone
    def on_show(dataset: str | None, chosen: str | None, split_: str) -> dict:
        return render(load_models(services, dataset, selected=chosen, split=split_), e)

    @guard(message)
    @ctx.anyone
    def on_pick(dataset: str | None, split_: str, evt: gr.SelectData) -> dict:
        row = evt.row_value or []
        if not dataset or not row:
            return {}
        return render(load_models(services, dataset, selected=str(row[0]), split=split_), e)

    @guard(message)
    @ctx.admin("activate model versions")
    def on_activate(dataset: str | None, chosen: str | None, split_: str, name: str, request: gr.Request) -> dict:
        return render(activate_version(services, dataset, chosen, ctx.actor(request, name), split_), e)

    @guard(message)
    @ctx.admin("roll back models")
    def on_rollback(dataset: str | None, split_: str, name: str, request: gr.Request) -> dict:
        return render(roll_back(services, dataset, ctx.actor(request, name), split_), e)

    @guard(message)
    @ctx.admin("delete model versions")
    def on_delete(dataset: str | None, chosen: str | None, waiting: str | None, split_: str, name: str,
                  request: gr.Request) -> dict:
        if chosen and waiting == chosen:
            return render(delete_version(services, dataset, chosen, ctx.actor(request, name), split_), e)
        _need(dataset, chosen)
        return {pending: chosen, delete: gr.update(value=f"Click again to delete {chosen}"),
                message: html.message(f"Delete {chosen} and its files? This cannot be undone; click again to "
                                      "confirm.", error=True)}

    @guard(message)
    @ctx.admin("delete model versions")
    def on_prune(dataset: str | None, keep_: float | None, waiting: float | None, split_: str, name: str,
                 request: gr.Request) -> dict:
        if waiting is not None and keep_ == waiting:
            return render(prune_versions(services, dataset, keep_, ctx.actor(request, name), split_), e)
        if keep_ is None or keep_ < 0:
            raise InvalidInputError("type how many recent versions to keep (0 or more)")
        return {prune_pending: keep_, prune: gr.update(value="Click again to prune"),
                message: html.message(f"Delete every version but the active one, the one active before it and "
                                      f"the last {int(keep_)}, with their files? This cannot be undone; click "
                                      "again to confirm.", error=True)}

    @guard(message)
    @ctx.anyone
    def on_download(dataset: str | None, chosen: str | None) -> dict:
        path = zip_version(services, dataset, chosen)
        return {file: gr.update(value=str(path), visible=True), message: ""}

    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, tab.select, ctx.refresh.change):
        trigger(on_show, [ctx.dataset, selected, split], outputs, **quiet)
    split.input(on_show, [ctx.dataset, selected, split], outputs, **quiet)
    table.select(on_pick, [ctx.dataset, split], outputs, **quiet)
    activate.click(on_activate, [ctx.dataset, selected, split, ctx.annotator], outputs, **quiet)
    rollback.click(on_rollback, [ctx.dataset, split, ctx.annotator], outputs, **quiet)
    delete.click(on_delete, [ctx.dataset, selected, pending, split, ctx.annotator], outputs, **quiet)
    prune.click(on_prune, [ctx.dataset, keep, prune_pending, split, ctx.annotator], outputs, **quiet)
    download.click(on_download, [ctx.dataset, selected], [file, message], show_progress="minimal", **PRIVATE)
    return e

"""Data tab panel: import a file (preview → map columns → import valid rows or nothing) and export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, ImportReport, Services
from ftdemo.services.transfer import Progress
from ftdemo.ui import html
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.downloads import fresh_folder

IMPORT_TYPES = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".zip"]
EXPORT_FORMATS = [("CSV", "csv"), ("CSV for Excel", "excel"), ("JSON lines", "jsonl"), ("Parquet", "parquet")]
EXCEL = "excel"  # a CSV with the byte-order mark Excel needs to read UTF-8
NONE = ""  # a column dropdown's "(none)" choice


def check_upload(services: Services, path: str | None) -> str:
    """The uploaded file's path, refused when missing or over FTDEMO_MAX_UPLOAD_MB (checked server-side too)."""
    if not path:
        raise InvalidInputError("upload a file first")
    limit = services.settings.max_upload_mb
    if os.path.getsize(path) > limit * 1024 * 1024:
        raise InvalidInputError(f"the file is larger than {limit} MB (FTDEMO_MAX_UPLOAD_MB); split it or raise the limit")
    return path


def preview_import(services: Services, dataset: str | None, path: str | None, actor: Actor, *,
                   text_col: str | None = None, pair_col: str | None = None,
                   label_col: str | None = None) -> dict[str, Any]:
    """What importing `path` into `dataset` would do (None for a column: let the importer guess)."""
    if not dataset:
        raise InvalidInputError("choose (or create) the dataset to import into first")
    return services.transfer.preview(dataset=dataset, path=check_upload(services, path), text_col=text_col,
                                     pair_col=pair_col, label_col=label_col, actor=actor)


def run_import(services: Services, dataset: str | None, path: str | None, actor: Actor, *, text_col: str,
               pair_col: str, label_col: str, on_progress: Progress | None = None) -> ImportReport:
    if not dataset:
        raise InvalidInputError("choose the dataset to import into first")
    return services.transfer.import_file(dataset, check_upload(services, path), text_col=text_col or "",
                                         pair_col=pair_col or "", label_col=label_col or "", strict=False, actor=actor,
                                         on_progress=on_progress)


def progress_bar(progress: Any) -> Progress:
    """Import progress (phase, rows done, rows in all or None) as Gradio's progress bar: a count while
    the first pass checks the rows, a bar while the second writes them."""

    def report(phase: str, done: int, total: int | None) -> None:
        progress((done, total), desc=f"{phase} rows", unit="rows")

    return report


def run_export(services: Services, dataset: str | None, fmt: str, actor: Actor) -> dict[str, Any]:
    """Export to a fresh temp folder (Gradio serves files from the temp dir; old ones are swept) and return
    the service's report."""
    if not dataset:
        raise InvalidInputError("choose a dataset to export")
    if fmt not in {f for _, f in EXPORT_FORMATS}:
        raise InvalidInputError(f"choose an export format: {', '.join(f for _, f in EXPORT_FORMATS)}")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in dataset) or "dataset"
    suffix = "csv" if fmt == EXCEL else fmt
    path = fresh_folder(services.settings.temp_file_hours) / f"{safe}.{suffix}"
    return services.transfer.export(dataset, str(path), actor=actor, excel=fmt == EXCEL)


def report_text(report: ImportReport) -> str:
    if not report.committed:
        return f"nothing imported: {len(report.errors)} rows have errors"
    text = f"imported {report.imported} examples ({report.labelled} labelled)"
    if report.duplicates:
        text += f", skipped {report.duplicates} duplicates"
    if report.errors:
        text += f", skipped {len(report.errors)} rows with errors"
    return text


def preview_frame(p: dict[str, Any]) -> pd.DataFrame:
    """The first rows as the file has them, the mapped columns named by their role ("sentiment → label"),
    and what each row becomes: its label(s), "(unlabelled)" or why it is skipped."""
    roles = {column: role for role, column in (p.get("mapping") or {}).items() if column}
    columns = [f"{c} → {roles[c]}" if c in roles else c for c in p.get("columns") or []]
    rows = [list(row) + [outcome] for row, outcome in zip(p.get("rows") or [], p.get("outcome") or [])]
    return pd.DataFrame(rows, columns=[*columns, "imported as"])


def report_frame(report: ImportReport) -> pd.DataFrame:
    """Every row an import left out, and why (errors first, then duplicates), in row order."""
    rows = [[i["row"], "error", i["reason"]] for i in report.errors]
    rows += [[d["row"], "duplicate", d["reason"]] for d in report.duplicate_rows]
    return pd.DataFrame(sorted(rows, key=lambda r: (r[0], r[1])), columns=["row", "kind", "reason"])


def write_report(report: ImportReport, folder: Path, source: str) -> Path | None:
    """The rows left out as a CSV to download (None when every row was imported)."""
    frame = report_frame(report)
    if frame.empty:
        return None
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(source).stem) or "import"
    path = folder / f"{stem}-rows-left-out.csv"
    frame.to_csv(path, index=False)
    return path


def plan_html(summary: dict[str, Any]) -> str:
    counts = ", ".join(f"{html.esc(k)} {v}" for k, v in (summary.get("label_counts") or {}).items())
    return (f'<div class="ftd-msg ok"><b>{summary.get("valid", 0)}</b> of {summary.get("rows", 0)} rows ready to import '
            f'({summary.get("labelled", 0)} labelled{": " + counts if counts else ""}; '
            f'{summary.get("unlabelled", 0)} unlabelled) · {summary.get("duplicates", 0)} duplicates · '
            f'<b>{summary.get("errors", 0)}</b> rows with errors</div>')


def create_transfer_panel(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Accordion("Import a file", open=False) as import_panel:
        gr.Markdown(f"CSV, TSV, JSON lines, Parquet or a zipped Hugging Face `datasets` folder, up to "
                    f"{services.settings.max_upload_mb} MB. You see what would happen before anything is written.")
        upload = gr.File(label="File", file_types=IMPORT_TYPES, height=120, elem_id="ftd-upload")
        with gr.Column(visible=False, variant="panel") as review:
            with gr.Row():
                text_col = gr.Dropdown(label="Text column", scale=1)
                pair_col = gr.Dropdown(label="Second text column", scale=1)
                label_col = gr.Dropdown(label="Label column", scale=1)
            plan = gr.HTML()
            preview = gr.Dataframe(label="First rows", interactive=False, wrap=True, max_height=260,
                                   elem_classes="ftd-table")
            issues = gr.Dataframe(label="Rows that would be skipped", interactive=False, wrap=True, max_height=200,
                                  headers=["row", "reason"], column_widths=["10%", "90%"],
                                  elem_id="ftd-import-issues", elem_classes="ftd-table")
            with gr.Row():
                do_import = gr.Button("Import valid rows", variant="primary", scale=0, min_width=200)
                cancel = gr.Button("Import nothing", scale=0, min_width=200)
        import_msg = gr.HTML()
        # kept after the import: which rows were left out and why, and the same as a file
        with gr.Column(visible=False) as report_box:
            report_table = gr.Dataframe(label="Rows left out by the last import", interactive=False, wrap=True,
                                        max_height=220, elem_id="ftd-import-report", elem_classes="ftd-table")
            report_file = gr.File(label="Download the list (CSV)", interactive=False, elem_id="ftd-import-report-file")
    with gr.Accordion("Export", open=False) as export_panel:
        with gr.Row(equal_height=True):
            fmt = gr.Radio(EXPORT_FORMATS, value="csv", label="Format", scale=2)
            export = gr.Button("Export", scale=0, min_width=120)
        exported = gr.File(label="Download", visible=False, interactive=False)
        export_msg = gr.HTML()

    review_outputs = [review, text_col, pair_col, label_col, plan, preview, issues, import_msg]

    def _review(dataset: str, p: dict[str, Any]) -> dict:
        mapping = p.get("mapping") or {}
        columns = [(c, c) for c in p.get("columns") or []]
        pair = services.datasets.info(dataset).task == "pair"
        none = [("(none)", NONE)]
        return {
            review: gr.update(visible=True),
            text_col: gr.update(choices=columns, value=mapping.get("text") or None),
            pair_col: gr.update(choices=none + columns, value=mapping.get("text_pair") or NONE, visible=pair),
            label_col: gr.update(choices=none + columns, value=mapping.get("label") or NONE),
            plan: plan_html(p.get("summary") or {}),
            preview: preview_frame(p),
            issues: pd.DataFrame([[i["row"], i["reason"]] for i in p.get("errors") or []], columns=["row", "reason"]),
            import_msg: "",
        }

    def _closed(note: str = "") -> dict:
        return {review: gr.update(visible=False), upload: None, import_msg: html.message(note) if note else ""}

    @ctx.anyone
    def on_clear() -> dict:
        return {review: gr.update(visible=False)}

    @ctx.anyone
    def on_cancel() -> dict:
        return _closed("nothing imported")

    @ctx.anyone
    def on_dataset() -> dict:
        return {**_closed(), report_box: gr.update(visible=False)}

    @guard(import_msg)
    @ctx.admin("import data")
    def on_upload(dataset: str | None, path: str | None, request: gr.Request) -> dict:
        if not path:
            return {review: gr.update(visible=False)}
        # a preview records nothing, so the typed name (auth off) does not matter: ctx.actor(request, None)
        return _review(dataset or "", preview_import(services, dataset, path, ctx.actor(request, None)))

    @guard(import_msg)
    @ctx.admin("import data")
    def on_mapping(dataset: str | None, path: str | None, text: str, pair: str, label: str,
                   request: gr.Request) -> dict:
        if not path:
            return {}
        return _review(dataset or "", preview_import(services, dataset, path, ctx.actor(request, None),
                                                     text_col=text or NONE, pair_col=pair or NONE,
                                                     label_col=label or NONE))

    @guard(import_msg)
    @ctx.admin("import data")
    def on_import(dataset: str | None, path: str | None, text: str, pair: str, label: str, who: str, bump: int,
                  request: gr.Request, progress: gr.Progress = gr.Progress()) -> dict:  # noqa: B008 - how gradio injects it
        report = run_import(services, dataset, path, ctx.actor(request, who), text_col=text, pair_col=pair,
                            label_col=label, on_progress=progress_bar(progress))
        listed = write_report(report, fresh_folder(services.settings.temp_file_hours), Path(path or "").name)
        return {**_closed(report_text(report)), ctx.refresh: (bump or 0) + 1,
                report_box: gr.update(visible=listed is not None),
                report_table: report_frame(report), report_file: str(listed) if listed else None}

    @guard(export_msg)
    @ctx.admin("export data")
    def on_export(dataset: str | None, fmt_: str, who: str, request: gr.Request) -> dict:
        result = run_export(services, dataset, fmt_, ctx.actor(request, who))
        return {exported: gr.update(value=result["path"], visible=True),
                export_msg: html.message(f"exported {result['exported']} examples as {result['format']}")}

    quiet = dict(show_progress="hidden", **PRIVATE)
    upload.upload(on_upload, [ctx.dataset, upload], review_outputs, **quiet)
    upload.clear(on_clear, None, [review], **quiet)
    for dropdown in (text_col, pair_col, label_col):
        dropdown.input(on_mapping, [ctx.dataset, upload, text_col, pair_col, label_col], review_outputs, **quiet)
    do_import.click(on_import, [ctx.dataset, upload, text_col, pair_col, label_col, ctx.annotator, ctx.refresh],
                    [review, upload, import_msg, ctx.refresh, report_box, report_table, report_file],
                    show_progress="full", show_progress_on=import_msg, **PRIVATE)
    cancel.click(on_cancel, None, [review, upload, import_msg], **quiet)
    ctx.dataset.change(on_dataset, None, [review, upload, import_msg, report_box], **quiet)
    export.click(on_export, [ctx.dataset, fmt, ctx.annotator], [exported, export_msg], **quiet)
    ctx.admin_only.extend([import_panel, export_panel])
    return dict(import_panel=import_panel, upload=upload, review=review, text_col=text_col, pair_col=pair_col,
                label_col=label_col, plan=plan, preview=preview, issues=issues, do_import=do_import, cancel=cancel,
                import_msg=import_msg, report_box=report_box, report_table=report_table, report_file=report_file,
                export_panel=export_panel, format=fmt, export=export, exported=exported,
                export_msg=export_msg)

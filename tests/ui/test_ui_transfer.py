"""Import (preview → import valid rows) and export from the Data tab."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.ui.transfer_panel import (
    check_upload,
    plan_html,
    preview_frame,
    preview_import,
    progress_bar,
    report_frame,
    report_text,
    run_export,
    run_import,
    write_report,
)


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "upload.csv"
    path.write_text("sentence,label\nnew one,pos\nbad label,posi\ngreat phone,pos\nfresh,\n", encoding="utf-8")
    return path


def test_preview_guesses_columns_and_plans(services, reviews, csv_file, admin) -> None:
    p = preview_import(services, reviews, str(csv_file), admin)
    assert p["columns"] == ["sentence", "label"]
    assert p["mapping"]["text"] == "sentence" and p["mapping"]["label"] == "label"
    assert p["summary"]["valid"] == 2 and p["summary"]["errors"] == 1 and p["summary"]["duplicates"] == 1
    assert any("posi" in e["reason"] for e in p["errors"])
    assert "rows ready to import" in plan_html(p["summary"])
    assert services.datasets.info(reviews).examples == 5  # preview writes nothing


def test_preview_shows_the_mapped_columns_and_what_each_row_becomes(services, reviews, csv_file, admin) -> None:
    frame = preview_frame(preview_import(services, reviews, str(csv_file), admin))
    assert list(frame.columns) == ["sentence → text", "label → label", "imported as"]
    assert frame["imported as"].tolist()[0] == "pos" and frame["imported as"].tolist()[3] == "(unlabelled)"
    assert frame["imported as"].tolist()[1].startswith("skipped: label 'posi'")
    assert frame["imported as"].tolist()[2].startswith("skipped: ")  # "great phone" is already in the dataset


def test_the_rows_an_import_left_out_stay_listed_and_downloadable(services, reviews, csv_file, admin,
                                                                   tmp_path) -> None:
    report = run_import(services, reviews, str(csv_file), admin, text_col="sentence", pair_col="", label_col="label")
    frame = report_frame(report)
    assert frame.values.tolist() == [[2, "error", frame["reason"][0]], [3, "duplicate", frame["reason"][1]]]
    path = write_report(report, tmp_path, "upload.csv")
    assert path.name == "upload-rows-left-out.csv" and path.read_text().splitlines()[0] == "row,kind,reason"
    fresh = tmp_path / "fresh.csv"
    fresh.write_text("sentence,label\nanother new one,neg\n", encoding="utf-8")
    clean = run_import(services, reviews, str(fresh), admin, text_col="sentence", pair_col="", label_col="label")
    assert clean.imported == 1 and write_report(clean, tmp_path, "fresh.csv") is None  # nothing to list


def test_preview_with_no_label_column(services, reviews, csv_file, admin) -> None:
    p = preview_import(services, reviews, str(csv_file), admin, text_col="sentence", pair_col="", label_col="")
    assert p["mapping"]["label"] is None and p["summary"]["errors"] == 0


def test_import_valid_rows(services, reviews, csv_file, admin) -> None:
    report = run_import(services, reviews, str(csv_file), admin, text_col="sentence", pair_col="", label_col="label")
    assert (report.imported, report.duplicates, len(report.errors)) == (2, 1, 1)
    assert report_text(report).startswith("imported 2 examples (1 labelled)")
    assert services.datasets.info(reviews).examples == 7


def test_import_progress_counts_rows_checked_then_a_bar_of_rows_written(services, reviews, csv_file, admin) -> None:
    calls = []

    def bar(progress, desc, unit):  # what gr.Progress is called with
        calls.append((progress, desc, unit))

    run_import(services, reviews, str(csv_file), admin, text_col="sentence", pair_col="", label_col="label",
               on_progress=progress_bar(bar))
    assert calls[0] == ((4, None), "checking rows", "rows")
    assert calls[-1] == ((4, 4), "writing rows", "rows")


def test_annotator_cannot_import_or_export(services, reviews, csv_file, annotator) -> None:
    with pytest.raises(PermissionDeniedError, match="only an admin can import"):
        preview_import(services, reviews, str(csv_file), annotator)
    with pytest.raises(PermissionDeniedError, match="only an admin can import"):
        run_import(services, reviews, str(csv_file), annotator, text_col="sentence", pair_col="", label_col="label")
    with pytest.raises(PermissionDeniedError, match="only an admin can export"):
        run_export(services, reviews, "csv", annotator)


def test_upload_limits(services, reviews, tmp_path, admin) -> None:
    with pytest.raises(InvalidInputError, match="upload a file"):
        check_upload(services, None)
    big = tmp_path / "big.csv"
    big.write_bytes(b"text\n" + b"x" * (services.settings.max_upload_mb * 1024 * 1024 + 1))
    with pytest.raises(InvalidInputError, match="larger than"):
        preview_import(services, reviews, str(big), admin)
    with pytest.raises(InvalidInputError, match="choose"):
        preview_import(services, None, str(big), admin)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_formats(services, reviews, admin, fmt) -> None:
    result = run_export(services, reviews, fmt, admin)
    assert result["exported"] == 5 and result["format"] == fmt
    assert Path(result["path"]).is_file() and result["path"].endswith(f"reviews.{fmt}")


def test_export_for_excel_is_a_csv_with_a_byte_order_mark(services, reviews, admin) -> None:
    result = run_export(services, reviews, "excel", admin)
    assert result["format"] == "csv" and result["path"].endswith("reviews.csv")
    assert Path(result["path"]).read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert not Path(run_export(services, reviews, "csv", admin)["path"]).read_bytes().startswith(b"\xef")


def test_export_refuses_unknown_format(services, reviews, admin) -> None:
    with pytest.raises(InvalidInputError, match="export format"):
        run_export(services, reviews, "xlsx", admin)


def age(path: Path, services) -> None:
    """Make a file's folder look older than FTDEMO_TEMP_FILE_HOURS."""
    old = time.time() - services.settings.temp_file_hours * 3600 - 60
    os.utime(path.parent, (old, old))


def test_old_exports_are_removed_when_the_next_file_is_made(services, reviews, admin) -> None:
    first = Path(run_export(services, reviews, "csv", admin)["path"])
    fresh = Path(run_export(services, reviews, "jsonl", admin)["path"])
    age(first, services)
    latest = Path(run_export(services, reviews, "csv", admin)["path"])
    assert latest.exists() and fresh.exists() and not first.parent.exists()
    assert len({first.parent, fresh.parent, latest.parent}) == 3  # one folder per export: no overwriting

"""Models tab logic against a real SQLite DB and registry: versions, quality views, activate, roll back,
delete (admins only), download."""

from __future__ import annotations

import os
import re
import time
import zipfile
from pathlib import Path

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.ui import plots
from ftdemo.ui.models_tab import (
    activate_version,
    delete_version,
    load_models,
    render,
    roll_back,
    summary_html,
    version_header,
    versions_frame,
    zip_version,
)
from ftdemo.ui.transfer_panel import run_export

FAST = FAST_TRAIN
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def two_versions(services, admin, tiny_model_dir) -> str:
    """Dataset 'kw' with v0001 and v0002 trained; v0001 active."""
    services.datasets.create("kw", "single_label", ["pos", XSS], actor=admin)
    for i in range(40):
        services.annotate.add("kw", f"item {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else XSS],
                              actor=admin)
    for seed in (1, 2):
        run = services.training.train_sync("kw", {**FAST, "seed": seed, "base_model": str(tiny_model_dir)},
                                           actor=admin)
        assert run["status"] == "succeeded", run["error"]
    services.models.activate("kw", "v0001", actor=admin)
    return "kw"


def test_versions_table_and_the_active_version_in_detail(services, two_versions) -> None:
    screen = load_models(services, two_versions)
    assert [v["version"] for v in screen.versions] == ["v0002", "v0001"]
    assert screen.selected["version"] == "v0001" and screen.disk_mb > 0
    table = versions_frame(screen.versions)
    # v0002 went live if the guard let it (then v0001 was activated by hand): its words say which
    was_active = screen.versions[0]["activated_at"] is not None
    assert table["status"].tolist() == ["previously active" if was_active else "candidate (never active)", "● active"]
    assert table.iloc[0]["reason (activation guard)"].startswith("was active until") == was_active
    assert table.iloc[1]["reason (activation guard)"].startswith("activated by hand")
    assert all(len(score) == 5 for score in table["val macro-F1"])  # "0.500"
    assert "2</b> versions" in summary_html(screen) and "v0001" in summary_html(screen)
    # v0002 was compared with v0001 on the same validation rows; there was nothing to compare v0001 with
    n_val = screen.versions[0]["metrics"]["validation"]["n"]
    assert re.fullmatch(rf"[+-]\d+\.\d ± \d+\.\d \({n_val}\)", table.iloc[0]["vs active (points)"])
    assert table.iloc[1]["vs active (points)"] == "" and table["audit acc."].tolist() == ["", ""]  # no audit sample
    header = version_header(screen.versions[0], screen.info)
    assert "Compared on the same rows when trained: " in header and f"on {n_val} validation examples" in header


def test_status_words_and_reasons_match_the_state(services, admin, two_versions) -> None:
    services.models.activate(two_versions, "v0002", actor=admin)
    services.models.activate(two_versions, "v0001", actor=admin)
    listed = {v["version"]: v for v in services.models.list(two_versions)}
    assert listed["v0002"]["status"] == "previous" and listed["v0002"]["reason"].startswith("was active until")
    assert "replaced by v0001" in listed["v0002"]["reason"] and "activated" not in listed["v0002"]["reason"]
    assert listed["v0001"]["status"] == "active" and listed["v0001"]["reason"].startswith("activated by hand")
    screen = load_models(services, two_versions, selected="v0002")
    assert "previously active" in version_header(screen.selected, screen.info)


def test_quality_views_escape_label_names(services, two_versions) -> None:
    screen = load_models(services, two_versions, selected="v0002", split="test")
    assert screen.selected["version"] == "v0002" and screen.split == "test"
    metrics = plots.split_metrics(screen.selected["metrics"], "validation")
    cm = plots.confusion_html(metrics, list(metrics["per_class"]), multi_label=False)
    assert cm.count("<tr>") == 3 and "&lt;img src=x onerror=alert(1)&gt;" in cm and "<img" not in cm
    per_class = plots.per_class_frame(metrics)
    assert per_class["label"].tolist() == ["pos", XSS]  # a Dataframe shows cells as text
    assert {"precision", "recall", "F1", "support"} <= set(per_class.columns)
    names = ["empty", "body", "summary", "table", "selected", "pending", "delete", "activate", "download", "file",
             "header", "split", "confusion", "per_class", "message"]
    out = render(screen, {n: n for n in names})
    assert out["selected"] == "v0002" and out["activate"]["interactive"] and out["body"]["visible"]
    assert "<img" not in out["confusion"] and "<img" not in out["header"]


def test_activate_roll_back_and_delete(services, admin, two_versions) -> None:
    screen = activate_version(services, two_versions, "v0002", admin)
    assert services.models.active(two_versions)["version"] == "v0002" and "v0002 is now active" in screen.message
    screen = roll_back(services, two_versions, admin)
    assert services.models.active(two_versions)["version"] == "v0001" and "v0001 is active again" in screen.message
    with pytest.raises(InvalidInputError, match="is active"):
        delete_version(services, two_versions, "v0001", admin)
    path = next(v["path"] for v in services.models.list(two_versions) if v["version"] == "v0002")
    screen = delete_version(services, two_versions, "v0002", admin)
    assert [v["version"] for v in screen.versions] == ["v0001"] and "deleted" in screen.message
    assert not __import__("os").path.exists(path)


def test_annotators_are_refused(services, annotator, two_versions) -> None:
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        activate_version(services, two_versions, "v0002", annotator)
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        roll_back(services, two_versions, annotator)
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        delete_version(services, two_versions, "v0002", annotator)
    assert len(services.models.list(two_versions)) == 2


def test_download_is_a_zip_of_the_version(services, two_versions) -> None:
    path = zip_version(services, two_versions, "v0001")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "v0001/metadata.json" in names and any(n.endswith(".safetensors") for n in names)
    with pytest.raises(InvalidInputError, match="select a version"):
        zip_version(services, two_versions, None)


def test_old_downloads_of_any_kind_are_removed_when_a_zip_is_made(services, admin, two_versions) -> None:
    """Model zips and exports share one folder and one clean-up (FTDEMO_TEMP_FILE_HOURS)."""
    export = Path(run_export(services, two_versions, "csv", admin)["path"])
    old_zip = zip_version(services, two_versions, "v0001")
    past = time.time() - services.settings.temp_file_hours * 3600 - 60
    for folder in (export.parent, old_zip.parent):
        os.utime(folder, (past, past))
    assert zip_version(services, two_versions, "v0002").exists()
    assert not export.parent.exists() and not old_zip.parent.exists()


def test_empty_states(services, reviews) -> None:
    names = ["empty", "body", "summary", "table", "selected", "pending", "delete", "activate", "download", "file",
             "header", "split", "confusion", "per_class", "message"]
    out = render(load_models(services, reviews), {n: n for n in names})
    assert "Train one in the Train tab" in out["empty"]["value"] and out["body"]["visible"] is False
    out = render(load_models(services, None), {n: n for n in names})
    assert "No dataset chosen" in out["empty"]["value"]

"""Training runs through the store: child processes, progress rows, cancel, crash, guard, rollback."""

import os
import signal

import numpy as np
import pytest
from polling import wait_for
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.jobs.runner import Selection, register_version
from ftdemo.models.compare import paired_comparison
from ftdemo.services.training import brief_error
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.training.config import MAX_EPOCHS

FAST = {**FAST_TRAIN, "epochs": 2, "log_every": 1}
# nothing of a run may still write once the services are closed (on PostgreSQL the test's database is dropped then)
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


def LONG(model_dir):  # noqa: N802 - a config constant that needs the fixture's path
    """A run that keeps training until stopped: early stopping would end a toy task in a few epochs."""
    return {**FAST, "epochs": MAX_EPOCHS, "early_stopping_patience": 0, "base_model": str(model_dir)}


@pytest.fixture
def labelled(services, admin):
    """A dataset whose label is decided by a keyword, 120 examples."""
    services.datasets.create("kw", "single_label", "pos,neg", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "kw")
        items = [repo.NewExample(f"example {i} is {'good' if i % 2 else 'bad'} stuff") for i in range(120)]
        ids = repo.add_examples(s, ds, items, created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids)], annotator="t")
    return "kw"


def test_sync_training_registers_an_active_version(services, admin, labelled, tiny_model_dir):
    run = services.training.train_sync(labelled, {**FAST, "base_model": str(tiny_model_dir)}, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    assert run["version"] == "v0001" and run["counts"]["examples"] == 120
    assert {"validation", "test"} <= set(run["metrics"]) and run["environment"]["torch"]
    [version] = services.models.list(labelled)
    assert version["active"] and version["path"] and os.path.isdir(version["path"])
    kinds = [k for _, k, _ in services.training.events(run["id"])]
    assert kinds[0] == "start" and "epoch" in kinds and kinds[-1] == "end"


def test_tiny_data_is_refused_with_the_labels_that_need_more(services, admin):
    services.datasets.create("tiny", "single_label", "a,b", actor=admin)
    for text, lab in (("one", "a"), ("two", "a"), ("three", "a"), ("four", "b")):
        services.annotate.add("tiny", text, labels=[lab], actor=admin)
    with pytest.raises(InvalidInputError, match="b"):
        services.training.train_sync("tiny", FAST, actor=admin)
    assert services.training.runs("tiny") == []  # nothing queued


def test_annotators_cannot_train(services, annotator, labelled):
    with pytest.raises(PermissionDeniedError):
        services.training.start(labelled, FAST, actor=annotator)


def test_child_process_run_reports_progress_and_finishes(services, admin, labelled, tiny_model_dir):
    run = services.training.start(labelled, {**FAST, "base_model": str(tiny_model_dir)}, actor=admin)
    with pytest.raises(InvalidInputError, match="one run at a time"):
        services.training.start(labelled, FAST, actor=admin)
    done = wait_for(lambda: (r := services.training.run(run["id"]))["status"] not in ("queued", "running") and r)
    assert done["status"] == "succeeded", done["error"]
    assert done["environment"]["pid"] != os.getpid()  # it ran in a child process
    assert services.models.active(labelled)["version"] == "v0001"


def test_cancel_stops_the_child_within_a_batch(services, admin, labelled, tiny_model_dir):
    run = services.training.start(labelled, LONG(tiny_model_dir), actor=admin)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in services.training.events(run["id"])))
    assert [(r["id"], r["dataset"]) for r in services.training.live()] == [(run["id"], labelled)]
    assert services.training.run(run["id"])["dataset"] == labelled
    services.training.cancel(run["id"], actor=admin)
    done = wait_for(lambda: (r := services.training.run(run["id"]))["status"] not in ("queued", "running") and r,
                    timeout=30)
    assert done["status"] == "cancelled" and done["version"] == ""
    assert services.models.list(labelled) == []


def test_kill_9_mid_epoch_marks_failed_and_keeps_the_active_model(services, admin, labelled, tiny_model_dir):
    first = services.training.train_sync(labelled, {**FAST, "base_model": str(tiny_model_dir)}, actor=admin)
    run = services.training.start(labelled, LONG(tiny_model_dir), actor=admin)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in services.training.events(run["id"])))
    os.kill(services.training.run(run["id"])["environment"]["pid"], signal.SIGKILL)
    done = wait_for(lambda: (r := services.training.run(run["id"]))["status"] not in ("queued", "running") and r,
                    timeout=30)
    assert done["status"] == "failed" and "SIGKILL" in done["error"]
    assert services.db.integrity_check() == "ok"
    assert services.models.active(labelled)["version"] == first["version"]
    assert [v["version"] for v in services.models.list(labelled)] == ["v0001"]


def test_runs_left_running_by_a_dead_app_become_interrupted(services, admin, labelled):
    with services.db.write() as s:
        ds = repo.get_dataset(s, labelled)
        run = run_repo.create_run(s, ds, {}, {"items": [], "labels": []}, "x", created_by="t")
        run.status, run.pid = "running", 2**22 + 12345  # no such process
        run_id = run.id
    assert services.training.recover() == [run_id]
    assert services.training.run(run_id)["status"] == "interrupted"


def test_guard_compares_on_the_same_rows_and_keeps_unclear_candidates(services, admin, labelled, tiny_model_dir):
    m = {"validation": {"macro_f1": 0.5, "accuracy": 0.6}}
    right = np.ones(60)
    unclear = np.r_[np.ones(57), np.zeros(3)]  # 3 rows worse than the active model: within the noise
    with services.db.write() as s:
        ds = repo.get_dataset(s, labelled)
        runs = [run_repo.create_run(s, ds, {}, {"items": [], "labels": []}, str(i), created_by="t").id for i in range(4)]
        first = register_version(s, runs[0], "v0001", "m", m, margin=0.01)
        assert first == {"active": True, "reason": "no active model to compare with; activated"}
        kept = register_version(s, runs[1], "v0002", "m", m, margin=0.01, selection=Selection(
            "v0001", paired_comparison(unclear, right), "correct"))
        stale = register_version(s, runs[2], "v0003", "m", m, margin=0.01, selection=Selection(
            "v0000", paired_comparison(right, np.zeros(60)), "correct"))
        better = register_version(s, runs[3], "v0004", "m", m, margin=0.01, selection=Selection(
            "v0001", paired_comparison(right, unclear - np.r_[np.ones(20), np.zeros(40)]), "correct"))
    assert not kept["active"] and kept["reason"].startswith(
        "worse than the active model (v0001) by 5.0 ± ") and "on 60 validation examples (accuracy): not clearly different; " \
        "kept as candidate" in kept["reason"]
    assert not stale["active"] and "v0001 went live while this version was being compared with v0000" in stale["reason"]
    assert better["active"] and "clearly better; activated" in better["reason"]
    with services.db.read() as s:
        ds = repo.get_dataset(s, labelled)
        assert run_repo.active_version(s, ds).version == "v0004"
        assert [run_repo.get_version(s, ds, v).status for v in ("v0001", "v0002", "v0003")] == \
            ["previous", "candidate", "candidate"]


@pytest.mark.parametrize(("error", "brief"), [
    ("OSError: no file '/srv/data/models/x/config.json'\nTraceback ...", "OSError: no file '…/config.json'"),
    ('  \nValueError: bad value in C:\\Users\\ada\\model\\w.bin\n  File "/opt/x.py"', "ValueError: bad value in …/w.bin"),
    ("could not reach https://huggingface.co/bert-base-uncased/resolve", "could not reach https://huggingface.co/bert-base-uncased/resolve"),
    ("training run 3 failed: 1/2 of the labels are missing", "training run 3 failed: 1/2 of the labels are missing"),
    (None, None), ("", ""),
])
def test_brief_error_is_the_first_line_without_server_paths(error, brief):
    assert brief_error(error) == brief


def test_annotators_read_runs_with_brief_errors(services, admin, annotator, labelled, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    run = services.training.train_sync(labelled, {**FAST, "base_model": str(broken)}, actor=admin)
    assert run["status"] == "failed" and "Traceback" in run["error"]
    for read in (lambda actor: services.training.run(run["id"], actor=actor),
                 lambda actor: services.training.runs(labelled, actor=actor)[0]):
        assert read(admin)["error"] == run["error"] == read(None)["error"]
        assert read(annotator)["error"] == brief_error(run["error"]) and str(tmp_path) not in read(annotator)["error"]

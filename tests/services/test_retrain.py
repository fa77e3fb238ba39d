"""Retraining as labels arrive: a run starts once at N new labels, never while a run of the dataset is live."""

import pytest
from polling import wait_for
from tiny import FAST_TRAIN, keyword_dataset

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor, Services
from ftdemo.store import repo

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
BOB = Actor("bob", "annotator")


def _unlabelled(services, name, n):
    with services.db.write() as s:
        return repo.add_examples(s, repo.get_dataset(s, name), [repo.NewExample(f"{name} new {i} is good")
                                                                for i in range(n)], created_by="t")


def _auto_runs(services, name):
    return [r for r in services.training.runs(name) if r["created_by"] == "auto"]


def test_a_run_starts_once_at_n_new_labels_and_trains(services, admin, tiny_model_dir):
    keyword_dataset(services, "kw")  # 60 imported labels: an import is not "new labels" made here
    fast = {**FAST_TRAIN, "base_model": str(tiny_model_dir)}
    first = services.training.train_sync("kw", fast, actor=admin)  # the settings later runs reuse
    ids = _unlabelled(services, "kw", 12)
    status = services.retrain.set_every("kw", 5, actor=admin)
    assert (status.every, status.new_labels, status.remaining, status.running, status.default) == (5, 0, 5, False, False)
    for i in ids[:4]:
        services.annotate.label("kw", i, "pos", actor=BOB)
    assert services.retrain.status("kw").remaining == 1 and _auto_runs(services, "kw") == []
    services.annotate.label("kw", ids[4], "pos", actor=BOB)  # the fifth
    [run] = _auto_runs(services, "kw")
    assert run["config"]["epochs"] == first["config"]["epochs"] == FAST_TRAIN["epochs"]  # the last good run's settings
    assert services.retrain.status("kw").new_labels == 0  # the run holds them
    done = wait_for(lambda: (r := services.training.run(run["id"]))["status"] not in ("queued", "running") and r)
    assert done["status"] == "succeeded", done["error"]
    assert done["counts"]["examples"] == 65 and done["version"]
    assert len(_auto_runs(services, "kw")) == 1  # once


def test_never_while_a_run_is_live_then_once_it_ends(settings, admin):
    """With FTDEMO_TRAINING=workers and no worker, the automatic run stays queued: a live run, for as long as
    the test likes. Labels made meanwhile start nothing; once it ends, the next label starts the next run."""
    services = Services(settings.replace(training="workers"))
    try:
        keyword_dataset(services, "kw")
        ids = _unlabelled(services, "kw", 20)
        services.retrain.set_every("kw", 3, actor=admin)
        for i in ids[:3]:
            services.annotate.label("kw", i, "pos", actor=BOB)
        [queued] = _auto_runs(services, "kw")
        assert queued["status"] == "queued" and queued["waiting_for_worker"]
        result = services.annotate.label_many("kw", ids[3:12], "neg", actor=BOB)  # 9 more: 3 times N
        assert result.labelled == 9 and len(_auto_runs(services, "kw")) == 1
        status = services.retrain.status("kw")
        assert (status.new_labels, status.remaining, status.running) == (9, 0, True)
        services.training.cancel(queued["id"], actor=admin)
        assert services.retrain.status("kw").running is False
        services.annotate.label("kw", ids[12], "pos", actor=BOB)
        runs = _auto_runs(services, "kw")
        assert len(runs) == 2 and runs[0]["counts"]["examples"] == 73  # newest first: all labels so far
    finally:
        services.close()


def test_off_by_default_in_tests_and_when_zero(services, admin):
    keyword_dataset(services, "kw")
    ids = _unlabelled(services, "kw", 4)
    assert services.retrain.status("kw").every == 0 and services.retrain.status("kw").remaining is None
    services.annotate.label_many("kw", ids, "pos", actor=BOB)
    assert services.retrain.status("kw").new_labels == 4 and services.training.runs("kw") == []


def test_the_count_follows_labels_made_here_and_their_undo(services, admin):
    keyword_dataset(services, "kw")
    ids = _unlabelled(services, "kw", 6)
    services.retrain.set_every("kw", 100, actor=admin)
    services.annotate.label("kw", ids[0], "pos", actor=BOB)
    services.annotate.label("kw", ids[0], "pos", actor=BOB)  # no change: no new label
    services.annotate.add("kw", "typed with its label", labels=["neg"], actor=BOB)
    services.annotate.label_many("kw", ids[1:5], "neg", actor=BOB)
    assert services.retrain.status("kw").new_labels == 6
    services.annotate.undo("kw", actor=BOB)  # the bulk action: 4 labels taken back
    assert services.retrain.status("kw").remaining == 98


def test_setting_n_is_for_admins_and_checked(services, admin):
    keyword_dataset(services, "kw")
    with pytest.raises(PermissionDeniedError):
        services.retrain.set_every("kw", 5, actor=BOB)
    for bad in (-1, 1.5, True, "5", 10**7):
        with pytest.raises(InvalidInputError, match="or 0 to turn them off"):
            services.retrain.set_every("kw", bad, actor=admin)
    assert services.retrain.set_every("kw", None, actor=admin).default  # back to the app's FTDEMO_RETRAIN_EVERY


def test_a_due_run_that_cannot_start_says_why(services, admin):
    services.datasets.create("few", "single_label", "a,b", actor=admin)
    services.retrain.set_every("few", 2, actor=admin)
    services.annotate.add("few", "one", labels=["a"], actor=BOB)
    services.annotate.add("few", "two", labels=["a"], actor=BOB)  # due, but b has no example to learn from
    status = services.retrain.status("few")
    assert status.remaining == 0 and not status.running and "b" in status.waiting
    assert services.training.runs("few") == []

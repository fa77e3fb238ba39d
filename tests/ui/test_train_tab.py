"""Train tab logic and rendering against a real SQLite DB: form, data snapshot, live polling, cancel, history.

Runs train in a thread of this process (same store rows, engine and registry as the child process the
app spawns; tests/services covers the process itself), so a run takes seconds.
"""

from __future__ import annotations

import time

import pytest
from threads import ThreadRunner
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.training.config import TrainConfig
from ftdemo.ui import plots
from ftdemo.ui.app import build_ui
from ftdemo.ui.train_form import DEFAULT_MODEL, field_help, options_from_form
from ftdemo.ui.train_tab import (
    Watch,
    cancel_run,
    data_summary,
    history_frame,
    poll,
    render,
    retry_run,
    run_details,
    start_run,
)

FAST = {**FAST_TRAIN, "epochs": 2}
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def runner(services) -> ThreadRunner:
    services.training._runner = ThreadRunner(services)
    return services.training._runner


@pytest.fixture
def kw(services, admin) -> str:
    """60 examples whose label is decided by one word."""
    services.datasets.create("kw", "single_label", ["pos", "neg"], actor=admin)
    for i in range(60):
        services.annotate.add("kw", f"example {i} is {'good' if i % 2 else 'bad'} stuff",
                              labels=["pos" if i % 2 else "neg"], actor=admin)
    return "kw"


def wait_until_done(services, dataset: str, watch: Watch | None = None, timeout: float = 60.0):
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        watch, screen = poll(services, dataset, watch)
        seen.append(screen)
        if screen.run and screen.run["status"] not in plots.LIVE:
            return watch, screen, seen
        time.sleep(0.2)
    raise AssertionError("the run did not finish in time")


# --- form ----------------------------------------------------------------------------------------


def test_help_lines_come_from_the_config_docstrings() -> None:
    helps = field_help()
    assert helps["learning_rate"].startswith("Peak AdamW learning rate")
    assert helps["freeze_embeddings"] == "Keep the embedding tables fixed."  # a long docstring: first clause
    assert all(len(line) <= 150 and "\n" not in line for line in helps.values())


def test_form_keeps_only_what_differs_from_the_defaults() -> None:
    d = TrainConfig()
    values = {"base_model": DEFAULT_MODEL, "epochs": float(d.epochs), "learning_rate": "3e-5", "batch_size": "16",
              "freeze_embeddings": d.freeze_embeddings, "class_weights": "balanced", "seed": 7.0, "device": "cpu"}
    assert options_from_form(values) == {"learning_rate": 3e-5, "batch_size": 16, "class_weights": "balanced",
                                         "seed": 7, "device": "cpu"}
    assert options_from_form({"base_model": "bert-base-uncased"}) == {"base_model": "bert-base-uncased"}


@pytest.mark.parametrize(("values", "match"), [({"learning_rate": "fast"}, "Learning rate must be a number"),
                                               ({"batch_size": "12.5"}, "Batch size must be a whole number")])
def test_form_refuses_what_is_not_a_number(values, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        options_from_form(values)


# --- data snapshot -------------------------------------------------------------------------------


def test_snapshot_counts_per_label(services, kw) -> None:
    summary = data_summary(services, kw)
    assert "<b>60</b> labelled examples" in summary and "pos<b>30</b>" in summary and "neg<b>30</b>" in summary
    assert "Not enough data" not in summary


def test_too_little_data_names_the_labels_and_is_refused(services, reviews, admin) -> None:
    services.annotate.label(reviews, 1, ["pos"], actor=admin)
    services.annotate.label(reviews, 4, ["pos"], actor=admin)
    services.annotate.label(reviews, 2, ["neg"], actor=admin)
    summary = data_summary(services, reviews)
    assert "Not enough data" in summary and "neg (1), neu (0)" in summary
    with pytest.raises(InvalidInputError, match="neg"):
        start_run(services, reviews, FAST, admin)
    assert services.training.runs(reviews) == []


def test_annotators_cannot_train_or_cancel(services, kw, annotator) -> None:
    with pytest.raises(PermissionDeniedError):
        start_run(services, kw, FAST, annotator)
    with pytest.raises(InvalidInputError, match="no run to cancel"):
        cancel_run(services, Watch(), annotator)


def test_the_tab_is_for_admins_only(services) -> None:
    _, ctx = build_ui(services)
    assert ctx.elems["train"]["tab"] in ctx.admin_only


def test_the_freeze_slider_goes_only_as_deep_as_the_base_model(tiny_model_dir) -> None:
    import gradio as gr

    from ftdemo.ui.train_form import FREEZE_MAX_UNREAD, create_form, freeze_layers_max, freeze_layers_update

    assert freeze_layers_max(DEFAULT_MODEL, "") == 6  # the bundled MiniLM's config.json says 6
    assert freeze_layers_max(str(tiny_model_dir), "") == 2
    assert freeze_layers_max(DEFAULT_MODEL, str(tiny_model_dir)) == 2  # FTDEMO_BASE_MODEL is the default
    assert freeze_layers_max("nobody/not-on-this-machine", "") == FREEZE_MAX_UNREAD == 24
    with gr.Blocks():
        assert create_form("")["freeze_layers"].maximum == 6
        assert create_form(str(tiny_model_dir))["freeze_layers"].maximum == 2
    update = freeze_layers_update(str(tiny_model_dir), 5, "")
    assert (update["maximum"], update["value"]) == (2, 2)
    assert freeze_layers_update(DEFAULT_MODEL, 3, "")["value"] == 3


def test_changing_the_base_model_updates_the_freeze_slider(services) -> None:
    demo, ctx = build_ui(services)
    form = ctx.elems["train"]["form"]
    config = demo.get_config_file()
    slider = next(c for c in config["components"] if c["id"] == form["freeze_layers"]._id)
    assert slider["props"]["maximum"] == 6
    assert any((form["base_model"]._id, "change") in [tuple(t) for t in dep["targets"]]
               and form["freeze_layers"]._id in dep["outputs"] for dep in config["dependencies"])


# --- live progress -------------------------------------------------------------------------------


def test_a_run_polls_to_done_and_a_reloaded_page_sees_it(services, kw, admin, runner, tiny_model_dir) -> None:
    run = start_run(services, kw, {**FAST, "base_model": str(tiny_model_dir), "epochs": 3}, admin)
    watch, first = poll(services, kw, None)
    assert first.run["id"] == run["id"] and first.interval == 1.0 and first.live and not first.finished_now
    watch, done, seen = wait_until_done(services, kw, watch)
    assert done.run["status"] == "succeeded", done.run["error"]
    assert done.finished_now  # this poll saw the run end: the page bumps the other tabs' refresh
    progress = plots.progress_html(done.run, done.events)
    assert "finished" in progress and "v0001" in progress and "now serving predictions" in progress
    losses = plots.loss_series(done.events)  # step rows are written at most once a second: maybe none here
    assert len(losses["validation"]) == 3 and len(losses["training"]) == sum(e["kind"] == "step" for e in done.events)
    metrics = plots.metric_series(done.events)
    assert [x for x, _ in metrics["macro-F1"]] == [1, 2, 3] and len(metrics["accuracy"]) == 3
    table = history_frame(done.history)
    assert table.iloc[0].tolist()[:3] == [run["id"], "succeeded", "v0001"] and table.iloc[0]["val macro-F1"]
    # nothing new: the next tick leaves the page alone and slows down
    watch, again = poll(services, kw, watch)
    assert not again.changed and again.interval == 5.0 and not again.finished_now
    assert list(render(again, watch, {"watch": "w"})) == ["w"]
    # a second browser (or a reload) starts from nothing and reads the same run from the store
    _, fresh = poll(services, kw, None)
    assert fresh.run["id"] == run["id"] and len(fresh.events) == len(done.events)


def test_render_disables_train_while_a_run_is_live(services, kw, admin, runner, tiny_model_dir) -> None:
    run = start_run(services, kw, {**FAST, "base_model": str(tiny_model_dir)}, admin)
    watch, screen = poll(services, kw, None, force=True)
    names = ["progress", "loss_plot", "metric_plot", "history", "details_box", "details", "train", "adapt", "cancel",
             "retry", "busy",
             "timer", "watch"]
    out = render(screen, watch, {n: n for n in names})
    assert out["train"]["interactive"] is False and out["cancel"]["visible"] is True
    assert out["timer"]["value"] == 1.0
    with pytest.raises(InvalidInputError, match="one run at a time"):
        start_run(services, kw, FAST, admin)
    cancelled = cancel_run(services, watch, admin)
    assert cancelled["cancel_requested"] and cancelled["id"] == run["id"]
    _, _, seen = wait_until_done(services, kw, watch)
    final = seen[-1].run
    assert final["status"] in ("cancelled", "succeeded")  # a tiny run may finish before it sees the flag
    if final["status"] == "cancelled":
        assert "cancelled" in plots.progress_html(final, seen[-1].events)


def test_with_workers_a_run_waits_for_one_and_a_stopped_run_offers_retry(settings, admin, tiny_model_dir) -> None:
    from ftdemo.services import Services

    app = Services(settings.replace(training="workers"))  # FTDEMO_TRAINING=workers: the app only queues
    try:
        for name in ("kw", "other"):
            app.datasets.create(name, "single_label", ["pos", "neg"], actor=admin)
            for i in range(40):
                app.annotate.add(name, f"{name} {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                                 actor=admin)
        options = {**FAST, "base_model": str(tiny_model_dir)}
        start_run(app, "other", options, admin)
        run = start_run(app, "kw", options, admin)  # another dataset's run does not hold this one back
        watch, screen = poll(app, "kw", None, force=True)
        assert screen.run["id"] == run["id"] and screen.busy_elsewhere is None
        assert "waiting for a worker" in plots.progress_html(screen.run, screen.events)
        assert history_frame(screen.history).iloc[0]["where"] == "waiting for a worker"
        assert "waiting for a worker" in run_details(screen.run)
        names = ["progress", "loss_plot", "metric_plot", "history", "details_box", "details", "train", "adapt", "cancel",
                 "retry", "timer", "watch"]
        out = render(screen, watch, {n: n for n in names})
        assert out["train"]["interactive"] is False and out["cancel"]["visible"] and not out["retry"]["visible"]
        assert cancel_run(app, watch, admin)["status"] == "cancelled"  # no worker had it: cancelled at once
        watch, screen = poll(app, "kw", watch, force=True)
        out = render(screen, watch, {n: n for n in names})
        assert out["retry"]["visible"] and out["retry"]["interactive"] and out["train"]["interactive"]
        again = retry_run(app, watch, admin)
        assert again["id"] != run["id"] and again["waiting_for_worker"] and again["config"] == run["config"]
    finally:
        app.close()


def test_failed_runs_show_their_error_in_full_when_picked(services, kw, admin) -> None:
    long_error = f"RuntimeError: CUDA out of memory {XSS} " + "x" * 200 + "\nTraceback line 2"
    with services.db.write() as s:
        ds = repo.get_dataset(s, kw)
        run = run_repo.create_run(s, ds, {**TrainConfig().to_dict(), "epochs": 9}, {"items": [], "labels": []}, "h",
                                  created_by=XSS)
        run.status, run.error = "failed", long_error
        run_id = run.id
    watch, screen = poll(services, kw, None)
    row = history_frame(screen.history).iloc[0]
    assert row["status"] == "failed" and row["error"].endswith("…") and len(row["error"]) <= 91
    progress = plots.progress_html(screen.run, screen.events)
    assert "failed" in progress and "&lt;img" in progress and "<img" not in progress
    _, picked = poll(services, kw, watch, run_id=run_id)
    details = run_details(picked.run)
    assert picked.picked and "Traceback line 2" in details and "x" * 200 in details
    assert "<img" not in details and details.count("&lt;img src=x onerror=alert(1)&gt;") == 2
    assert "epochs = 9" in details


def test_annotators_see_the_first_line_of_an_error_without_server_paths(services, kw, admin, annotator) -> None:
    error = ("OSError: no model at '/srv/models/base/config.json'\nTraceback (most recent call last):\n"
             '  File "/opt/venv/lib/site-packages/transformers/x.py", line 3, in load')
    with services.db.write() as s:
        run = run_repo.create_run(s, repo.get_dataset(s, kw), TrainConfig().to_dict(), {"items": [], "labels": []},
                                  "h", created_by="ada")
        run.status, run.error = "failed", error
        run_id = run.id
    _, shown = poll(services, kw, None, run_id=run_id, actor=annotator)
    assert shown.run["error"] == shown.history[0]["error"] == "OSError: no model at '…/config.json'"
    _, full = poll(services, kw, None, run_id=run_id, actor=admin)
    assert full.run["error"] == full.history[0]["error"] == error


def test_no_dataset_shows_a_hint(services) -> None:
    watch, screen = poll(services, None, None)
    assert screen.run is None and not screen.live
    assert "No dataset chosen" in data_summary(services, None)
    assert poll(services, None, watch)[1].changed is False


def test_adapt_from_the_tab_lists_the_checkpoint_as_a_base_model(services, kw, admin, annotator, runner,
                                                                 tiny_encoder_dir) -> None:
    from ftdemo.ui.train_tab import adapt_options, base_model_update, start_adapt

    assert adapt_options(1, False, 0) == {} and adapt_options(2, True, 500) == {
        "epochs": 2, "max_texts": 500, "whole_word_mask": True}
    options = {**adapt_options(1, False, 0), "base_model": str(tiny_encoder_dir), "max_length": 32, "num_threads": 1}
    run = start_adapt(services, kw, options, admin)
    runner.threads[run["id"]].join(60)
    watch, screen = poll(services, kw, None, force=True)
    assert screen.run["kind"] == "adapt" and screen.run["status"] == "succeeded", screen.run["error"]
    assert history_frame(screen.history).iloc[0].tolist()[:3] == [run["id"], "succeeded", "adapted a0001"]
    details = run_details(screen.run)
    assert "60 texts" in details and "masked-LM loss" in details and "max_length = 32" in details
    assert "adapted checkpoint <b>a0001</b>" in plots.progress_html(screen.run, screen.events)
    choices = base_model_update(services, kw)["choices"]
    assert [value for _, value in choices][:2] == [DEFAULT_MODEL, "a0001"]
    assert options_from_form({"base_model": "a0001"}) == {"base_model": "a0001"}
    with pytest.raises(PermissionDeniedError):
        start_adapt(services, kw, {}, annotator)


def test_a_label_check_is_named_in_the_run_history() -> None:
    run = {"id": 7, "status": "succeeded", "kind": "check", "version": "", "metrics": {"folds": 5},
           "created_at": "2026-11-30T10:00:00+00:00", "started_at": "2026-11-30T10:00:01+00:00",
           "finished_at": "2026-11-30T10:05:00+00:00", "error": "", "worker": None, "environment": {}}
    assert history_frame([run]).iloc[0].tolist()[:3] == [7, "succeeded", "label check (5 folds)"]

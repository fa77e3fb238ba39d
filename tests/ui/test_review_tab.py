"""Review tab: the fine-tune check an admin runs from it, against real services, store and tiny models.

The check runs in a thread of this process (tests/threads.ThreadRunner: the same execute_run the child
process runs), fine-tuning the tiny encoder three times; the suspects list, the check's card and the
timer's tick are the tab's own functions and handlers.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import pytest
from threads import ThreadRunner

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor, Services
from ftdemo.ui import plots
from ftdemo.ui.app import build_ui
from ftdemo.ui.review_tab import cancel_check, check_card, latest_check, load_review, render_check, start_check

ADA, ANN = Actor("ada", "admin"), Actor("ann", "annotator")
C = {name: name for name in ("card", "start", "cancel", "timer", "run")}


@pytest.fixture
def sv(assist_settings):  # type: ignore[no-untyped-def]
    services = Services(assist_settings)
    services.training._runner = ThreadRunner(services)
    yield services
    services.close()


@pytest.fixture
def words(sv: Services) -> str:
    """30 examples whose label one word decides, two of them labelled against it."""
    sv.datasets.create("words", "single_label", ["pos", "neg"], actor=ADA)
    for i in range(30):
        good = i % 2 == 1
        wrong = i in (4, 7)
        label = "pos" if good != wrong else "neg"
        sv.annotate.add("words", f"item {i} was {'good' if good else 'bad'}", labels=[label], actor=ADA)
    sv.assist.ensure_embeddings("words", wait=True)
    return "words"


def wait_for(sv: Services, dataset: str, timeout: float = 120.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        run = latest_check(sv, dataset)
        if run is not None and run["status"] not in plots.LIVE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"the check did not finish in {timeout} s")


def tick_handler(sv: Services) -> tuple[Any, dict[str, Any]]:
    demo, ctx = build_ui(sv)
    c = ctx.elems["review"]["check"]
    [fn] = [f.fn for f in demo.fns.values() if (c["timer"]._id, "tick") in f.targets]
    return fn, ctx


def test_an_admin_checks_the_labels_from_the_tab_and_the_suspects_take_the_check_in(sv: Services, words: str) -> None:
    assert latest_check(sv, words) is None and "No fine-tune check yet" in check_card(None)
    idle = render_check(None, C)
    assert idle["timer"]["active"] is False and idle["cancel"]["visible"] is False and idle["run"] is None
    with pytest.raises(PermissionDeniedError, match="only an admin can check labels"):
        start_check(sv, words, 3, ANN)
    with pytest.raises(InvalidInputError, match="folds must be from 2 to 10"):
        start_check(sv, words, 11, ADA)
    with pytest.raises(InvalidInputError, match="choose a dataset"):
        start_check(sv, None, 3, ADA)
    with pytest.raises(InvalidInputError, match="no fine-tune check is running"):
        cancel_check(sv, None, ADA)
    before = load_review(sv, words).found
    assert before is not None and before.check_run is None

    started = start_check(sv, words, 3, ADA)
    assert started["kind"] == "check" and started["counts"]["examples"] == 30
    done = wait_for(sv, words)
    assert done["id"] == started["id"] and done["status"] == "succeeded", done["error"]
    card = check_card(done)
    assert "label check of 30 labelled examples with 3 fine-tunes" in card and "out-of-fold accuracy <b>" in card
    finished = render_check(done, C)
    assert finished["timer"]["active"] is False and finished["start"]["interactive"] is True
    assert finished["run"] == {"id": done["id"], "status": "succeeded"}
    with pytest.raises(InvalidInputError, match="no fine-tune check is running"):
        cancel_check(sv, done, ADA)
    after = load_review(sv, words).found
    assert after is not None and after.check_run == done["id"]
    assert after.models[-1] == f"fine-tune check (run {done['id']}: 30 of 30 examples)"


def test_a_running_check_shows_which_fine_tune_runs_and_its_tick_reloads_the_suspects_when_done(
        sv: Services, words: str) -> None:
    started = start_check(sv, words, 2, ADA)
    event = {"kind": "step", "epoch": 1, "epochs": 3, "step": 5, "total_steps": 10, "elapsed_s": 4.0, "eta_s": 4.0,
             "loss": 0.5, "metrics": {"fold": 2, "folds": 2}}
    live = render_check({**started, "status": "running", "progress": event}, C)
    assert live["timer"]["active"] is True and live["cancel"]["visible"] is True and live["start"]["interactive"] is False
    assert "fine-tune 2 of 2" in live["card"] and 'style="width:75.0%"' in live["card"]  # half of the second of two
    assert "ETA 0:04" in live["card"]  # the last fold: only its own remaining time
    first = plots.progress_html({**started, "status": "running"}, [{**event, "metrics": {"fold": 1, "folds": 2}}])
    assert "ETA 0:12" in first and 'style="width:25.0%"' in first  # this fold's 4 s, then another 8 s fold
    both = [{**event, "metrics": {"fold": 1, "folds": 2}}, event,
            {**event, "kind": "epoch", "step": 4, "metrics": {"fold": 2, "folds": 2, "macro_f1": 0.5, "loss": 0.7}}]
    assert plots.loss_series(both) == {"training": [(5.0, 0.5), (15.0, 0.5)], "validation": [(14.0, 0.7)]}
    assert plots.metric_series(both)["macro-F1"] == [(4.0, 0.5)]  # the second fine-tune's first epoch

    tick, ctx = tick_handler(sv)
    review, c = ctx.elems["review"], ctx.elems["review"]["check"]
    done = wait_for(sv, words)
    assert done["status"] == "succeeded", done["error"]
    out = tick(words, {"id": started["id"], "status": "running"}, [], None)  # the tick that sees it end
    assert out[c["run"]] == {"id": done["id"], "status": "succeeded"} and out[c["timer"]]["active"] is False
    assert f"Fine-tune check #{done['id']} done" in out[review["message"]]
    assert f"fine-tune check (run {done['id']}" in out[review["status"]]
    again = tick(words, out[c["run"]], [], None)  # later ticks (none while idle) leave the suspects alone
    assert review["status"] not in again and again[c["card"]] == out[c["card"]]


def test_with_logins_only_an_admin_sees_and_starts_a_check(assist_settings, tiny_encoder_dir) -> None:
    from ftdemo.settings import User

    secure = assist_settings.replace(users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    sv = Services(secure)
    try:
        sv.training._runner = ThreadRunner(sv)
        sv.datasets.create("w", "single_label", ["pos", "neg"], actor=ADA)
        for i in range(12):
            sv.annotate.add("w", f"item {i} was {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                            actor=ADA)
        demo, ctx = build_ui(sv)
        review, c = ctx.elems["review"], ctx.elems["review"]["check"]
        assert c["box"] in ctx.admin_only  # hidden on the page for annotators
        named = {f.fn.__name__: f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__module__.endswith("review_tab")}
        assert named["on_folds"](3)["value"] == "Run 3 fine-tunes"
        ann, ada = gr.Request(username="ann"), gr.Request(username="ada")
        with pytest.warns(UserWarning, match="only an admin can check labels with fine-tunes"):
            refused = named["on_check"]("w", "", 2, ann)
        assert list(refused) == [review["message"]] and latest_check(sv, "w") is None
        started = named["on_check"]("w", "", 2, ada)
        assert "Fine-tune check #1 started: 2 fine-tunes on 12 labelled examples" in started[review["message"]]
        assert wait_for(sv, "w")["status"] == "succeeded"
        assert "label check of 12" in named["on_check_show"]("w", ada)[c["card"]]
        assert "No fine-tune check yet" in named["on_check_show"]("w", ann)[c["card"]]  # nothing read for them
        with pytest.warns(UserWarning, match="only an admin can cancel training"):
            named["on_check_cancel"]("w", "", ann)
    finally:
        sv.close()

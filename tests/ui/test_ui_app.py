"""The assembled app: tabs, launch options, demo seeding, error guard."""

from __future__ import annotations

import inspect
import logging

import gradio as gr
import pytest

from ftdemo.errors import NotFoundError, PermissionDeniedError
from ftdemo.services import Services
from ftdemo.ui import js
from ftdemo.ui.access import is_loopback
from ftdemo.ui.app import TABS, build_ui, launch_options, seed_demo
from ftdemo.ui.context import guard


def test_build_ui_has_the_tabs_and_api(services, reviews) -> None:
    demo, ctx = build_ui(services)
    assert isinstance(demo, gr.Blocks)
    assert list(ctx.elems) == [name for name, _ in TABS] == ["label", "review", "data", "train", "models", "predict"]
    assert len(ctx.elems["label"]["buttons"]) >= 9
    api_names = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert api_names == {"datasets", "next", "next_with_options", "label", "label_with_suggestion", "label_many",
                         "stats", "train", "run", "models", "predict", "explain", "suggest", "similar",
                         "agreement", "overlap", "set_overlap", "prune_models", "suspects", "check_labels", "review_confirm",
                         "review_relabel", "review_undo", "adapt", "adapted", "audit", "set_audit_share"}
    assert ctx.admin_only  # import/export/dataset panels are hidden for annotators


def test_keyboard_js_targets_the_label_tab_ids(services) -> None:
    _, ctx = build_ui(services)
    e = ctx.elems["label"]
    assert e["buttons"][0].elem_id == "ftd-label-1" and js.LABEL_BUTTON_ID.format(n=1) == "ftd-label-1"
    for elem_id in (e["skip"].elem_id, e["undo"].elem_id, e["submit"].elem_id, e["multi"].elem_id, js.PANEL_ID):
        assert elem_id in js.KEYBOARD_JS


def test_keyboard_js_targets_the_review_tab_ids(services) -> None:
    _, ctx = build_ui(services)
    e = ctx.elems["review"]
    assert e["buttons"][0].elem_id == js.REVIEW_BUTTON_ID.format(n=1)
    for elem_id in (e["accept"].elem_id, e["confirm"].elem_id, e["skip"].elem_id, e["undo"].elem_id,
                    js.REVIEW_PANEL_ID, js.REVIEW_CARD_ID, js.REVIEW_BUTTON_ID.replace("{n}", "")):
        assert elem_id in js.KEYBOARD_JS


def test_launch_options_without_auth(settings) -> None:
    opts = launch_options(settings)
    assert opts["auth"] is None
    assert opts["max_file_size"] == f"{settings.max_upload_mb}mb"
    assert "keydown" in opts["js"] and ".ftd-card" in opts["css"]


def test_launch_options_with_auth(auth_settings) -> None:
    auth = launch_options(auth_settings)["auth"]
    assert auth("ada", "pw-a") and not auth("ada", "nope")


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                                 ("0.0.0.0", False), ("10.1.2.3", False), ("myhost", False)])
def test_is_loopback(host, loopback) -> None:
    assert is_loopback(host) is loopback


def test_seed_demo_only_on_an_empty_db(tmp_path) -> None:
    from ftdemo.settings import Settings

    services = Services(Settings(data_dir=tmp_path))
    try:
        created = seed_demo(services)
        assert created and set(created) <= set(services.datasets.names())
        assert seed_demo(services) == []
    finally:
        services.close()


def test_seed_demo_can_be_switched_off(services) -> None:
    assert services.settings.seed_demo is False
    assert seed_demo(services) == [] and services.datasets.names() == []


def test_guard_turns_errors_into_a_message(caplog) -> None:
    @guard("msg")
    def refuses() -> dict:
        raise NotFoundError("no dataset named 'x'")

    @guard("msg")
    def crashes() -> dict:
        raise RuntimeError("secret internals")

    with pytest.warns(UserWarning):  # gr.Warning outside a request falls back to warnings.warn
        out = refuses()
    assert "no dataset named &#x27;x&#x27;" in out["msg"] and "err" in out["msg"]
    with caplog.at_level(logging.ERROR), pytest.warns(UserWarning):
        out = crashes()
    assert "RuntimeError" in out["msg"] and "secret internals" not in out["msg"]
    assert "secret internals" in caplog.text


def test_guard_keeps_gradio_request_injection() -> None:
    import inspect

    @guard("msg")
    def handler(dataset: str, request: gr.Request) -> dict:
        return {}

    assert inspect.signature(handler).parameters["request"].annotation in (gr.Request, "gr.Request")


def test_admin_handlers_must_take_the_request_and_keep_their_signature(services) -> None:
    _, ctx = build_ui(services)
    with pytest.raises(TypeError, match="gr.Request"):  # the role check needs the request: fail at build time
        ctx.admin("do it")(lambda dataset: {})

    @guard("msg")
    @ctx.admin("change things")
    def on_change(dataset: str, request: gr.Request) -> dict:
        return {"msg": dataset}

    assert on_change.ftdemo_access == "admin"  # guard (outer) keeps the declaration
    # gradio reads the signature to inject gr.Request by annotation
    assert list(inspect.signature(on_change).parameters) == ["dataset", "request"]
    assert on_change("kw", None) == {"msg": "kw"}  # without logins everyone is a local admin


def test_an_admin_handler_refuses_an_annotator_before_it_runs(auth_settings) -> None:
    services = Services(auth_settings)
    try:
        _, ctx = build_ui(services)
        ran = []

        @ctx.admin("change things")
        def on_change(dataset: str, request: gr.Request) -> dict:
            ran.append(dataset)
            return {}

        with pytest.raises(PermissionDeniedError, match="'ann' is an annotator; only an admin can change things"):
            on_change("kw", gr.Request(username="ann"))
        with pytest.raises(PermissionDeniedError, match="requires a login"):
            on_change("kw", None)
        assert ran == []
        assert on_change("kw", request=gr.Request(username="ada")) == {} and ran == ["kw"]
    finally:
        services.close()


def test_sigterm_ends_the_app_like_ctrl_c_and_a_forked_child_quietly() -> None:
    import os
    import signal
    import time

    from ftdemo.ui.app import _interrupt_in

    before = signal.signal(signal.SIGTERM, _interrupt_in(os.getpid()))
    ready, told = os.pipe()
    try:
        child = os.fork()
        if child == 0:  # a library's pool worker, forked from the app: it inherits the handler
            os.write(told, b"1")  # a signal sent while Python still sets up the child would be dropped
            time.sleep(30)
            os._exit(0)
        assert os.read(ready, 1) == b"1"
        os.kill(child, signal.SIGTERM)
        _, status = os.waitpid(child, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM  # ended, no traceback
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    finally:
        signal.signal(signal.SIGTERM, before)
        os.close(ready)
        os.close(told)

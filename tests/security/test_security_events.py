"""Every function the app registers with gradio (UI events and API endpoints) declares who may run it,
and every admin one refuses an annotator before it does anything.

The list is the running app's own (`demo.fns`), so a new event without a declaration fails here, and a
new admin event is probed as bob without anyone writing a test for it. Events are posted through
/gradio_api/queue/join with the page's default input values (the dataset picked), the way anyone
signed in can post any event id whatever the page shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from secapp import ALICE, USERS, Running, file_data, make_settings, queue_messages, serve, upload
from tiny import FAST_TRAIN

from ftdemo.services import Services

KW = "kw-events"
REFUSED = "only an admin"
LEVELS = ("admin", "anyone")
# Events that must be admin-only whatever else changes (the rest of the list comes from the app itself).
ADMIN_AT_LEAST = {("transfer_panel", "on_upload"), ("transfer_panel", "on_mapping"), ("transfer_panel", "on_import"),
                  ("transfer_panel", "on_export"), ("manage_panel", "on_create"), ("data_tab", "on_save_text"),
                  ("train_tab", "on_train"), ("train_tab", "on_cancel"), ("models_tab", "on_activate"),
                  ("models_tab", "on_rollback"), ("models_tab", "on_delete"), ("api", "train"),
                  ("train_tab", "on_adapt"), ("api", "adapt")}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Running]:
    """alice (admin) and bob (annotator); dataset KW with 20 labelled and 2 unlabelled examples and one
    trained model version."""
    services = Services(make_settings(tmp_path_factory.mktemp("events"), users=dict(USERS)))
    services.datasets.create(KW, "single_label", ["pos", "neg"], actor=ALICE)
    for i in range(20):
        services.annotate.add(KW, f"item {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                              actor=ALICE)
    for i in range(2):
        services.annotate.add(KW, f"unlabelled {i}", actor=ALICE)
    run = services.training.train_sync(KW, {**FAST_TRAIN, "base_model": str(tiny_model_dir)}, actor=ALICE)
    assert run["status"] == "succeeded", run["error"]
    try:
        with serve(services) as app:
            yield app
    finally:
        services.close()


def registered(running: Running) -> list[tuple[int, Any]]:
    """(fn_index, BlockFunction) of every function gradio runs in Python (js-only events have none)."""
    return [(i, fn) for i, fn in running.demo.fns.items() if fn.fn is not None]


def where(fn: Any) -> tuple[str, str]:
    return fn.fn.__module__.rsplit(".", 1)[-1], fn.fn.__name__


def access(fn: Any) -> str | None:
    return getattr(fn.fn, "ftdemo_access", None)


def page_defaults(running: Running, fn: Any) -> list[Any]:
    """What the page sends for an event once a dataset is picked: each input's initial value (state: None)."""
    dataset = next(b for b in running.demo.blocks.values() if getattr(b, "elem_id", None) == "ftd-dataset")
    values = []
    for block in fn.inputs:
        if block is dataset:
            values.append(KW)
        else:
            values.append(None if type(block).__name__ == "State" else getattr(block, "value", None))
    return values


def state(services: Services) -> Any:
    """Everything an admin event could change: datasets, labels, examples (text, deleted, labels), runs,
    model versions and the active one."""
    views, _ = services.annotate.search(KW, limit=1000, include_deleted=True)
    info = services.datasets.info(KW)
    return (services.datasets.names(), info.labels, info.retired_labels,
            [(v.id, v.text, v.deleted, tuple(v.labels)) for v in views],
            [(r["id"], r["status"]) for r in services.training.runs(KW)],
            [(v["version"], v["active"], v["status"]) for v in services.models.list(KW)])


def shown(messages: list[dict[str, Any]]) -> str:
    """All an event sent back (toasts, outputs, errors) as one string."""
    return json.dumps(messages, ensure_ascii=False)


def test_every_registered_function_declares_its_access_level(running) -> None:
    found = registered(running)
    undeclared = sorted({".".join(where(fn)) for _, fn in found if access(fn) not in LEVELS})
    assert not undeclared, f"declare ctx.admin or ctx.anyone on: {undeclared}"
    admin = {where(fn) for _, fn in found if access(fn) == "admin"}
    assert ADMIN_AT_LEAST <= admin, f"should be admin-only: {sorted(ADMIN_AT_LEAST - admin)}"
    assert len(found) > 90  # every tab's events and the API: the list is the whole app


def test_every_admin_event_refuses_an_annotator_and_changes_nothing(running) -> None:
    services = running.services
    admin_events = [(i, fn) for i, fn in registered(running) if access(fn) == "admin"]
    assert len(admin_events) >= len(ADMIN_AT_LEAST)
    before = state(services)
    failures = []
    with running.client("bob") as http:
        for i, fn in admin_events:
            answer = shown(queue_messages(http, i, page_defaults(running, fn)))
            if REFUSED not in answer:
                failures.append(f"{'.'.join(where(fn))} (#{i}): {answer[:300]}")
    assert not failures, "\n".join(failures)
    assert state(services) == before, "a refused event changed something"


def test_the_import_preview_refuses_an_annotator(running) -> None:
    with running.client("alice") as http:
        r = upload(http, "more.csv", b"text,label\nfresh one,pos\nfresh two,neg\n")
        assert r.status_code == 200, r.text
        uploaded = file_data(r.json()[0], "more.csv")
    upload_fn = running.fn_index("on_upload", "transfer_panel")
    mapping_fn = next(i for i, fn in registered(running) if where(fn) == ("transfer_panel", "on_mapping"))
    with running.client("bob") as http:
        for fn_index, data in ((upload_fn, [KW, uploaded]), (mapping_fn, [KW, uploaded, None, None, None])):
            answer = shown(queue_messages(http, fn_index, data))
            assert REFUSED in answer and "fresh one" not in answer and "rows ready" not in answer, answer[:400]
    with running.client("alice") as http:  # the same file, previewed by an admin
        answer = shown(queue_messages(http, upload_fn, [KW, uploaded]))
        assert "fresh one" in answer and "rows ready" in answer and REFUSED not in answer

"""The app under test and how to talk to it the way a browser or an attacker would: the login form,
the queue (UI events by id, including ones the API docs do not list), the upload route.

Without FTDEMO_USERS every visitor is a local admin, so the role and login tests run with
alice (admin) and bob (annotator); SECRET is an example text no visitor without a login may see.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings, User

USERS = {"alice": User("alice", "pw-alice", "admin"), "bob": User("bob", "pw-bob", "annotator")}
ALICE, BOB = Actor("alice", "admin"), Actor("bob", "annotator")
DATASET = "reviews-q4z"
SECRET = "secret example text 7f3a9"


@dataclass
class Running:
    """The app as served: its URL, the Blocks object (to find UI events) and the services under it."""

    url: str
    demo: Any
    services: Services

    @contextlib.contextmanager
    def client(self, user: str | None = None) -> Iterator[httpx.Client]:
        """An HTTP client, signed in through the login form when `user` is given."""
        with httpx.Client(base_url=self.url, timeout=30) as http:
            if user is not None:
                r = http.post("/login", data={"username": user, "password": USERS[user].password})
                assert r.status_code == 200, r.text
            yield http

    def fn_index(self, name: str, module: str = "") -> int:
        """The id of the UI event whose handler is called `name` (defined in a module ending with `module`)."""
        found = [i for i, fn in self.demo.fns.items() if getattr(fn.fn, "__name__", "") == name
                 and getattr(fn.fn, "__module__", "").endswith(module)]
        assert len(found) == 1, f"{len(found)} UI events are handled by {module}.{name}"
        return found[0]


def make_settings(data_dir: Path, **changes: Any) -> Settings:
    # the Label tab in queue order: the tests look for the examples they added, first first
    return Settings(data_dir=data_dir, seed_demo=False, **{"queue_order": "in_order", **changes})


@contextlib.contextmanager
def serve(services: Services) -> Iterator[Running]:
    """Like the suite's serve_app, but keeps the Blocks (the tests look up UI events in it)."""
    from apphost import serve_on_free_port

    with serve_on_free_port(services) as (url, demo):
        yield Running(url, demo, services)


@contextlib.contextmanager
def serve_new(settings: Settings, setup: Any = None) -> Iterator[Running]:
    """Services over `settings` (`setup(services)` first, if given) served on a free port; closed at the end."""
    services = Services(settings)
    try:
        if setup is not None:
            setup(services)
        with serve(services) as running:
            yield running
    finally:
        services.close()


def queue_event(http: httpx.Client, fn_index: int, data: list[Any], *, session: str | None = None,
                event_data: Any = None) -> dict[str, Any]:
    """Run one UI event through /gradio_api/queue/join as the page does; returns process_completed.

    Events in one `session` share gr.State values (e.g. the row picked in a table)."""
    return queue_messages(http, fn_index, data, session=session, event_data=event_data)[-1]


def queue_messages(http: httpx.Client, fn_index: int, data: list[Any], *, session: str | None = None,
                   event_data: Any = None) -> list[dict[str, Any]]:
    """Like queue_event, but every message the event sent, toasts (gr.Warning: msg "log") included;
    the last one is process_completed."""
    session = session or uuid.uuid4().hex[:12]
    r = http.post("/gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                                  "event_data": event_data, "trigger_id": None})
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = []
    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    return messages
    raise AssertionError("the queue closed without completing the event")


def upload(http: httpx.Client, name: str, content: bytes) -> httpx.Response:
    """POST a file to gradio's upload route (what a gr.File does first)."""
    return http.post("/gradio_api/upload", files=[("files", (name, content, "application/octet-stream"))])


def file_data(path: str, name: str) -> dict[str, Any]:
    """A gr.File value as the page sends it after an upload."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}

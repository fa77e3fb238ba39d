"""Served to a network without FTDEMO_USERS, the app says so: in the log and in a banner on the page.

These start the app through `ftdemo.ui.app.launch`, the path `python -m ftdemo serve` takes, on the
host the settings name (0.0.0.0 included) and a free port.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from secapp import USERS, make_settings

from ftdemo.settings import Settings
from ftdemo.ui import app as app_module

BANNER_ID = "ftd-open-warning"


@contextlib.contextmanager
def launched(settings: Settings) -> Iterator[str]:
    demo = app_module.launch(settings, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        demo.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def page_config(url: str, user: str | None) -> dict:
    with httpx.Client(base_url=url, timeout=30) as http:
        if user:
            http.post("/login", data={"username": user, "password": USERS[user].password}).raise_for_status()
        return http.get("/config").raise_for_status().json()


def banner(config: dict) -> dict | None:
    return next((c for c in config["components"] if c.get("props", {}).get("elem_id") == BANNER_ID), None)


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "without a login" in
            r.getMessage()]


def test_open_to_the_network_without_users_warns_in_the_log_and_on_the_page(tmp_path, caplog) -> None:
    settings = make_settings(tmp_path, host="0.0.0.0", port=free_port())
    with caplog.at_level(logging.WARNING, logger="ftdemo"), launched(settings) as url:
        config = page_config(url, None)
    logged = warnings_logged(caplog)
    assert len(logged) == 1 and "0.0.0.0" in logged[0] and "FTDEMO_USERS" in logged[0]
    shown = banner(config)
    assert shown is not None and shown["props"].get("visible") is not False
    assert "0.0.0.0 without a login" in shown["props"]["value"] and "FTDEMO_USERS" in shown["props"]["value"]
    assert config["layout"]["children"][0]["id"] == shown["id"], "the warning is the first thing on the page"


@pytest.mark.parametrize(("host", "user"), [("127.0.0.1", None), ("localhost", None), ("0.0.0.0", "bob")])
def test_no_warning_on_loopback_or_with_a_login(tmp_path, caplog, host, user) -> None:
    users = dict(USERS) if user else {}
    settings = make_settings(tmp_path, host=host, port=free_port(), users=users)
    with caplog.at_level(logging.WARNING, logger="ftdemo"), launched(settings) as url:
        config = page_config(url, user)
    assert banner(config) is None and not warnings_logged(caplog)

"""Gradio's file route serves uploads and its own cache, never the server's files or our data.

Requests go out byte for byte over a raw socket (http.client), so '../', percent-encoded,
double-encoded and backslash forms reach the server as written (httpx would normalise some).
Both modes are probed: signed in with FTDEMO_USERS set, and the open local mode without users.
"""

from __future__ import annotations

import http.client
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from secapp import Running, make_settings, serve_new, upload

from ftdemo.settings import REPO_ROOT, Settings
from ftdemo.ui.app import launch_options

# what must never come back: /etc/passwd, a SQLite file, the process environment, our planted files
MARKERS = ("root:x:0:0", "root:*:0:0", "SQLite format 3", "PATH=/", "HOME=/", "model-secret-5b1c")


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The app without FTDEMO_USERS (everyone is a local admin): the file route is open to all."""
    with serve_new(make_settings(tmp_path_factory.mktemp("open"))) as running:
        yield running


def targets(settings: Settings) -> list[str]:
    """Paths (as they go into /gradio_api/file=...) that must be refused."""
    models = settings.models_dir / "kw" / "v0001"
    models.mkdir(parents=True, exist_ok=True)
    (models / "metadata.json").write_text('{"note": "model-secret-5b1c"}')
    db = settings.data_dir / "ftdemo.db"
    assert db.read_bytes().startswith(b"SQLite format 3")
    upload_dir = "/tmp/gradio"
    rel_db = os.path.relpath(db, os.getcwd())
    return [
        "/etc/passwd", "/proc/self/environ", str(db), str(db) + "-wal", rel_db, str(models / "metadata.json"),
        str(REPO_ROOT / "pyproject.toml"), "pyproject.toml", "ftdemo/config.py",
        "../../../../../../etc/passwd", f"{upload_dir}/../../etc/passwd", f"{upload_dir}/../../{db}",
        "%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"{upload_dir}/%2e%2e/%2e%2e/etc/passwd", f"{upload_dir}%2f..%2f..%2fetc%2fpasswd",
        "%252e%252e%252f%252e%252e%252fetc%252fpasswd", f"{upload_dir}/%252e%252e/%252e%252e/etc/passwd",
        "..\\..\\..\\..\\etc\\passwd", f"{upload_dir}\\..\\..\\etc\\passwd", "..%5c..%5c..%5cetc%5cpasswd",
        "//etc/passwd", "/etc/./passwd", "/etc//passwd", "file:///etc/passwd", "/etc/passwd%00.png",
        quote(str(db), safe=""), "%2fproc%2fself%2fenviron",
    ]


def raw_get(url: str, path: str, cookie: str = "") -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        if cookie:
            conn.putheader("Cookie", cookie)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def cookie_header(http_client) -> str:  # noqa: ANN001
    return "; ".join(f"{c.name}={c.value}" for c in http_client.cookies.jar)


@pytest.mark.parametrize("mode", ["signed-in", "open"])
def test_the_file_route_refuses_server_files_and_our_data(request, mode) -> None:
    running: Running = request.getfixturevalue("secured" if mode == "signed-in" else "open_app")
    with running.client("alice" if mode == "signed-in" else None) as http:
        cookie = cookie_header(http)
        ok = upload(http, "fine.csv", b"text\nhello\n").json()[0]
    status, body = raw_get(running.url, f"/gradio_api/file={ok}", cookie)
    assert status == 200 and body == b"text\nhello\n", "the probe itself works: an upload is served"
    for target in targets(running.services.settings):
        for route in (f"/gradio_api/file={target}", f"/gradio_api/file/{target.lstrip('/')}",
                      f"/file={target}"):
            status, body = raw_get(running.url, route, cookie)
            text = body.decode("latin-1")
            assert status != 200 and not any(m in text for m in MARKERS), f"{route} -> {status}: {text[:200]}"


def test_launch_options_allow_nothing_extra_and_block_our_data(tmp_path) -> None:
    settings = make_settings(tmp_path)
    opts = launch_options(settings)
    assert opts["allowed_paths"] == []
    blocked = {Path(p) for p in opts["blocked_paths"]}
    db = (tmp_path / "ftdemo.db").resolve()
    assert {tmp_path.resolve(), settings.models_dir.resolve(), db, Path(f"{db}-wal")} <= blocked


def test_blocked_paths_stop_a_handler_from_publishing_the_database(tmp_path) -> None:
    """A function's output file in the temp dir or the working directory is normally copied to gradio's
    cache and served; the block list keeps the database and the models out even then."""
    from gradio.utils import get_upload_folder, is_allowed_file

    settings = make_settings(tmp_path)
    blocked = launch_options(settings)["blocked_paths"]
    for path in (tmp_path / "ftdemo.db", settings.models_dir / "kw" / "v0001" / "model.safetensors"):
        as_output = [os.getcwd(), tempfile.gettempdir()]  # what gradio allows for outputs
        assert is_allowed_file(path, blocked_paths=[], allowed_paths=as_output, created_paths=[])[0]
        allowed, reason = is_allowed_file(path, blocked_paths=blocked, allowed_paths=as_output,
                                          created_paths=[get_upload_folder()])
        assert (allowed, reason) == (False, "in_blocklist")


def test_the_default_data_dir_is_blocked_too() -> None:
    settings = Settings()  # ./data under the repository: inside the working directory gradio allows
    blocked = launch_options(settings)["blocked_paths"]
    assert str(settings.data_dir.resolve()) in blocked


def test_a_data_dir_holding_the_temp_dir_keeps_uploads_working(tmp_path) -> None:
    settings = make_settings(Path(tempfile.gettempdir()).parent)  # e.g. FTDEMO_DATA_DIR=/
    blocked = launch_options(settings)["blocked_paths"]
    assert str(settings.data_dir.resolve()) not in blocked  # would block every upload and download
    assert str(settings.models_dir.resolve()) in blocked and str((settings.data_dir / "ftdemo.db").resolve()) in blocked

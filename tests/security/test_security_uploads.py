"""Uploads: only the data formats ftdemo reads, within FTDEMO_MAX_UPLOAD_MB, and a zip cannot write
outside its temporary folder. Checked in the import path (services, io) and in the running app
(gradio's upload route and the import panel's file component).

The upload route itself: with logins only admins may upload (imports are admin-only); one request
carries at most FTDEMO_MAX_UPLOAD_MB in all (counted while it streams) and a few files; uploaded files
are deleted FTDEMO_TEMP_FILE_HOURS after they came."""

from __future__ import annotations

import io as stdlib_io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from polling import wait_for
from secapp import ALICE, DATASET, USERS, Running, file_data, make_settings, queue_event, serve_new, upload

from ftdemo.errors import InvalidInputError
from ftdemo.io.formats import IMPORT_FORMATS, FileFormat, import_format
from ftdemo.ui.limits import MAX_UPLOAD_FILES
from ftdemo.ui.transfer_panel import IMPORT_TYPES, check_upload

ALLOWED = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".zip"]  # json: JSON lines or one JSON array
REFUSED = ["evil.html", "evil.exe", "model.pkl", "weights.bin", "script.py", "data.csv.exe", "data", "page.svg",
           "data.csv.html", "archive.tar.gz", ".csv"]
LIMIT_MB = 1


@pytest.mark.parametrize("name", REFUSED)
def test_import_refuses_other_file_types(name) -> None:
    with pytest.raises(InvalidInputError, match="use one of: csv, tsv, jsonl, json, parquet, zip"):
        import_format(Path("/uploads") / name)


@pytest.mark.parametrize("suffix", ALLOWED + [s.upper() for s in ALLOWED])
def test_import_accepts_the_data_formats(suffix) -> None:
    assert import_format(f"/uploads/data{suffix}").value == suffix.lower().lstrip(".")


def test_the_ui_file_component_offers_the_same_types() -> None:
    assert sorted(IMPORT_TYPES) == sorted(ALLOWED)
    assert sorted(f".{f.value}" for f in IMPORT_FORMATS if f is not FileFormat.DIRECTORY) == sorted(ALLOWED)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The app with FTDEMO_MAX_UPLOAD_MB=1 and logins."""
    settings = make_settings(tmp_path_factory.mktemp("limited"), users=dict(USERS), max_upload_mb=LIMIT_MB)
    with serve_new(settings, lambda s: s.datasets.create(DATASET, "single_label", ["pos", "neg"], actor=ALICE)) \
            as running:
        yield running


def big_csv() -> bytes:
    row = "a fairly long example text to fill the file,pos\n"
    return ("text,label\n" + row * (int(1.3 * 2**20) // len(row))).encode()


def test_gradio_refuses_an_upload_over_the_limit(limited) -> None:
    with limited.client("alice") as http:
        r = upload(http, "big.csv", big_csv())
        assert r.status_code == 413, r.text
        assert upload(http, "small.csv", b"text,label\nok,pos\n").status_code == 200


@pytest.fixture(scope="module")
def open_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The app without logins (everyone is a local admin), FTDEMO_MAX_UPLOAD_MB=1, files kept about a second."""
    settings = make_settings(tmp_path_factory.mktemp("open-limited"), max_upload_mb=LIMIT_MB, temp_file_hours=1 / 3600)
    with serve_new(settings) as running:
        yield running


def parts(n: int, size: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"part{i}.csv", b"text\n" + b"x" * size, "text/csv")) for i in range(n)]


def encoded(files: list) -> tuple[bytes, str]:
    """A multipart body and its content type, as a browser would send them."""
    request = httpx.Request("POST", "http://x/", files=files)
    return request.read(), request.headers["content-type"]


def test_an_annotator_may_not_upload(limited) -> None:
    with limited.client("bob") as http:
        r = upload(http, "small.csv", b"text,label\nok,pos\n")
        assert r.status_code == 403 and "only an admin" in r.text, r.text
    with limited.client("alice") as http:
        assert upload(http, "small.csv", b"text,label\nok,pos\n").status_code == 200


@pytest.mark.parametrize("app", ["limited", "open_app"])
def test_one_request_carries_at_most_the_limit_in_all(app, request) -> None:
    running = request.getfixturevalue(app)
    small_enough = int(0.45 * 2**20)  # each file is under the per-file limit; three are over it together
    with running.client("alice" if app == "limited" else None) as http:
        r = http.post("/gradio_api/upload", files=parts(3, small_enough))
        assert r.status_code == 413 and "FTDEMO_MAX_UPLOAD_MB" in r.text, r.text
        assert http.post("/gradio_api/upload", files=parts(2, small_enough)).status_code == 200


def test_the_limit_is_counted_while_the_body_streams(limited) -> None:
    """No Content-Length to trust (chunked transfer): the bytes are counted as they arrive."""
    body, content_type = encoded(parts(3, int(0.45 * 2**20)))
    with limited.client("alice") as http:
        r = http.post("/gradio_api/upload", headers={"content-type": content_type},
                      content=(body[i:i + 2**16] for i in range(0, len(body), 2**16)))
        assert r.status_code == 413 and "FTDEMO_MAX_UPLOAD_MB" in r.text, r.text
        small, content_type = encoded(parts(1, 100))
        r = http.post("/gradio_api/upload", headers={"content-type": content_type}, content=iter([small]))
        assert r.status_code == 200, r.text


def test_one_request_carries_a_few_files_at_most(limited) -> None:
    with limited.client("alice") as http:
        r = http.post("/gradio_api/upload", files=parts(MAX_UPLOAD_FILES + 1, 10))
        assert r.status_code == 413 and f"at most {MAX_UPLOAD_FILES} files" in r.text, r.text
        r = http.post("/gradio_api/upload", files=parts(MAX_UPLOAD_FILES, 10))
        assert r.status_code == 200 and len(r.json()) == MAX_UPLOAD_FILES


def test_uploaded_files_are_deleted_after_a_while(open_app) -> None:
    with open_app.client() as http:
        r = upload(http, "old.csv", b"text,label\nold,pos\n")
        assert r.status_code == 200, r.text
    path = Path(r.json()[0])
    assert path.exists()
    wait_for(lambda: not path.exists(), timeout=20)


def test_the_import_path_refuses_a_file_over_the_limit(limited, tmp_path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(big_csv())
    services = limited.services
    with pytest.raises(InvalidInputError, match="FTDEMO_MAX_UPLOAD_MB"):
        services.transfer.preview(DATASET, path, actor=ALICE)
    with pytest.raises(InvalidInputError, match="FTDEMO_MAX_UPLOAD_MB"):
        services.transfer.import_file(DATASET, path, actor=ALICE)
    with pytest.raises(InvalidInputError, match="FTDEMO_MAX_UPLOAD_MB"):
        check_upload(services, str(path))


def _import_preview(running: Running, name: str, content: bytes) -> str:
    """Upload a file and send the import panel's upload event as the page does; returns what it shows."""
    with running.client("alice") as http:
        r = upload(http, name, content)
        assert r.status_code == 200, r.text
        completed = queue_event(http, running.fn_index("on_upload", "transfer_panel"),
                                [DATASET, file_data(r.json()[0], name)])
    return json.dumps(completed, ensure_ascii=False)


@pytest.mark.parametrize("name", ["evil.html", "evil.exe", "model.pkl"])
def test_the_import_panel_refuses_other_file_types(limited, name) -> None:
    shown = _import_preview(limited, name, b"<script>alert(1)</script>")
    assert "Invalid file type" in shown or "use one of" in shown, shown[:400]


def test_the_import_panel_previews_an_allowed_file(limited) -> None:
    shown = _import_preview(limited, "ok.csv", b"text,label\nhello there,pos\n")
    assert "hello there" in shown and "rows ready to import" in shown


def slip_zip(member: str) -> bytes:
    buffer = stdlib_io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("data.csv", "text,label\nhello,pos\n")
        zf.writestr(member, "text,label\npwned,pos\n")
    return buffer.getvalue()


@pytest.mark.parametrize("member", ["../../../../../../tmp/ftdemo-zip-slip.csv", "/tmp/ftdemo-zip-slip.csv",
                                    "..\\..\\..\\..\\..\\tmp\\ftdemo-zip-slip.csv"])
def test_a_zip_slip_upload_writes_nothing_outside(limited, member) -> None:
    target = Path("/tmp/ftdemo-zip-slip.csv")
    target.unlink(missing_ok=True)
    shown = _import_preview(limited, "slip.zip", slip_zip(member))
    assert "rejected" in shown and not target.exists()
    assert limited.services.datasets.stats(DATASET).examples == 0

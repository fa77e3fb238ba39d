"""With FTDEMO_USERS set, every route of the running app (UI and API alike) needs the login.

The routes are enumerated from the served FastAPI app itself, so a route a new gradio adds is
probed too. A visitor without a login gets the login page and its static files, nothing else, and
no response leaks an example text, a dataset name or the API description.
"""

from __future__ import annotations

import re

import pytest
from gradio_client import Client
from secapp import DATASET, SECRET, USERS, upload

# Routes a visitor without a login may reach: the login page, its assets, the login form itself and
# gradio's start-up probe. Everything else must answer 401/403.
ANONYMOUS_OK = {"/", "/login", "/login/", "/logout", "/favicon.ico", "/manifest.json", "/robots.txt", "/theme.css",
                "/gradio_api/theme.css", "/gradio_api/startup-events", "/gradio_api/login_check",
                "/gradio_api/login_check/"}
ANONYMOUS_OK_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")
API_DOC = "unlabelled, not skipped by them"  # a phrase from the /next endpoint's description
PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every route, routers included by gradio flattened."""
    found: list[tuple[str, str]] = []

    def walk(items) -> None:  # noqa: ANN001
        for route in items:
            if hasattr(route, "original_router"):  # fastapi's wrapper of an included router
                walk(route.original_router.routes)
            elif getattr(route, "path", None) is not None:
                found.extend((method, route.path) for method in sorted(getattr(route, "methods", None) or {"GET"}))

    walk(app.routes)
    return found


def api_names(demo) -> list[str]:
    return sorted(fn.api_name for fn in demo.fns.values() if fn.api_visibility != "private" and fn.api_name)


def concrete(template: str, api_name: str) -> str:
    fill = {"api_name": api_name, "path_or_url": "/etc/passwd", "url_path": "http://127.0.0.1/"}
    return PARAM.sub(lambda m: fill.get(m.group(1), "x"), template)


def probes(running) -> list[tuple[str, str]]:
    """Every route with its parameters filled in; API routes once per api_name of the app."""
    out = set()
    for method, template in routes(running.demo.server_app):
        names = api_names(running.demo) if "{api_name}" in template else [""]
        out |= {(method, concrete(template, name)) for name in names}
    return sorted(out)


def assert_no_leak(text: str, where: str) -> None:
    for secret in (SECRET, DATASET, API_DOC):
        assert secret not in text, f"{where} shows {secret!r} without a login"


def anonymous_ok(path: str) -> bool:
    return path in ANONYMOUS_OK or path.startswith(ANONYMOUS_OK_PREFIXES)


def test_the_route_list_covers_the_app(secured) -> None:
    found = probes(secured)
    paths = {path for _, path in found}
    for expected in ("/", "/config", "/gradio_api/info", "/gradio_api/queue/join", "/gradio_api/upload",
                     "/gradio_api/file=/etc/passwd", *(f"/gradio_api/call/{n}" for n in api_names(secured.demo))):
        assert expected in paths
    assert {"datasets", "next", "label", "stats", "predict", "explain"} <= set(api_names(secured.demo))
    assert len(found) > 60


def test_every_route_refuses_a_visitor_without_login(secured) -> None:
    refused, reachable = [], []
    with secured.client() as http:
        for method, path in probes(secured):
            body = {"data": [DATASET], "fn_index": 0, "session_hash": "s", "event_id": "e"}
            body = body if method == "POST" else None
            r = http.request(method, path, json=body, timeout=10)
            assert_no_leak(r.text, f"{method} {path} ({r.status_code})")
            if anonymous_ok(path.split("?")[0]):
                reachable.append(path)
            else:
                assert r.status_code in (401, 403), f"{method} {path} answered {r.status_code}: {r.text[:200]}"
                refused.append(path)
    assert len(refused) > 50 and "/" in reachable


def test_the_login_page_holds_no_app_config_and_no_api_description(secured) -> None:
    with secured.client() as http:
        page = http.get("/").text
    assert '"auth_required":true' in page.replace(" ", "")
    assert_no_leak(page, "the login page")
    assert not any(f'"/{name}"' in page for name in api_names(secured.demo))


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_signed_in_users_reach_the_ui_and_the_api(secured, user) -> None:
    with secured.client(user) as http:
        page, config, info = http.get("/"), http.get("/config"), http.get("/gradio_api/info")
        assert page.status_code == config.status_code == info.status_code == 200
        assert DATASET in config.text and f'"username":"{user}"' in config.text.replace(" ", "")
        assert set(info.json()["named_endpoints"]) == {f"/{n}" for n in api_names(secured.demo)}
        event = http.post("/gradio_api/call/datasets", json={"data": []})
        assert event.status_code == 200
        result = http.get(f"/gradio_api/call/datasets/{event.json()['event_id']}")
        assert "event: complete" in result.text and DATASET in result.text
    client = Client(secured.url, auth=(user, USERS[user].password), verbose=False, analytics_enabled=False)
    example = client.predict(DATASET, api_name="/next")
    assert example["text"] and example["id"]


def test_gradio_client_without_or_with_a_wrong_login_is_refused(secured) -> None:
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises different errors per failure
        Client(secured.url, verbose=False, analytics_enabled=False).predict(DATASET, api_name="/next")
    with pytest.raises(Exception):  # noqa: B017
        Client(secured.url, auth=("alice", "wrong"), verbose=False, analytics_enabled=False)


def test_a_wrong_password_sets_no_session(secured) -> None:
    with secured.client() as http:
        r = http.post("/login", data={"username": "alice", "password": "pw-bob"})
        assert r.status_code in (400, 401) and not http.cookies
        assert http.get("/config").status_code == 401


def test_an_uploaded_file_is_served_to_signed_in_users_only(secured) -> None:
    with secured.client("alice") as alice:
        r = upload(alice, "notes.csv", f"text\n{SECRET}\n".encode())
        assert r.status_code == 200, r.text
        path = r.json()[0]
        served = alice.get(f"/gradio_api/file={path}")
        assert served.status_code == 200 and SECRET in served.text
    with secured.client() as anonymous:
        for route in (f"/gradio_api/file={path}", f"/gradio_api/file/{path.lstrip('/')}"):
            r = anonymous.get(route)
            assert r.status_code in (401, 403) and SECRET not in r.text
        assert anonymous.post("/gradio_api/upload", files=[("files", ("x.csv", b"a\n1\n"))]).status_code == 401


def test_logging_out_ends_the_session(secured) -> None:
    with secured.client("bob") as http:
        assert http.get("/config").status_code == 200
        http.get("/logout", follow_redirects=False)
        assert http.get("/config").status_code == 401

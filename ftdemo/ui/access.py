"""Who may reach what over HTTP: every route behind the login, the file route kept away from our
data, and a warning (log and page) when the app is open to a network without a login.

Gradio checks the login on its data routes (/config, /gradio_api/info, queue, upload, file=), but
not on every route, and its login page embeds the whole API description. `RequireLogin` closes
both: with FTDEMO_USERS set, a visitor without a session cookie gets the login page (stripped of the
API description), its static assets and the login form's POST, and a 401 for everything else.
Gradio's sessions never end; `Sessions` ends them FTDEMO_SESSION_HOURS after the login.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftdemo.settings import Settings
from ftdemo.store.session import sqlite_path

# What the login page needs before anyone has signed in (checked against the path without root_path).
PUBLIC_PATHS = frozenset({
    "/", "/login", "/login/", "/logout", "/favicon.ico", "/manifest.json", "/robots.txt", "/theme.css",
    "/gradio_api/theme.css",
    "/gradio_api/startup-events",  # gradio's own start-up check (launch() calls it)
    "/gradio_api/login_check", "/gradio_api/login_check/",
})
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")
_API_INFO = re.compile(rb"window\.gradio_api_info = .*?;</script>", re.S)
_NO_API_INFO = b'window.gradio_api_info = {"named_endpoints":{},"unnamed_endpoints":{}};</script>'
_REFUSED = b'{"detail":{"error":"Not authenticated","auth_message":"sign in first"}}'
SWEEP_S = 60.0  # how often the whole token table is checked for sessions past their age


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_access_warning(settings: Settings) -> str | None:
    """The warning to log and show when anyone on the network could edit data; None when it is fine."""
    if settings.auth_enabled or is_loopback(settings.host):
        return None
    return (f"This app is served on {settings.host} without a login: anyone who can reach it can edit and "
            "delete data and train models. Set FTDEMO_USERS=name:password:admin,... to require one.")


def file_route_blocklist(settings: Settings) -> list[str]:
    """Paths gradio's file route (/gradio_api/file=...) must never serve, whatever else allows them.

    The database (with its journal files) and the model versions always; the whole data directory
    too unless it contains gradio's upload or temp folder (blocking those would break uploads).
    """
    blocked: list[Path] = [settings.models_dir]
    db_file = sqlite_path(settings.db_url)
    if db_file is not None:
        blocked += [db_file] + [db_file.with_name(db_file.name + s) for s in ("-wal", "-shm", "-journal")]
    data_dir = settings.data_dir.resolve()
    scratch = [Path(tempfile.gettempdir()).resolve(), _gradio_upload_dir()]
    if not any(p == data_dir or data_dir in p.parents for p in scratch):
        blocked.insert(0, data_dir)
    return [str(Path(p).resolve()) for p in blocked]


def _gradio_upload_dir() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


class Sessions:
    """When each login token was issued, so that a session ends `max_age_s` later.

    Gradio keeps token -> user name in `app.tokens` with no time; the login middleware reports each
    token it sees issued (`started`), and a token first met elsewhere counts from then."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self.issued: dict[str, float] = {}

    def started(self, token: str) -> None:
        self.issued[token] = self.clock()

    def expired(self, token: str) -> bool:
        return self.clock() - self.issued.setdefault(token, self.clock()) > self.max_age_s

    def sweep(self, tokens: dict[str, str]) -> None:
        """Drop expired tokens from gradio's table (`tokens`) and forget tokens no longer in it (logged out)."""
        for token in [t for t in tokens if self.expired(t)]:
            tokens.pop(token, None)
        for token in [t for t in self.issued if t not in tokens]:
            del self.issued[token]


class RequireLogin:
    """ASGI middleware (for `launch(app_kwargs={"middleware": [...]})`): see the module docstring.

    The signed-in check is gradio's own: the session cookie must name a token that gradio's login
    issued, and (with `sessions`) one not older than its age; an expired token is removed from gradio's
    table, so gradio's own routes refuse it too. Installed only when auth is on; with auth off it
    passes everything through.
    """

    def __init__(self, app: Any, sessions: Sessions | None = None) -> None:
        self.app = app
        self.sessions = sessions
        self._swept = 0.0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or self._signed_in(scope):
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path == "/" and scope["type"] == "http" and scope.get("method") == "GET":
            await self.app(scope, receive, _without_api_info(send))
        elif path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await respond(send, 401, _REFUSED, b"application/json")

    def _signed_in(self, scope: dict) -> bool:
        app = scope.get("app")
        if not auth_on(app):
            return True  # auth is off: nothing to enforce
        tokens = getattr(app, "tokens", {})
        if self.sessions is not None and time.monotonic() - self._swept > SWEEP_S:
            self._swept = time.monotonic()  # tokens nobody uses again would otherwise stay forever
            self.sessions.sweep(tokens)
        token = session_token(scope)
        if not token or token not in tokens:
            return False
        if self.sessions is not None and self.sessions.expired(token):
            tokens.pop(token, None)
            return False
        return True


def auth_on(app: Any) -> bool:
    """Whether gradio's login is on for this (gradio) app."""
    return app is not None and (getattr(app, "auth", None) is not None
                                or getattr(app, "auth_dependency", None) is not None)


def session_token(scope: dict) -> str | None:
    """The login token in the request's session cookie (gradio sets a secure and a plain one)."""
    from starlette.requests import HTTPConnection

    cookies = HTTPConnection(scope).cookies
    cookie_id = getattr(scope.get("app"), "cookie_id", "")
    return cookies.get(f"access-token-{cookie_id}") or cookies.get(f"access-token-unsecure-{cookie_id}")


def session_user(scope: dict) -> str | None:
    """The signed-in user's name (gradio keeps token -> username in `app.tokens`), or None."""
    token = session_token(scope)
    return getattr(scope.get("app"), "tokens", {}).get(token) if token else None


async def respond(send: Any, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8",
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer an HTTP request from a middleware, without the app."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def route_path(scope: dict) -> str:
    """The request's path without the app's root_path (what the route tables here are written against)."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path or "/"


def _without_api_info(send: Any) -> Any:
    """Wrap `send` so the page's body has an empty API description (and a matching content-length)."""
    start: dict | None = None
    chunks: list[bytes] = []

    async def wrapped(message: dict) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _API_INFO.sub(_NO_API_INFO, b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return wrapped

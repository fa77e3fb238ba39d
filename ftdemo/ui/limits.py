"""What one visitor may cost the server, enforced as ASGI middleware in front of gradio.

`UploadLimits` (always installed): gradio's upload route takes up to 1,000 files per request, each up
to its max_file_size, from anyone signed in, and keeps them. Here, with logins on only admins may
upload (the only upload in the app is the admin's import), and one request carries at most
FTDEMO_MAX_UPLOAD_MB in all and MAX_UPLOAD_FILES files, counted while the body streams (a
Content-Length can be absent). Gradio deletes uploads after FTDEMO_TEMP_FILE_HOURS (`delete_cache`).

`LoginThrottle` (with logins on): gradio answers every wrong password at once. Here, after
FREE_FAILURES failed sign-ins for a user name or from an address, POST /login answers 429 until a
wait that doubles with each further failure (FTDEMO_LOGIN_BACKOFF_S the first time) is over, the
right password included; a success clears both counts. An attempt counts as failed from the moment
it reaches gradio until gradio accepts it, so guesses sent in parallel cannot all slip through
before the first failure is known. It also tells `Sessions` when each session began.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from ftdemo.settings import Settings
from ftdemo.ui.access import Sessions, auth_on, respond, route_path, session_user

UPLOAD_PATH = "/gradio_api/upload"
MAX_UPLOAD_FILES = 5  # the import panel sends one file; a few leave room for a script, not for a flood
MULTIPART_SLACK = 64 * 1024  # part headers and boundaries around the files' own bytes
LOGIN_PATHS = ("/login", "/login/")
LOGIN_BODY_LIMIT = 64 * 1024  # a sign-in form is a name and a password
FREE_FAILURES = 3  # typos happen: the first waits only after this many failures
MAX_BACKOFF_S = 900.0  # the longest wait: a guess every 15 minutes at most
FORGET_S = 4 * MAX_BACKOFF_S  # failures this long after the last one start a new count


def _header(scope: dict, name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers", []) if k.lower() == name), None)


def _boundary(scope: dict) -> bytes | None:
    """The multipart boundary from the Content-Type header (None: not multipart; gradio answers 400)."""
    for param in (_header(scope, b"content-type") or b"").split(b";")[1:]:
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"boundary" and value:
            return value.strip(b'"')
    return None


class UploadLimits:
    """ASGI middleware for gradio's upload route; see the module docstring."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.max_bytes = settings.max_upload_mb * 1024 * 1024 + MULTIPART_SLACK

    @property
    def too_big(self) -> bytes:
        return (f"the upload is larger than {self.settings.max_upload_mb} MB in all (FTDEMO_MAX_UPLOAD_MB): "
                "send a smaller file, or ask an admin to raise the limit").encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or route_path(scope) != UPLOAD_PATH:
            await self.app(scope, receive, send)
            return
        user = session_user(scope)
        if auth_on(scope.get("app")) and (user not in self.settings.users or not self.settings.users[user].is_admin):
            await respond(send, 403, f"{user or 'this visitor'!r} is not an admin; only an admin can upload "
                                     "files (imports are for admins): sign in as one".encode())
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await respond(send, 413, self.too_big)  # refused before a byte of the body is read
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the body through, counting bytes and parts; over a limit, answer 413 and end the body."""
        delimiter = b"--" + (_boundary(scope) or b"\0no boundary\0")
        seen, parts, tail = 0, 0, b""
        refused = False

        async def counting_receive() -> dict:
            nonlocal seen, parts, tail, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            body = message.get("body", b"")
            seen += len(body)
            window = tail + body  # a delimiter may straddle two chunks; `tail` is shorter than one
            parts += window.count(delimiter)
            tail = window[-(len(delimiter) - 1):]
            # each part opens with the delimiter and the body closes with it once more
            too_many = parts > MAX_UPLOAD_FILES + 1
            if seen > self.max_bytes or too_many:
                refused = True
                reason = f"at most {MAX_UPLOAD_FILES} files per upload: send fewer at a time".encode()
                await respond(send, 413, reason if too_many else self.too_big)
                return {"type": "http.disconnect"}  # gradio stops reading; what it wrote stays in its temp dir
            return message

        async def quiet_send(message: dict) -> None:
            if not refused:  # after our 413 the app's own answer (an error about the cut body) is dropped
                await send(message)

        try:
            await self.app(scope, counting_receive, quiet_send)
        except Exception:
            if not refused:
                raise


class Backoff:
    """Failed sign-ins per key ("user:alice", "address:10.0.0.1").

    From the FREE_FAILURES-th failure on, a key waits `base_s` × 2^(failures − FREE_FAILURES) seconds
    after its last failure (at most MAX_BACKOFF_S); a success forgets the key. At most MAX_KEYS keys are
    kept (made-up user names must not grow the table without end): the oldest go first."""

    MAX_KEYS = 10_000

    def __init__(self, base_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_s = base_s
        self.clock = clock
        self._keys: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one); oldest first

    def __len__(self) -> int:
        return len(self._keys)

    def wait(self, *keys: str) -> float:
        """Seconds until every key may try again (0: now)."""
        return max(0.0, *(self._until(key) - self.clock() for key in keys))

    def _until(self, key: str) -> float:
        failures, last = self._keys.get(key, (0, 0.0))
        if failures < FREE_FAILURES:
            return 0.0
        return last + min(MAX_BACKOFF_S, self.base_s * 2 ** min(failures - FREE_FAILURES, 60))

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            failures, last = self._keys.pop(key, (0, now))
            self._keys[key] = (1 if now - last > FORGET_S else failures + 1, now)
        while len(self._keys) > self.MAX_KEYS:
            del self._keys[next(iter(self._keys))]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)


class LoginThrottle:
    """ASGI middleware for gradio's POST /login; see the module docstring. Installed with logins on."""

    def __init__(self, app: Any, settings: Settings, sessions: Sessions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.sessions = sessions
        self.backoff = Backoff(settings.login_backoff_s, clock)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or route_path(scope) not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, LOGIN_BODY_LIMIT)
        if body is None:
            await respond(send, 413, b"a sign-in form is a user name and a password; this one is too large")
            return
        address = (scope.get("client") or ("unknown",))[0]
        keys = (f"user:{await form_username(scope, body)}", f"address:{address}")
        wait = self.backoff.wait(*keys)
        if wait > 0:
            seconds = math.ceil(wait)
            detail = (f"too many failed sign-ins for this user or from this address: try again in {seconds} "
                      "second" + ("s" if seconds != 1 else "") + " (each further failure doubles the wait)")
            await respond(send, 429, json.dumps({"detail": detail}).encode(), b"application/json",
                          [(b"retry-after", str(seconds).encode())])
            return
        self.backoff.failed(*keys)  # until gradio says otherwise (see the module docstring)

        async def watching_send(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:  # signed in
                self.backoff.succeeded(*keys)
                for token in _issued_tokens(message.get("headers", [])) if self.sessions is not None else ():
                    self.sessions.started(token)
            await send(message)

        await self.app(scope, _replay(body, receive), watching_send)


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None once it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """A `receive` that hands the app the body read here, then whatever the client sends next."""
    sent = False

    async def replayed() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


async def form_username(scope: dict, body: bytes) -> str:
    """The form's username as gradio reads it (stripped); the browser posts multipart, clients urlencoded."""
    from starlette.requests import Request

    try:
        async with Request(scope, _replay(body, _disconnected)).form(max_files=0, max_fields=10) as form:
            return str(form.get("username") or "").strip()[:200]
    except Exception:  # noqa: BLE001 - a malformed form: gradio refuses it; count it by address only
        return ""


async def _disconnected() -> dict:
    return {"type": "http.disconnect"}


def _issued_tokens(headers: list[tuple[bytes, bytes]]) -> set[str]:
    """The session tokens a login response sets (gradio's access-token-* cookies)."""
    tokens = set()
    for key, value in headers:
        name, _, rest = value.partition(b"=")
        if key.lower() == b"set-cookie" and name.strip().startswith(b"access-token-"):
            tokens.add(rest.split(b";", 1)[0].strip().decode("latin-1"))
    return tokens

"""What one visitor may cost the server, enforced as ASGI middleware in front of gradio.

`UploadLimits` (always installed): gradio's upload route takes up to 1,000 files per request, each up
to its max_file_size, from anyone signed in, and keeps them. Here, with logins on only admins may
upload (the only upload in the app is the admin's import), and one request carries at most
FTDEMO_MAX_UPLOAD_MB in all and MAX_UPLOAD_FILES files, counted while the body streams (a
Content-Length can be absent). Gradio deletes uploads after FTDEMO_TEMP_FILE_HOURS (`delete_cache`).
"""

from __future__ import annotations

from typing import Any

from ftdemo.settings import Settings
from ftdemo.ui.access import auth_on, respond, route_path, session_user

UPLOAD_PATH = "/gradio_api/upload"
MAX_UPLOAD_FILES = 5  # the import panel sends one file; a few leave room for a script, not for a flood
MULTIPART_SLACK = 64 * 1024  # part headers and boundaries around the files' own bytes


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
                await respond(send, 413, f"at most {MAX_UPLOAD_FILES} files per upload: send fewer at a time"
                              .encode() if too_many else self.too_big)
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

"""Who is acting: the signed-in user when FTDEMO_USERS / FTDEMO_USERS_FILE is set, else a name typed in
the browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ftdemo.errors import PermissionDeniedError
from ftdemo.services import Actor
from ftdemo.settings import Settings
from ftdemo.users import burn_check

DEFAULT_NAME = "anonymous"


def make_auth(settings: Settings) -> Callable[[str, str], bool] | None:
    """The `launch(auth=...)` callable checking Settings.users, or None when auth is off. A users file's
    scrypt hashes and FTDEMO_USERS' passwords are both compared in constant time, and an unknown name
    costs the same work as a wrong password (no hint which names exist)."""
    if not settings.users:
        return None
    users = dict(settings.users)

    def check(username: str, password: str) -> bool:
        user = users.get(username)
        if user is None:
            return burn_check(password or "")
        return user.check_password(password or "")

    return check


def clean_name(name: str | None) -> str:
    """A typed annotator name, trimmed to what the store accepts; blank → 'anonymous'."""
    cleaned = " ".join((name or "").split())[:100]
    return cleaned or DEFAULT_NAME


def actor_for(settings: Settings, request: Any, typed_name: str | None = None) -> Actor:
    """The Actor for one event.

    With auth on, the login decides name and role and `typed_name` is ignored (so an API client
    cannot label as someone else). Without auth everyone is a local admin under the typed name.
    """
    if settings.auth_enabled:
        username = getattr(request, "username", None) if request is not None else None
        user = settings.users.get(username or "")
        if user is None:
            raise PermissionDeniedError("this app requires a login: sign in again (your session may have expired)")
        return Actor(user.name, user.role)
    return Actor.local(clean_name(typed_name))

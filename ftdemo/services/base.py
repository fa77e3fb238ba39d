"""What every service shares: the database, the settings and who is acting."""

from __future__ import annotations

from dataclasses import dataclass

from ftdemo.errors import PermissionDeniedError
from ftdemo.settings import Settings
from ftdemo.store import Database


@dataclass(frozen=True)
class Actor:
    """Who performs an action. Without auth everyone is a local admin under a chosen name."""

    name: str
    role: str = "admin"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def local(cls, name: str = "local") -> "Actor":
        return cls(name=(name or "local").strip()[:100] or "local", role="admin")


def require_admin(actor: Actor, action: str) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError(f"{actor.name!r} is an annotator; only an admin can {action}")


class Service:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

"""Named errors. Every message says what went wrong and what the user can do about it.

The CLI prints ``str(err)`` on one line and exits non-zero; the UI shows it in a toast.
"""

from __future__ import annotations


class FtdemoError(Exception):
    """Base class for errors a user can act on (bad input, missing things, permissions)."""


class NotFoundError(FtdemoError):
    """A dataset, example, label or model version does not exist."""


class AlreadyExistsError(FtdemoError):
    """Something with that name already exists."""


class InvalidInputError(FtdemoError):
    """Input that cannot be accepted as given (unknown label, wrong task shape, bad file)."""


class AlreadyTrainedError(InvalidInputError):
    """A training run would train what a stored model version already holds: the same labelled snapshot
    with the same settings. `version` names that version."""

    def __init__(self, message: str, version: str = "") -> None:
        super().__init__(message)
        self.version = version


class PermissionDeniedError(FtdemoError):
    """The current user's role does not allow this action."""


class StorageError(FtdemoError):
    """The database cannot be used safely (unsafe filesystem, failed migration, locked)."""


class UnsafeFilesystemError(StorageError):
    """The SQLite file is on a network or FUSE filesystem whose locking SQLite cannot rely on."""


class DatabaseInUseError(StorageError):
    """A maintenance step (restore) needs the database closed, but a process still has it open."""


class UnsafeModelError(InvalidInputError):
    """A model directory holds only pickle weights; loading them could execute code (safetensors only)."""


class TrainingCancelled(FtdemoError):  # noqa: N818 - it is an outcome, not a failure
    """Training was stopped on request (should_stop returned True); nothing was produced."""


class BusyError(FtdemoError):
    """The user already runs as many requests of this kind as one user may at once; retry when one ends."""


class BatcherClosedError(FtdemoError):
    """The predictor was closed; create a new one to serve requests."""

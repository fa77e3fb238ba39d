"""Put a backup back in place of the app's SQLite database (offline: the app must be stopped).

The procedure `restore()` automates, each step because skipping it loses or corrupts data:
1. check the backup (SQLite integrity check, an ftdemo schema this version can migrate);
2. refuse while any process still has the database open (the app, a CLI command, a training job):
   replacing the file under it would leave it writing into a deleted file;
3. move the current database aside, with its -wal/-shm files (a -wal file can hold committed labels
   not yet copied into the main file), to `<name>.before-restore-<time>.db`;
4. copy the backup to a temporary file beside the database, then rename it into place, so a crash
   midway leaves either the old database or the whole backup, never half of one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from ftdemo.errors import DatabaseInUseError, StorageError
from ftdemo.store.filesystem import check_sqlite_location
from ftdemo.store.session import BUSY_TIMEOUT_MS, copy_sqlite_file, not_a_sqlite_file, sqlite_path

SIDE_FILES = ("-wal", "-shm", "-journal")
REQUIRED_TABLES = ("alembic_version", "datasets", "examples", "annotations")


@dataclass
class RestoreReport:
    source: Path
    restored: Path
    previous: Path | None  # where the replaced database now lies (None: there was none)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"source": str(self.source), "restored": str(self.restored),
                "previous": str(self.previous) if self.previous else None, "counts": self.counts}


def database_in_use(path: Path) -> bool:
    """Whether another process on this machine has the SQLite file open.

    Every connection to a WAL database keeps a shared lock on the file while it is open (even idle,
    e.g. pooled in the app), so a connection in exclusive locking mode cannot take its lock then.
    """
    if not path.exists():
        return False
    con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
    try:
        con.execute("PRAGMA locking_mode=EXCLUSIVE")
        con.execute("BEGIN EXCLUSIVE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "busy" in str(err):
            return True
        raise StorageError(f"cannot open {path} ({err})") from err
    except sqlite3.DatabaseError:  # e.g. 'file is not a database': not in use, just damaged
        return False
    finally:
        con.close()


def verify_backup(src: Path) -> dict[str, int]:
    """Row counts of a backup that passes SQLite's integrity check and holds an ftdemo schema."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from ftdemo.store.migrate import alembic_config

    if not src.is_file():
        raise StorageError(f"no backup file at {src}")
    try:
        con = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise StorageError(f"{src} fails SQLite's integrity check ({ok}); choose another backup")
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            missing = [t for t in REQUIRED_TABLES if t not in tables]
            if missing:
                raise StorageError(f"{src} is not an ftdemo database (no {', '.join(missing)} table)")
            revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
            counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in REQUIRED_TABLES[1:]}
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        raise StorageError(f"{src} is not a readable SQLite database ({err}); choose another backup") from err
    if revision is not None:
        try:
            ScriptDirectory.from_config(alembic_config()).get_revision(revision[0])
        except CommandError:
            raise StorageError(f"{src} was written by a newer ftdemo (schema {revision[0]}); upgrade ftdemo "
                               "before restoring it") from None
    return counts


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(src: str | Path, db_url: str, *, allow_unsafe_fs: bool = False) -> RestoreReport:
    """Replace the database at `db_url` with the backup `src`; the current one is kept beside it."""
    src = Path(src).resolve()
    target = sqlite_path(db_url)
    if target is None:
        raise StorageError(not_a_sqlite_file(db_url, "restore"))
    target = target.resolve()
    if src == target:
        raise StorageError(f"{src} is the database itself; restore from a backup file")
    check_sqlite_location(target, allow_unsafe=allow_unsafe_fs)
    counts = verify_backup(src)
    if database_in_use(target):
        raise DatabaseInUseError(f"{target} is open in another process (is the app running?); stop the app and "
                                 "any ftdemo commands using it, then run restore again")
    target.parent.mkdir(parents=True, exist_ok=True)

    # copy first, so a failure here leaves the current database untouched
    tmp = target.with_name(f".{target.name}.restore-partial")
    copy_sqlite_file(src, tmp, what=f"the copy of {src}")

    previous = None
    if target.exists():
        stamp, n = time.strftime("%Y%m%d-%H%M%S"), 1
        previous = target.with_name(f"{target.stem}.before-restore-{stamp}{target.suffix}")
        while previous.exists():  # two restores within a second: never overwrite a kept copy
            n += 1
            previous = target.with_name(f"{target.stem}.before-restore-{stamp}-{n}{target.suffix}")
        target.rename(previous)
    for suffix in SIDE_FILES:  # stale side files would be applied to the restored file: keep them with the old one
        side = Path(f"{target}{suffix}")
        if side.exists():
            if previous is not None:
                side.rename(Path(f"{previous}{suffix}"))
            else:
                side.unlink()
    os.replace(tmp, target)
    _fsync_dir(target.parent)
    return RestoreReport(source=src, restored=target, previous=previous, counts=counts)

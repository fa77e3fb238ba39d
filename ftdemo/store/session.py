"""Engine and transactions, with each backend's specifics (pragmas, write locks, online copy).

Where a SQLite file may live is filesystem.py's business, swapping the file for a backup restore.py's.

Every write transaction holds the database's one write lock from its first statement to its end, so
it reads what the writer before it committed: a label saved twice at once is one row, a text added
twice at once is one example and one "already in the dataset", never a constraint error.

SQLite gets WAL (readers never block the writer), a 10 s busy timeout, foreign keys, and
`synchronous=FULL` (a committed label survives power loss, at the cost of one extra fsync per
commit). Writes open with `BEGIN IMMEDIATE`, so two writers queue at the start of a transaction
instead of failing with 'database is locked' when a read lock would be upgraded; the wait polls
every few milliseconds (see `_begin_immediate`) so that short writes slip in between an import's
chunks.

PostgreSQL runs READ COMMITTED (each statement sees what committed before it) and a write takes a
transaction-scoped advisory lock first (`pg_advisory_xact_lock`, released at commit or rollback), waiting
at most the same 10 s (`lock_timeout`). Row locks or SERIALIZABLE would need every caller to re-run its
transaction on a conflict; one lock keeps SQLite's semantics, and label writes are short.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ftdemo.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
_WRITE = "ftdemo_write"
# The advisory lock's key (any bigint, the same in every ftdemo process; a lock is scoped to one database).
PG_WRITE_LOCK_KEY = int.from_bytes(b"ftdemo-w", "big") >> 1
PG_LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock wait that ran past lock_timeout


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def public_url(url: str) -> str:
    """The URL fit for logs and reports: a server's password shows as ***."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or other backends)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(cur)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(_WRITE, False):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")


def _enable_wal(cur) -> None:  # type: ignore[no-untyped-def]
    """PRAGMA journal_mode = WAL, retried while another connection holds the file.

    Switching a new file to WAL needs its exclusive lock. When several processes open a new database at
    once, each holds a shared lock and wants the exclusive one; SQLite reports that deadlock at once as
    "database is locked" without calling the busy handler, so the busy timeout does not help here.
    Once the file is in WAL mode (persistent) the pragma no longer needs that lock.
    """
    deadline, delay = time.monotonic() + BUSY_TIMEOUT_MS / 1000, 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err).lower() or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    """BEGIN IMMEDIATE, polling for the write lock every few milliseconds.

    SQLite's own busy handler sleeps up to 100 ms between tries, while a bulk writer (an import
    committing chunk after chunk) frees the lock for only a few tens of milliseconds at a time: a
    labeller's write could miss gap after gap and wait seconds. Polling at ≤ 4 ms catches the gaps.
    """
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    deadline, delay = time.monotonic() + BUSY_TIMEOUT_MS / 1000, 0.001
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as err:
                if "locked" not in str(err).lower() or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.004)
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _install_postgresql_write_lock(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(_WRITE, False):
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS}")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK_KEY})")


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite files get their directory created and the pragmas,
    PostgreSQL READ COMMITTED and the write lock."""
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
        _install_sqlite_pragmas(engine)
        return engine
    if is_postgresql(url):
        # explicit: under a server default of REPEATABLE READ a writer's snapshot would predate the lock
        engine = create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED")
        _install_postgresql_write_lock(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _busy(err: OperationalError) -> bool:
    """Whether the write lock was still held by another writer when the wait ran out."""
    return getattr(err.orig, "sqlstate", None) == PG_LOCK_NOT_AVAILABLE or "locked" in str(err.orig).lower()


class Database:
    """Owns the engine; hands out one session per user event via `read()` / `write()`."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False)
        if migrate:
            from ftdemo.store.derived import backfill
            from ftdemo.store.migrate import upgrade

            upgrade(self.engine)
            backfill(self)  # datasets from before the derived tables get theirs, from their history

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (deferred transaction; rolled back at the end)."""
        with self._reader() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: commits on success, rolls back on error.

        It starts by waiting for the write lock (SQLite: polling, up to the busy timeout; PostgreSQL: in
        the advisory lock's queue, up to lock_timeout); a lock still held after that (a very long writer
        elsewhere) is a StorageError the user can retry.
        """
        session = self._writer()
        try:
            session.connection()  # the write lock is taken here (BEGIN IMMEDIATE, the advisory lock)
        except OperationalError as err:
            session.close()
            raise StorageError(f"the database is busy ({err.orig}); try again in a moment") from err
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # --- diagnostics -------------------------------------------------------------------------
    def server_version(self) -> str:
        """What keeps the data, e.g. 'SQLite 3.40.1' or 'PostgreSQL 15.18'."""
        with self.engine.connect() as conn:
            if is_sqlite(self.url):
                return f"SQLite {conn.exec_driver_sql('SELECT sqlite_version()').scalar()}"
            name = {"postgresql": "PostgreSQL"}.get(conn.dialect.name, conn.dialect.name)
            return f"{name} {'.'.join(str(part) for part in conn.dialect.server_version_info or ())}".strip()

    def integrity_check(self) -> str:
        """'ok' when SQLite's integrity check passes. A server (PostgreSQL) checks its own pages (checksums,
        WAL replay) and has no such query: 'ok' there means it answers."""
        with self.engine.connect() as conn:
            if is_sqlite(self.url):
                return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
            conn.execute(text("SELECT 1"))
            return "ok"

    def journal_mode(self) -> str:
        if not is_sqlite(self.url):
            return "n/a"
        with self.engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())

    def dispose(self) -> None:
        self.engine.dispose()


def not_a_sqlite_file(url: str, command: str) -> str:
    """Why `backup` / `restore` (which copy SQLite files) refuse `url`, and what to use instead."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"{command} copies SQLite files, and {url} is an in-memory database: there is no file to copy"
    if parsed.get_backend_name() != "postgresql":
        return (f"{command} copies SQLite files, and this is a {parsed.get_backend_name()} database: use its own "
                f"{command} tools, and copy the models directory beside it")
    # the same database as a libpq URI (no driver, no password: pg_dump reads PGPASSWORD or ~/.pgpass)
    uri = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                     database=parsed.database, query=parsed.query).render_as_string(hide_password=False)
    if command == "backup":
        return (f"backup copies SQLite files, and this is a PostgreSQL database: back it up with pg_dump, safe "
                f"while the app runs (pg_dump -Fc -f ftdemo.dump '{uri}'), and copy the models directory beside it; "
                f"see the README, 'Storage, durability and backups'")
    return (f"restore replaces SQLite files, and this is a PostgreSQL database: stop the app, then pg_restore "
            f"(pg_restore --clean --if-exists -d '{uri}' ftdemo.dump) and put the models directory back; see the "
            f"README, 'Storage, durability and backups'")


def copy_sqlite_file(src: Path, dest: Path, *, what: str) -> None:
    """Copy the SQLite database `src` (read-only, consistent even while others write) to a new,
    self-contained file `dest`, and check it; on a failed check `dest` is removed and StorageError raised."""
    dest.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    out = sqlite3.connect(dest)
    try:
        # One step: a WAL reader never holds off writers, and a copy made in steps restarts from the first
        # page whenever another connection commits in between, so under steady labelling it may never finish.
        source.backup(out)
        out.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file (no -wal beside it)
        ok = out.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        out.close()
        source.close()
    if ok != "ok":
        dest.unlink(missing_ok=True)
        raise StorageError(f"{what} failed its integrity check ({ok}); the source may be damaged or the disk full")


def backup(source: Database | str, dest: str | Path) -> Path:
    """Online copy of a SQLite database (a Database or its URL; SQLite's backup API: consistent while
    writers run). `dest`: a new file, or a directory for a time-stamped one. Returns the file."""
    url = source if isinstance(source, str) else source.url
    src_path = sqlite_path(url)
    if src_path is None:
        raise StorageError(not_a_sqlite_file(url, "backup"))
    if not src_path.is_file():
        raise StorageError(f"there is no database at {src_path} to back up; check FTDEMO_DATA_DIR / FTDEMO_DB_URL")
    target = Path(dest)
    if target.is_dir() or str(dest).endswith("/"):
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"ftdemo-backup-{time.strftime('%Y%m%d-%H%M%S')}.db"
    if target.exists():
        raise StorageError(f"{target} already exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    copy_sqlite_file(src_path, tmp, what="the backup")
    tmp.rename(target)
    return target

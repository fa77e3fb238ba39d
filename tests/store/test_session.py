import threading
import time

import pytest
from sqlalchemy import text

from ftdemo.errors import StorageError
from ftdemo.store import Database
from ftdemo.store import session as session_module
from ftdemo.store.session import BUSY_TIMEOUT_MS, PG_WRITE_LOCK_KEY, sqlite_path


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_pragmas_are_set_on_every_connection(fresh_db):
    with fresh_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_new_sqlite_file_opened_by_many_processes_at_once_all_get_wal(tmp_path):
    """Switching a new file to WAL needs its exclusive lock; openers racing for it (while one already
    writes) deadlock, and SQLite answers "database is locked" at once, without the busy handler. Every
    opener must retry instead of failing. Without the retry about one round in ten fails; 40 rounds
    catch it almost always."""
    errors: list[BaseException] = []
    for round_ in range(40):
        url = f"sqlite:///{tmp_path}/race{round_}.db"
        barrier = threading.Barrier(4)

        def open_and_write(url: str = url, barrier: threading.Barrier = barrier) -> None:
            engine = session_module.make_engine(url)  # one engine each, like separate app processes
            try:
                barrier.wait(10)
                with engine.execution_options(**{session_module._WRITE: True}).begin() as conn:
                    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                    conn.exec_driver_sql("INSERT INTO t VALUES (1)")
                with engine.connect() as conn:
                    assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            except BaseException as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=open_and_write) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_writes_hold_the_advisory_lock_under_read_committed(fresh_db):
    with fresh_db.read() as s:
        assert s.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        assert s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar() == 0
    with fresh_db.write() as s:
        assert s.execute(text("SHOW lock_timeout")).scalar() == f"{BUSY_TIMEOUT_MS // 1000}s"
        held = s.execute(text("SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
                              "WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted")).scalars().all()
        assert held == [PG_WRITE_LOCK_KEY]
    with fresh_db.read() as s:  # released at commit
        assert s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar() == 0


def test_write_takes_the_write_lock_at_begin(fresh_db):
    """BEGIN IMMEDIATE: while one write transaction is open, a second writer waits instead of racing."""
    order = []
    inside = threading.Event()
    release = threading.Event()

    def first():
        with fresh_db.write() as s:
            s.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by) "
                           "VALUES ('a', 'pair', '', '2026-01-01', '')"))
            inside.set()
            release.wait(5)
            order.append("first-commit")

    t = threading.Thread(target=first)
    t.start()
    inside.wait(5)
    threading.Timer(0.3, release.set).start()
    with fresh_db.write() as s:  # blocks in BEGIN IMMEDIATE until the first commits
        order.append("second-begin")
        assert s.execute(text("SELECT count(*) FROM datasets")).scalar() == 1
    t.join()
    assert order == ["first-commit", "second-begin"]


def hold_write_lock(path, seconds: float) -> threading.Thread:
    """Another connection (as another process would) holds the write lock for `seconds`."""
    import sqlite3

    started = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        con.execute("COMMIT")
        con.close()

    t = threading.Thread(target=hold)
    t.start()
    started.wait(5)
    return t


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_writer_gets_the_lock_when_another_connection_lets_go(fresh_db):
    holder = hold_write_lock(sqlite_path(fresh_db.url), 0.3)
    with fresh_db.write() as s:  # polls for the lock, then writes
        s.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by) "
                       "VALUES ('a', 'pair', '', '2026-01-01', '')"))
    holder.join()
    with fresh_db.engine.connect() as conn:  # polling set the busy timeout back for everyone else
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS


def test_write_rolls_back_on_error(fresh_db):
    with pytest.raises(RuntimeError):
        with fresh_db.write() as s:
            s.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by) "
                           "VALUES ('a', 'pair', '', '2026-01-01', '')"))
            raise RuntimeError("boom")
    with fresh_db.read() as s:
        assert s.execute(text("SELECT count(*) FROM datasets")).scalar() == 0


def test_a_writer_that_never_gets_the_lock_is_told_the_database_is_busy(db_url, monkeypatch):
    monkeypatch.setattr(session_module, "BUSY_TIMEOUT_MS", 200)  # read when a connection or write begins
    db = Database(db_url)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write():
            holding.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert holding.wait(10)
        with pytest.raises(StorageError, match="the database is busy"):
            with db.write():
                pass
    finally:
        release.set()
        t.join()
    with db.write() as s:  # and once the lock is free, writes go through again
        s.execute(text("SELECT 1"))
    db.dispose()


def test_integrity_and_journal_mode(fresh_db, backend):
    assert fresh_db.integrity_check() == "ok"
    assert fresh_db.journal_mode() == {"sqlite": "wal", "postgresql": "n/a"}[backend]


def test_sqlite_path_parsing(tmp_path):
    assert sqlite_path(f"sqlite:///{tmp_path}/x.db") == tmp_path / "x.db"
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://u@h/db") is None


def test_storage_error_is_named():
    assert issubclass(StorageError, Exception)

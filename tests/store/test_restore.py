"""restore(): checks the backup, refuses a database in use, keeps the replaced one, leaves no stale WAL."""

import sqlite3
import subprocess
import sys

import pytest

from ftdemo.errors import DatabaseInUseError, StorageError
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store.restore import database_in_use, restore
from ftdemo.store.session import backup

ADMIN = Actor("a", "admin")
KILLED_WRITER = """
import os, signal, sys
from ftdemo.settings import Settings
from ftdemo.services import Actor, Services
sv = Services(Settings(db_url=sys.argv[1], seed_demo=False))
sv.annotate.add("d", "committed, then killed", labels=["x"], actor=Actor("a", "admin"))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def live(tmp_path):
    """A database with 3 labelled examples and its backup; the services are closed (the app 'stopped')."""
    sv = Services(Settings(data_dir=tmp_path / "live", seed_demo=False))
    sv.datasets.create("d", "single_label", "x,y", actor=ADMIN)
    for i in range(3):
        sv.annotate.add("d", f"kept {i}", labels=["x"], actor=ADMIN)
    copy = backup(sv.db, tmp_path / "backups" / "b.db")
    sv.annotate.add("d", "after the backup", labels=["y"], actor=ADMIN)
    sv.close()
    return sv.settings, copy


def test_restore_replaces_the_database_and_keeps_the_old_one(live):
    settings, copy = live
    db_file = settings.data_dir / "ftdemo.db"
    # an app killed with -9 right after a commit: the label lives only in the -wal file beside the database
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, settings.db_url], timeout=120)
    assert killed.returncode == -9
    assert db_file.with_name("ftdemo.db-wal").stat().st_size > 0

    report = restore(copy, settings.db_url)
    assert report.counts == {"datasets": 1, "examples": 3, "annotations": 3}
    assert report.previous is not None and report.previous.name.startswith("ftdemo.before-restore-")
    assert not any(db_file.with_name(db_file.name + s).exists() for s in ("-wal", "-shm"))  # nothing stale
    sv = Services(settings)
    assert sv.db.integrity_check() == "ok" and sv.datasets.stats("d").labelled == 3
    sv.close()
    old = Services(settings.replace(db_url=f"sqlite:///{report.previous}"))  # the kept copy has everything
    assert old.datasets.stats("d").labelled == 5
    old.close()


def test_restore_into_an_empty_data_dir(live, tmp_path):
    _, copy = live
    settings = Settings(data_dir=tmp_path / "fresh", seed_demo=False)
    report = restore(copy, settings.db_url)
    assert report.previous is None
    sv = Services(settings)
    assert sv.datasets.stats("d").labelled == 3
    sv.close()


def test_restore_refuses_while_the_database_is_open(live):
    settings, copy = live
    sv = Services(settings)  # an idle app: its pooled connection keeps the file open
    sv.datasets.names()
    assert database_in_use(settings.data_dir / "ftdemo.db")
    with pytest.raises(DatabaseInUseError, match="is the app running"):
        restore(copy, settings.db_url)
    assert sv.datasets.stats("d").labelled == 4  # untouched
    sv.close()
    assert not database_in_use(settings.data_dir / "ftdemo.db")


def test_restore_refuses_a_damaged_or_foreign_backup(live, tmp_path):
    settings, copy = live
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match="not a readable SQLite database"):
        restore(garbage, settings.db_url)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StorageError, match="not an ftdemo database"):
        restore(other, settings.db_url)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])
    with pytest.raises(StorageError):
        restore(truncated, settings.db_url)
    with pytest.raises(StorageError, match="no backup file"):
        restore(tmp_path / "missing.db", settings.db_url)
    newer = tmp_path / "newer.db"
    newer.write_bytes(copy.read_bytes())
    con = sqlite3.connect(newer)
    con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="newer ftdemo"):
        restore(newer, settings.db_url)
    sv = Services(settings)  # every refusal left the live database as it was
    assert sv.datasets.stats("d").labelled == 4
    sv.close()

"""Online backup while writers run: the copy is consistent and holds every committed row."""

import sqlite3
import threading

import pytest

from ftdemo.errors import StorageError
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store.session import backup


def test_backup_while_writing_is_consistent_and_restorable(tmp_path):
    sv = Services(Settings(data_dir=tmp_path / "live", seed_demo=False))
    admin = Actor("a", "admin")
    sv.datasets.create("d", "single_label", "x,y", actor=admin)
    stop = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop.is_set():
            written.append(sv.annotate.add("d", f"text {i}", labels=["x"], actor=admin).id)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    while len(written) < 20:
        pass
    path = backup(sv.db, tmp_path / "backups/")
    stop.set()
    t.join()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n_examples = con.execute("SELECT count(*) FROM examples").fetchone()[0]
    n_labels = con.execute("SELECT count(*) FROM annotations").fetchone()[0]
    con.close()
    assert 20 <= n_examples <= len(written) and n_labels == n_examples  # each example with its label, no half rows
    restored = Services(Settings(data_dir=tmp_path, db_url=f"sqlite:///{path}"))
    assert restored.datasets.stats("d").labelled == n_examples
    with pytest.raises(StorageError, match="already exists"):
        backup(sv.db, path)


def test_backup_of_a_large_database_finishes_under_constant_writes(tmp_path):
    """A copy made in steps restarts whenever another connection commits between steps; under steady
    writes to a database bigger than one step it would never finish. One step always does."""
    sv = Services(Settings(data_dir=tmp_path / "live", seed_demo=False))
    db_file = tmp_path / "live" / "ftdemo.db"
    con = sqlite3.connect(db_file, isolation_level=None)
    con.execute("CREATE TABLE padding (x TEXT)")
    con.execute("BEGIN")
    con.executemany("INSERT INTO padding VALUES (?)", [("x" * 4000,)] * 6000)  # ~25 MB, ~6000 pages
    con.execute("COMMIT")
    stop = threading.Event()
    commits = []

    def writer():  # its own connection, like the app process next to `python -m ftdemo backup`
        w = sqlite3.connect(db_file, isolation_level=None, timeout=10)
        while not stop.is_set():
            w.execute("INSERT INTO padding VALUES ('y')")
            commits.append(1)
        w.close()

    done = []
    t = threading.Thread(target=writer)
    t.start()
    b = threading.Thread(target=lambda: done.append(backup(sv.db, tmp_path / "copy.db")))
    b.start()
    b.join(timeout=60)
    stop.set()
    t.join()
    con.close()
    sv.close()
    assert done, "the backup did not finish within 60 s while a writer committed"
    assert len(commits) > 10  # the writer really ran alongside
    copy = sqlite3.connect(done[0])
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM padding").fetchone()[0] >= 6000
    copy.close()

"""Online backup while writers run: the copy is consistent and holds every committed row."""

import sqlite3
import threading

import pytest

from ftdemo.config import Settings
from ftdemo.errors import StorageError
from ftdemo.services import Actor, Services
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

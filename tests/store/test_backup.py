"""Online backup while writers run: the copy is consistent and holds every committed row. PostgreSQL is
backed up with its own tools, as `backup` / `restore` say when asked to copy one."""

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import threading

import pytest

from ftdemo.errors import StorageError
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store.restore import restore
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


def _client_program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (Debian: apt-get install -y postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def _run_suggested(refusal: StorageError, program: str, cwd) -> None:
    """Run the command a refusal suggests, as an operator would paste it."""
    command = shlex.split(re.search(rf"\(({program} [^)]*)\)", str(refusal)).group(1))
    done = subprocess.run([_client_program(program), *command[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_is_backed_up_with_pg_dump_and_restored_with_pg_restore(migrated_db_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", db_url=migrated_db_url, seed_demo=False)
    sv = Services(settings)
    admin = Actor("a", "admin")
    sv.datasets.create("d", "single_label", "x,y", actor=admin)
    for i in range(3):
        sv.annotate.add("d", f"kept {i}", labels=["x"], actor=admin)
    with pytest.raises(StorageError, match="pg_dump") as refused:
        backup(sv.db, tmp_path / "backups/")
    _run_suggested(refused.value, "pg_dump", tmp_path)  # while the app has the database open
    sv.annotate.add("d", "after the dump", labels=["y"], actor=admin)
    sv.close()

    with pytest.raises(StorageError, match="pg_restore") as refused:
        restore(tmp_path / "ftdemo.dump", settings.db_url)
    _run_suggested(refused.value, "pg_restore", tmp_path)
    sv = Services(settings)
    assert sv.datasets.stats("d").label_counts == {"x": 3, "y": 0}
    assert sv.annotate.add("d", "after the restore", labels=["y"], actor=admin).labels == ["y"]  # ids carry on
    assert sv.db.integrity_check() == "ok"
    sv.close()

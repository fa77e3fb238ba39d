"""`backup` while the app writes, then `restore`, as an operator runs them: real subprocesses, exit codes."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = 60
WRITERS = 2
ROWS = ("SELECT a.annotator, a.example_id, l.name FROM annotations a JOIN annotation_labels al "
        "ON al.annotation_id = a.id JOIN labels l ON l.id = al.label_id WHERE a.annotator != 'setup'")


def _cli(*args: str, db_url: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FTDEMO_")}, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "ftdemo", *args, "--db", db_url, "--json"], capture_output=True,
                          text=True, timeout=180, env=env)


def _rows(db_file: Path) -> set[tuple[str, int, str]]:
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return set(con.execute(ROWS).fetchall())
    finally:
        con.close()


def test_backup_while_labelling_then_restore(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", seed_demo=False)
    app = Services(settings)  # stands in for the running app: same services, its own connections
    app.datasets.create("d", "single_label", ["pos", "neg"], actor=Actor("setup"))
    for i in range(EXAMPLES):
        app.annotate.add("d", f"text {i}", actor=Actor("setup"))

    acked: list[tuple[str, int, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def writer(slot: int) -> None:
        cycle = 0
        while not stop.is_set():
            name = f"w{slot}-{cycle}"
            for example_id in range(1, EXAMPLES + 1):
                if stop.is_set():
                    return
                label = ("pos", "neg")[(example_id + slot) % 2]
                try:
                    app.annotate.label("d", example_id, label, actor=Actor(name, "annotator"))
                except Exception as err:  # noqa: BLE001 - any failure fails the test below
                    errors.append(repr(err))
                    return
                acked.append((name, example_id, label))
            cycle += 1

    threads = [threading.Thread(target=writer, args=(slot,)) for slot in range(WRITERS)]
    for t in threads:
        t.start()
    while len(acked) < 20:
        time.sleep(0.01)
    before = set(acked)
    t0 = time.monotonic()
    done = _cli("backup", str(tmp_path / "backups") + "/", db_url=settings.db_url)
    backup_s = time.monotonic() - t0
    after = set(acked)
    stop.set()
    for t in threads:
        t.join()
    assert done.returncode == 0, done.stderr
    assert not errors, errors[:3]  # the backup held no writer off long enough to fail it
    copy = Path(json.loads(done.stdout)["path"])
    in_backup = _rows(copy)
    assert before <= in_backup, "every label acknowledged before the backup started is in it"
    assert in_backup <= after | set(acked), "nothing in the backup that was not written"
    assert len(acked) > len(before), f"the writers kept going during the {backup_s:.1f} s backup command"

    # restore refuses while the app still has the database open ...
    refused = _cli("restore", str(copy), db_url=settings.db_url)
    assert refused.returncode == 2 and "is the app running" in refused.stderr
    # ... and works once it is stopped
    app.close()
    live_rows = _rows(settings.data_dir / "ftdemo.db")
    restored = _cli("restore", str(copy), db_url=settings.db_url)
    assert restored.returncode == 0, restored.stderr
    report = json.loads(restored.stdout)
    assert report["counts"]["annotations"] == len(in_backup) and Path(report["previous"]).exists()

    reopened = Services(settings)  # the app starting again on the restored file
    try:
        assert reopened.db.integrity_check() == "ok"
        assert _rows(settings.data_dir / "ftdemo.db") == in_backup
        assert sum(reopened.datasets.stats("d").annotators.values()) >= 1
    finally:
        reopened.close()
    assert _rows(Path(report["previous"])) == live_rows  # the replaced database is kept whole


def test_backup_and_restore_refuse_a_postgresql_url_and_name_its_tools(tmp_path, capsys):
    """They copy SQLite files; on PostgreSQL they say what to use instead (without the password) and
    touch nothing. No server needed: they refuse before connecting."""
    from ftdemo.cli import main

    url = "postgresql+psycopg://ftdemo:s3cret@db.example:5433/labels"
    assert main(["backup", str(tmp_path / "backups") + "/", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "pg_dump -Fc -f ftdemo.dump 'postgresql://ftdemo@db.example:5433/labels'" in err
    assert "models directory" in err and "s3cret" not in err and len(err.strip().splitlines()) == 1
    assert main(["restore", str(tmp_path / "ftdemo.dump"), "--db", url]) == 2
    err = capsys.readouterr().err
    assert "pg_restore --clean --if-exists -d 'postgresql://ftdemo@db.example:5433/labels' ftdemo.dump" in err
    assert "stop the app" in err and "s3cret" not in err
    assert list(tmp_path.iterdir()) == []  # no backup directory made, nothing restored


def test_doctor_names_the_database_and_hides_a_password(migrated_db_url, backend, tmp_path, monkeypatch, capsys):
    from sqlalchemy.engine import make_url

    from ftdemo.cli import main
    from ftdemo.store.migrate import head_revision

    monkeypatch.setenv("FTDEMO_DATA_DIR", str(tmp_path))
    url = migrated_db_url
    if backend == "postgresql":  # the test server trusts its socket: any password gets in
        url = make_url(url).set(password="s3cret").render_as_string(hide_password=False)
    assert main(["doctor", "--db", url, "--json"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["database"].startswith({"sqlite": "SQLite 3.", "postgresql": "PostgreSQL "}[backend])
    assert report["integrity"] == "ok" and report["schema"].startswith(head_revision())
    assert report["journal_mode"] == {"sqlite": "wal", "postgresql": "n/a"}[backend]
    assert "s3cret" not in out and report["problems"] == []

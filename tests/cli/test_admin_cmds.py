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

"""Schema changes go through migrations, and a database made by the first one survives upgrades."""

import sqlite3
import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from ftdemo.store import Database
from ftdemo.store.migrate import current_revision, head_revision, upgrade
from ftdemo.store.schema import Base


def test_migrated_schema_matches_the_orm(fresh_db):
    with fresh_db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert current_revision(fresh_db.engine) == head_revision()


def test_database_made_by_first_migration_upgrades_with_every_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(create_engine(url), "0001")
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("INSERT INTO datasets VALUES (1, 'old', 'single_label', '', '2025-01-01 00:00:00', 'u')")
    con.executemany("INSERT INTO labels VALUES (?, 1, ?, ?, 0, '2025-01-01 00:00:00')", [(1, "pos", 0), (2, "neg", 1)])
    con.executemany(
        "INSERT INTO examples (id, dataset_id, text, text_pair, content_hash, source, meta, created_at, created_by)"
        " VALUES (?, 1, ?, NULL, ?, 'old', NULL, '2025-01-01 00:00:00', 'u')",
        [(i, f"text {i}", f"{i:064x}") for i in range(1, 51)])
    con.executemany("INSERT INTO annotations VALUES (?, ?, 'u', 'label', '2025-01-01 00:00:00', NULL)",
                    [(i, i) for i in range(1, 51)])
    con.executemany("INSERT INTO annotation_labels VALUES (?, ?)", [(i, 1 + i % 2) for i in range(1, 51)])
    con.commit()
    con.close()

    db = Database(url)  # opening the app's database migrates it to head
    assert current_revision(db.engine) == head_revision()
    from ftdemo.services import Services
    from ftdemo.settings import Settings

    sv = Services(Settings(data_dir=tmp_path, db_url=url), db=db)
    st = sv.datasets.stats("old")
    assert (st.examples, st.labelled) == (50, 50)
    assert st.label_counts == {"pos": 25, "neg": 25}
    assert len(sv.annotate.snapshot("old")) == 50
    assert db.integrity_check() == "ok"


def test_opening_twice_is_idempotent(db_url):
    Database(db_url).dispose()
    db = Database(db_url)
    assert current_revision(db.engine) == head_revision()


def test_app_instances_starting_together_migrate_once(db_url):
    """Several app processes starting at once on an empty database: one migrates, the others wait for the
    write lock and find the schema at head (on PostgreSQL they would otherwise race to CREATE TABLE)."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(10)
            Database(db_url).dispose()
        except BaseException as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a start still hangs after 2 minutes"
    assert errors == []
    db = Database(db_url, migrate=False)
    assert current_revision(db.engine) == head_revision()
    db.dispose()

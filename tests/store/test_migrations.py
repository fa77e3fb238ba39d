"""Schema changes go through migrations, and a database made by the first one survives upgrades."""

import datetime as dt
import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from ftdemo.services import Actor
from ftdemo.store import Database, derived
from ftdemo.store.migrate import current_revision, head_revision, upgrade
from ftdemo.store.schema import Base
from ftdemo.store.session import make_engine


def test_migrated_schema_matches_the_orm(fresh_db):
    with fresh_db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert current_revision(fresh_db.engine) == head_revision()


def test_database_made_by_first_migration_upgrades_with_every_row(db_url, tmp_path):
    """Rows written at revision 0001 (as that version of the app wrote them: ids from the database) are all
    there at head, and the app goes on writing (on PostgreSQL, the id sequences carry on past them)."""
    old_engine = make_engine(db_url)
    upgrade(old_engine, "0001")
    then = dt.datetime(2025, 1, 1)
    with old_engine.begin() as conn:
        ds_id = conn.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by) "
                                  "VALUES ('old', 'single_label', '', :t, 'u') RETURNING id"), {"t": then}).scalar_one()
        conn.execute(text("INSERT INTO labels (dataset_id, name, position, retired, created_at) "
                          "VALUES (:d, :n, :p, :r, :t)"),
                     [{"d": ds_id, "n": n, "p": p, "r": False, "t": then} for p, n in enumerate(("pos", "neg"))])
        conn.execute(text("INSERT INTO examples (dataset_id, text, text_pair, content_hash, source, meta, created_at, "
                          "created_by) VALUES (:d, :x, NULL, :h, 'old', NULL, :t, 'u')"),
                     [{"d": ds_id, "x": f"text {i}", "h": f"{i:064x}", "t": then} for i in range(1, 51)])
        example_ids = conn.execute(text("SELECT id FROM examples ORDER BY id")).scalars().all()
        conn.execute(text("INSERT INTO annotations (example_id, annotator, kind, created_at, reverts_id) "
                          "VALUES (:e, 'u', 'label', :t, NULL)"), [{"e": e, "t": then} for e in example_ids])
        ann_ids = conn.execute(text("SELECT id FROM annotations ORDER BY id")).scalars().all()
        label_ids = dict(conn.execute(text("SELECT name, id FROM labels")).all())
        conn.execute(text("INSERT INTO annotation_labels (annotation_id, label_id) VALUES (:a, :l)"),
                     [{"a": a, "l": label_ids["pos" if i % 2 else "neg"]} for i, a in enumerate(ann_ids)])
    old_engine.dispose()

    db = Database(db_url)  # opening the app's database migrates it to head
    assert current_revision(db.engine) == head_revision()
    from ftdemo.services import Services
    from ftdemo.settings import Settings

    sv = Services(Settings(data_dir=tmp_path, db_url=db_url), db=db)
    st = sv.datasets.stats("old")
    assert (st.examples, st.labelled) == (50, 50)
    assert st.label_counts == {"pos": 25, "neg": 25}
    assert len(sv.annotate.snapshot("old")) == 50
    assert [h["annotator"] for h in sv.annotate.get("old", example_ids[0]).history] == ["u"]
    new = sv.annotate.add("old", "written after the upgrade", labels=["pos"], actor=Actor("v"))
    assert new.id > max(example_ids) and sv.datasets.stats("old").labelled == 51
    with db.read() as s:
        old_rows = s.execute(text("SELECT origin, count(*) FROM annotations WHERE annotator = 'u' GROUP BY 1"))
        assert old_rows.all() == [("", 50)]  # 0003's new column, filled in for every old row
        # 0006's: no suggestion shown, no bulk action, the app's retraining interval; one label made since
        assert s.execute(text("SELECT count(*) FROM annotations WHERE annotator = 'u' AND suggested IS NULL AND "
                              "suggestion_model = '' AND suggestion_outcome = '' AND batch IS NULL")).scalar() == 50
        assert s.execute(text("SELECT retrain_every, labels_since_run FROM datasets WHERE name = 'old'")).one() == (None, 1)
        # 0007's: no overlap (k 2 when one is set); every example's overlap key, the hash of its id
        assert s.execute(text("SELECT overlap_share, overlap_k FROM datasets WHERE name = 'old'")).one() == (0, 2)
        keys = dict(s.execute(text("SELECT example_id, overlap_key FROM example_states")).all())
        assert keys == {i: derived.overlap_key(i) for i in [*example_ids, new.id]}
    assert sv.annotate.next("old", Actor("v")) is None  # every example labelled; the lease table answers
    sv.annotate.label("old", example_ids[0], "neg", actor=Actor("v"), suggestion={"labels": ["pos"], "model": "v0001"})
    assert sv.annotate.acceptance("old") == [{"model": "v0001", "shown": 1, "accepted": 0, "changed": 1, "rate": 0.0}]
    assert db.integrity_check() == "ok"
    sv.close()


def test_0007_computes_the_overlap_key_of_every_existing_example(db_url):
    """A database at 0006 already holds example states: the upgrade fills in their overlap keys."""
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    then = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        ds_id = conn.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by, text_name, "
                                  "pair_name, labels_since_run) VALUES ('six', 'single_label', '', :t, 'u', '', '', 0) "
                                  "RETURNING id"), {"t": then}).scalar_one()
        conn.execute(text("INSERT INTO examples (dataset_id, text, content_hash, source, created_at, created_by) "
                          "VALUES (:d, :x, :h, '', :t, 'u')"),
                     [{"d": ds_id, "x": f"t{i}", "h": f"{i:064x}", "t": then} for i in range(7)])
        ids = conn.execute(text("SELECT id FROM examples ORDER BY id")).scalars().all()
        conn.execute(text("INSERT INTO example_states (example_id, dataset_id, live, labelled, annotators, agreement, "
                          "shuffle_key) VALUES (:e, :d, :l, :b, 0, 1.0, 0)"),
                     [{"e": e, "d": ds_id, "l": True, "b": False} for e in ids])
    upgrade(engine)
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT example_id, overlap_key FROM example_states")).all())
    engine.dispose()
    assert keys == {i: derived.overlap_key(i) for i in ids}


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


def test_runs_recorded_before_adaptation_existed_are_fine_tunes(db_url):
    """0010 adds training_runs.kind: every run recorded before it was a fine-tune, and says so after it."""
    old_engine = make_engine(db_url)
    upgrade(old_engine, "0006")
    then = dt.datetime(2026, 6, 1)
    with old_engine.begin() as conn:
        ds_id = conn.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by) "
                                  "VALUES ('old', 'single_label', '', :t, 'u') RETURNING id"), {"t": then}).scalar_one()
        conn.execute(text("INSERT INTO training_runs (dataset_id, status, config, snapshot_hash, snapshot, environment, "
                          "progress, metrics, timings, error, version, cancel_requested, created_by, created_at) VALUES "
                          "(:d, 'succeeded', '{}', 'h', '{\"items\": [], \"labels\": []}', '{}', '{}', '{}', '{}', '', "
                          "'v0001', :f, 'u', :t)"), {"d": ds_id, "t": then, "f": False})
    old_engine.dispose()
    db = Database(db_url)
    from ftdemo.store import runs as run_repo
    from ftdemo.store.schema import TrainingRun

    with db.read() as s:
        [run] = s.query(TrainingRun).all()
        assert run.kind == "finetune" and run_repo.run_dict(run)["kind"] == "finetune"
    db.dispose()


def test_audit_migration_keys_existing_examples_and_reserves_none(db_url):
    """0009: datasets made before it have no audit sample (share 0); examples already in example_states get their
    audit key, the same salted hash new examples get."""
    from ftdemo.store.derived import audit_key

    engine = make_engine(db_url)
    upgrade(engine, "0006")
    then = dt.datetime(2025, 1, 1)
    with engine.begin() as conn:
        ds_id = conn.execute(text("INSERT INTO datasets (name, task, description, created_at, created_by, "
                                  "labels_since_run) VALUES ('old', 'single_label', '', :t, 'u', 0) RETURNING id"),
                             {"t": then}).scalar_one()
        conn.execute(text("INSERT INTO examples (dataset_id, text, text_pair, content_hash, source, meta, created_at, "
                          "created_by) VALUES (:d, :x, NULL, :h, 'old', NULL, :t, 'u')"),
                     [{"d": ds_id, "x": f"text {i}", "h": f"{i:064x}", "t": then} for i in range(1, 31)])
        ids = conn.execute(text("SELECT id FROM examples ORDER BY id")).scalars().all()
        conn.execute(text("INSERT INTO example_states (example_id, dataset_id, live, labelled, annotators, agreement, "
                          "shuffle_key) VALUES (:e, :d, :l, :n, 0, 1.0, 0)"),
                     [{"e": e, "d": ds_id, "l": True, "n": False} for e in ids])
    engine.dispose()
    db = Database(db_url)
    try:
        with db.read() as s:
            assert s.execute(text("SELECT audit_share FROM datasets WHERE name = 'old'")).scalar() == 0
            keys = dict(s.execute(text("SELECT example_id, audit_key FROM example_states")).all())
        assert keys == {e: audit_key(e) for e in ids} and len(set(keys.values())) == len(ids)
    finally:
        db.dispose()

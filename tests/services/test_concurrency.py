"""8 threads × 250 label writes through the store: every write lands exactly once, no lock errors."""

import threading

from sqlalchemy import text
from threads import run_together

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor
from ftdemo.store import repo

THREADS, WRITES = 8, 250


def test_concurrent_label_writes_land_exactly_once(services, admin):
    services.datasets.create("c", "single_label", "a,b", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "c")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"t{i}") for i in range(THREADS * WRITES)], created_by="x")

    def worker(k: int) -> None:
        actor = Actor(f"w{k}", "annotator")
        for j in range(WRITES):
            services.annotate.label("c", ids[k * WRITES + j], "ab"[j % 2], actor=actor)

    errors = run_together(worker, [(k,) for k in range(THREADS)])
    assert errors == []
    with services.db.read() as s:
        rows = s.execute(text("SELECT example_id, annotator, count(*) FROM annotations GROUP BY 1, 2")).all()
    assert len(rows) == THREADS * WRITES
    assert all(n == 1 for _, _, n in rows)
    assert {(e, a) for e, a, _ in rows} == {(ids[k * WRITES + j], f"w{k}") for k in range(THREADS) for j in range(WRITES)}
    st = services.datasets.stats("c")
    assert st.labelled == THREADS * WRITES and st.label_counts == {"a": 1000, "b": 1000}
    assert services.db.integrity_check() == "ok"


def test_racing_writes_of_one_annotator_duplicate_nothing(services, admin):
    """The same annotator's label on the same example from 8 threads at once (two tabs, a retried request)
    is one row, and the same text added by 8 threads at once is one example: each write transaction reads
    what the one before it committed (SQLite: BEGIN IMMEDIATE; PostgreSQL: the advisory write lock)."""
    services.datasets.create("r", "single_label", "a,b", actor=admin)
    with services.db.write() as s:
        ids = repo.add_examples(s, repo.get_dataset(s, "r"), [repo.NewExample(f"t{i}") for i in range(40)],
                                created_by="x")
    barrier = threading.Barrier(THREADS)
    refused: list[str] = []

    def worker() -> None:
        actor = Actor("same", "annotator")
        barrier.wait(10)
        for example_id in ids:
            services.annotate.label("r", example_id, "a", actor=actor)
        for i in range(10):
            try:
                services.annotate.add("r", f"new {i}", actor=admin)
            except InvalidInputError as err:
                refused.append(str(err))

    errors = run_together(worker, [() for _ in range(THREADS)])
    assert errors == []
    with services.db.read() as s:
        per_example = s.execute(text("SELECT example_id, count(*) FROM annotations GROUP BY 1")).all()
        added = s.execute(text("SELECT text FROM examples WHERE text LIKE 'new %'")).scalars().all()
    assert sorted(per_example) == [(i, 1) for i in ids]
    assert sorted(added) == [f"new {i}" for i in range(10)]
    assert len(refused) == 10 * (THREADS - 1) and all("already in the dataset" in m for m in refused)

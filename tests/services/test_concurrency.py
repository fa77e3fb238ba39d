"""8 threads × 250 label writes through the store: every write lands exactly once, no lock errors."""

import threading

from sqlalchemy import text

from ftdemo.services import Actor
from ftdemo.store import repo

THREADS, WRITES = 8, 250


def test_concurrent_label_writes_land_exactly_once(services, admin):
    services.datasets.create("c", "single_label", "a,b", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "c")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"t{i}") for i in range(THREADS * WRITES)], created_by="x")
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        actor = Actor(f"w{k}", "annotator")
        try:
            for j in range(WRITES):
                services.annotate.label("c", ids[k * WRITES + j], "ab"[j % 2], actor=actor)
        except BaseException as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    with services.db.read() as s:
        rows = s.execute(text("SELECT example_id, annotator, count(*) FROM annotations GROUP BY 1, 2")).all()
    assert len(rows) == THREADS * WRITES
    assert all(n == 1 for _, _, n in rows)
    assert {(e, a) for e, a, _ in rows} == {(ids[k * WRITES + j], f"w{k}") for k in range(THREADS) for j in range(WRITES)}
    st = services.datasets.stats("c")
    assert st.labelled == THREADS * WRITES and st.label_counts == {"a": 1000, "b": 1000}
    assert services.db.integrity_check() == "ok"

"""Training workers, in this process, on SQLite and PostgreSQL: the app queues, a worker claims and trains,
two claimers never take one run, a silent worker's run is interrupted after the lease and a retry trains
it, a waiting run is cancelled at once. (tests/jobs/test_worker_processes.py runs real worker processes.)"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from polling import wait_for
from tiny import keyword_dataset

from ftdemo.errors import InvalidInputError, PermissionDeniedError
from ftdemo.jobs import liveness
from ftdemo.jobs.worker import Worker, WorkerQueue, claim
from ftdemo.services import Services
from ftdemo.services.training import where
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import utcnow

LEASE_S = 10.0
# nothing of a run may still write once the services are closed (on PostgreSQL the test's database is dropped then)
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def app_db_url(migrated_db_url: str) -> str:
    """These tests run on both backends (tests/conftest.py: `backend`)."""
    return migrated_db_url


@pytest.fixture
def app(settings) -> Iterator[Services]:
    """An app instance with FTDEMO_TRAINING=workers and a short lease."""
    sv = Services(settings.replace(training="workers", run_lease_s=LEASE_S))
    yield sv
    sv.close()


def _worker(sv: Services) -> Worker:
    return Worker(sv.db, sv.settings.models_dir, device="cpu", lease_s=LEASE_S, poll_s=0.1)


def test_the_app_only_queues_and_a_run_waits_for_a_worker(app, admin, fast_options) -> None:
    assert isinstance(app.training.runner, WorkerQueue)
    kw, other = keyword_dataset(app, "kw"), keyword_dataset(app, "other")
    run = app.training.start(kw, fast_options, actor=admin)
    assert run["status"] == "queued" and run["waiting_for_worker"] and run["worker"] is None
    assert where(run) == "waiting for a worker"
    with app.db.write() as s:  # long past the grace a local child has to start: a waiting run is not dead
        run_repo.get_run(s, run["id"]).created_at = utcnow() - dt.timedelta(seconds=liveness.START_GRACE_S * 10)
    assert app.training.live()[0]["id"] == run["id"]
    with pytest.raises(InvalidInputError, match="one run per dataset"):
        app.training.start(kw, fast_options, actor=admin)
    second = app.training.start(other, fast_options, actor=admin)  # another dataset: side by side on workers
    assert second["status"] == "queued"
    app.training.close()  # an app that stops leaves its queued runs to the workers
    assert {r["id"] for r in app.training.live()} == {run["id"], second["id"]}


def test_a_worker_trains_the_queued_run_and_the_app_serves_it(app, admin, fast_options) -> None:
    kw = keyword_dataset(app, "kw")
    worker = _worker(app)
    assert worker.serve(once=True) == []  # nothing queued: back at once
    run = app.training.start(kw, fast_options, actor=admin)
    [done] = worker.serve(once=True)
    assert done["id"] == run["id"] and done["status"] == "succeeded", done["error"]
    assert done["worker"] == worker.name and where(done) == worker.name and not done["waiting_for_worker"]
    assert app.predict.predict(kw, "kw 3 is good")["model_version"] == done["version"] == "v0001"


def test_two_claimers_never_take_the_same_run(app, admin) -> None:
    kw = keyword_dataset(app, "kw", n=4)
    with app.db.write() as s:
        ds = repo.get_dataset(s, kw)
        ids = {run_repo.create_run(s, ds, {}, {"items": [], "labels": []}, "h", created_by="t", for_workers=True).id
               for _ in range(12)}
        local = run_repo.create_run(s, ds, {}, {"items": [], "labels": []}, "h", created_by="t").id  # the app's own
    claimed: list[tuple[str, int]] = []
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        barrier.wait()
        while (run_id := claim(app.db, name)) is not None:
            claimed.append((name, run_id))

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(run_id for _, run_id in claimed) == sorted(ids)  # each exactly once; never the local one
    with app.db.read() as s:
        rows = {r.id: r for r in run_repo.live_runs(s)}
    assert all(rows[run_id].worker == name for name, run_id in claimed) and rows[local].worker is None


def test_a_silent_workers_run_is_interrupted_after_the_lease_and_a_retry_trains_it(app, admin, annotator,
                                                                                    fast_options) -> None:
    kw = keyword_dataset(app, "kw")
    run = app.training.start(kw, fast_options, actor=admin)
    assert claim(app.db, "gpu-box:4242") == run["id"]  # a worker took it …
    assert app.training.run(run["id"])["status"] == "queued"  # … and beats: alive within the lease
    with app.db.write() as s:  # … then went silent (kill -9, a lost machine)
        run_repo.get_run(s, run["id"]).heartbeat_at = utcnow() - dt.timedelta(seconds=LEASE_S + 1)
    dead = app.training.run(run["id"])
    assert dead["status"] == "interrupted" and "gpu-box:4242" in dead["error"]
    assert f"python -m ftdemo retry {run['id']}" in dead["error"]
    with pytest.raises(PermissionDeniedError):
        app.training.retry(run["id"], actor=annotator)
    again = app.training.retry(run["id"], actor=admin)
    assert again["id"] != run["id"] and again["waiting_for_worker"]
    assert (again["config"], again["snapshot_hash"], again["counts"]) == (run["config"], run["snapshot_hash"],
                                                                          run["counts"])
    with pytest.raises(InvalidInputError, match="still queued"):
        app.training.retry(again["id"], actor=admin)
    [done] = _worker(app).serve(once=True)
    assert done["id"] == again["id"] and done["status"] == "succeeded", done["error"]
    with pytest.raises(InvalidInputError, match="succeeded"):
        app.training.retry(done["id"], actor=admin)


def test_a_waiting_run_is_cancelled_at_once_and_never_claimed(app, admin, fast_options) -> None:
    kw = keyword_dataset(app, "kw")
    run = app.training.start(kw, fast_options, actor=admin)
    cancelled = app.training.cancel(run["id"], actor=admin)
    assert cancelled["status"] == "cancelled" and "before a worker took it" in cancelled["error"]
    assert claim(app.db, "w") is None
    assert app.training.retry(run["id"], actor=admin)["waiting_for_worker"]  # and it can be run again


def test_a_worker_whose_run_was_given_up_stops_without_saving(app, admin, fast_options) -> None:
    """Cut off from the database for longer than the lease, a worker's run is marked 'interrupted' (and may
    be retried elsewhere): when the worker reads that, it stops and saves nothing."""
    kw = keyword_dataset(app, "kw")
    run = app.training.start(kw, {**fast_options, "epochs": 100, "early_stopping_patience": 0}, actor=admin)
    worker = _worker(app)
    thread = threading.Thread(target=worker.serve, kwargs={"once": True}, daemon=True)
    thread.start()
    wait_for(lambda: any(kind == "epoch" for _, kind, _ in app.training.events(run["id"])), timeout=60)
    with app.db.write() as s:  # what the reaper does to a run whose heartbeat stopped
        row = run_repo.get_run(s, run["id"])
        row.status, row.error = "interrupted", "given up"
    thread.join(30)
    assert not thread.is_alive() and worker.stop.is_set()
    final = app.training.run(run["id"])
    assert (final["status"], final["error"], final["version"]) == ("interrupted", "given up", "")
    assert app.models.list(kw) == []

"""Real training workers (`python -m ftdemo worker` processes) and the app's services on one PostgreSQL
database and one models directory, as on several machines: two queued runs go to two workers, the app
serves what they train without a restart, `kill -9` of a worker ends its run as 'interrupted' within the
lease, a retry trains it on the other worker, and SIGTERM stops an idle worker cleanly."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_for
from tiny import keyword_dataset

from ftdemo.services import Services
from ftdemo.settings import Settings
from ftdemo.store import runs as run_repo

REPO = Path(__file__).resolve().parents[2]
LEASE_S = 10.0  # the shortest lease the settings accept: the kill below is noticed within it


@pytest.fixture
def app(pg_database, tmp_path: Path) -> Iterator[Services]:
    """The app's services with FTDEMO_TRAINING=workers on a fresh PostgreSQL database; models in a directory
    of their own, as a mount the workers share."""
    with pg_database() as url:
        sv = Services(Settings(data_dir=tmp_path / "app", db_url=url, seed_demo=False, training="workers",
                               run_lease_s=LEASE_S, models_root=tmp_path / "shared-models"))
        yield sv
        sv.close()


def _start_worker(settings: Settings, log: Path) -> subprocess.Popen:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FTDEMO_")}, "HF_HUB_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "FTDEMO_DB_URL": settings.db_url, "FTDEMO_MODELS_DIR": str(settings.models_dir),
           "FTDEMO_DATA_DIR": str(log.parent / "worker-data"), "FTDEMO_RUN_LEASE_S": str(LEASE_S),
           "FTDEMO_ACTIVATION_MARGIN": "1"}  # every version goes live: the test follows what is served
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "ftdemo", "worker", "--device", "cpu", "--poll-s", "0.5"],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def _final(sv: Services, run_id: int, timeout: float) -> dict:
    return wait_for(lambda: (r := sv.training.run(run_id))["status"] not in run_repo.LIVE and r, timeout=timeout)


@pytest.mark.slow
def test_two_workers_share_the_queue_survive_a_kill_and_the_app_serves_what_they_train(app, admin, fast_options,
                                                                                         tmp_path) -> None:
    alpha, beta = keyword_dataset(app, "alpha"), keyword_dataset(app, "beta")
    logs = [tmp_path / f"worker-{i}.log" for i in range(2)]
    procs = [_start_worker(app.settings, log) for log in logs]
    names = {f"{platform.node()}:{p.pid}": p for p in procs}
    logged = lambda: "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)  # noqa: E731
    try:
        wait_for(lambda: all("looking for queued training runs" in log.read_text() for log in logs), timeout=120)

        # two queued runs, two workers: the one that claims first is busy for seconds, the other takes the next
        steady = {**fast_options, "epochs": 8, "early_stopping_patience": 0}
        first = app.training.start(alpha, steady, actor=admin)
        second = app.training.start(beta, steady, actor=admin)
        done = [_final(app, run["id"], timeout=120) for run in (first, second)]
        assert [d["status"] for d in done] == ["succeeded", "succeeded"], logged()
        assert {d["worker"] for d in done} == set(names), logged()
        # the app serves what a worker trained and saved to the shared directory, without a restart
        assert app.predict.predict(alpha, "alpha 3 is good")["model_version"] == done[0]["version"] == "v0001"

        # kill -9 the worker training a run: the lease runs out, the run is 'interrupted', a retry trains it
        long = {**fast_options, "epochs": 100, "early_stopping_patience": 0}  # ~4 s: time to kill it mid-way
        run = app.training.start(alpha, long, actor=admin)
        training = wait_for(lambda: (r := app.training.run(run["id"]))["status"] == "running" and any(
            kind in ("step", "epoch") for _, kind, _ in app.training.events(run["id"])) and r, timeout=120)
        victim = names.pop(training["worker"])
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()
        dead = _final(app, run["id"], timeout=LEASE_S + 30)
        noticed = time.monotonic() - killed_at
        assert dead["status"] == "interrupted" and training["worker"] in dead["error"], logged()
        assert noticed < LEASE_S + 5, f"the kill was noticed after {noticed:.1f} s (lease {LEASE_S:.0f} s)"
        again = app.training.retry(run["id"], actor=admin)
        [survivor] = names
        retried = _final(app, again["id"], timeout=180)
        assert retried["status"] == "succeeded" and retried["worker"] == survivor, logged()
        assert app.predict.predict(alpha, "alpha 3 is good")["model_version"] == retried["version"] == "v0002"

        # SIGTERM: an idle worker stops at once, cleanly
        names[survivor].send_signal(signal.SIGTERM)
        assert names[survivor].wait(30) == 0, logged()
        assert "stopped; runs trained: " in logs[procs.index(names[survivor])].read_text()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

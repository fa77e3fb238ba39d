"""A run never stays 'running' for ever: heartbeats are read while the app runs, children die with their
parent, and every way of stopping a run (Ctrl-C or SIGTERM of the CLI or the app, kill -9 of the app)
ends it within seconds as 'interrupted', with no process left behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from polling import wait_for

from ftdemo.jobs import liveness
from ftdemo.processes import pid_alive
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.store import repo
from ftdemo.store import runs as run_repo
from ftdemo.store.schema import utcnow

REPO = Path(__file__).resolve().parents[2]
ADMIN = Actor("ada", "admin")


def _labelled(services: Services, name: str = "kw", n: int = 200) -> str:
    services.datasets.create(name, "single_label", ["pos", "neg"], actor=ADMIN)
    for i in range(n):
        services.annotate.add(name, f"item {i} is {'good' if i % 2 else 'bad'} and some more words",
                              labels=["pos" if i % 2 else "neg"], actor=ADMIN)
    return name


def _long(fast_options: dict) -> dict:
    """A run that would take minutes: many epochs, no early stop (it is always stopped by the test)."""
    return {**fast_options, "epochs": 150, "early_stopping_patience": 0, "log_every": 1}


def _stuck_run(services: Services, dataset: str, *, heartbeat_age_s: float | None, pid: int | None) -> int:
    with services.db.write() as s:
        run = run_repo.create_run(s, repo.get_dataset(s, dataset), {}, {"items": [], "labels": []}, "x",
                                  created_by="t")
        run.status, run.pid = "running", pid
        run.environment = {"host": "another-machine"} if pid is None else {}
        if heartbeat_age_s is not None:
            run.heartbeat_at = utcnow() - dt.timedelta(seconds=heartbeat_age_s)
        return run.id


def test_a_run_whose_process_went_silent_is_interrupted_while_the_app_runs(services, fast_options) -> None:
    dataset = _labelled(services, n=40)
    stale = _stuck_run(services, dataset, heartbeat_age_s=liveness.STALE_S + 5, pid=None)
    fresh = _stuck_run(services, dataset, heartbeat_age_s=1, pid=None)
    # no restart: looking at the runs (what the Train tab does every second) reaps the silent one
    live = {r["id"] for r in services.training.live()}
    assert stale not in live and fresh in live
    assert services.training.run(stale)["status"] == "interrupted"
    assert "heartbeat" in services.training.run(stale)["error"]
    with services.db.write() as s:  # the fresh one goes silent too
        run_repo.get_run(s, fresh).heartbeat_at = utcnow() - dt.timedelta(seconds=liveness.STALE_S + 1)
    run = services.training.train_sync(dataset, fast_options, actor=ADMIN)  # training is not blocked
    assert run["status"] == "succeeded", run["error"]
    assert services.training.run(fresh)["status"] == "interrupted"


def test_a_heartbeat_keeps_a_long_silent_step_alive(services) -> None:
    dataset = _labelled(services, n=4)
    run_id = _stuck_run(services, dataset, heartbeat_age_s=None, pid=None)
    with liveness.Heartbeat(services.db, run_id, interval_s=0.2):
        time.sleep(0.6)
        with services.db.read() as s:
            beat = run_repo.get_run(s, run_id).heartbeat_at
    assert beat is not None and (utcnow() - beat).total_seconds() < 1
    assert liveness.reap(services.db) == []


def test_an_orphaned_heartbeat_reports_the_parent_gone(services) -> None:
    dataset = _labelled(services, n=4)
    run_id = _stuck_run(services, dataset, heartbeat_age_s=None, pid=None)
    told = []
    with liveness.Heartbeat(services.db, run_id, interval_s=0.2, parent_pid=os.getppid() + 10**6,
                            on_orphaned=lambda: told.append(1)):
        wait_for(lambda: told, timeout=5)


# --- real processes -----------------------------------------------------------------------------------


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "FTDEMO_DATA_DIR": str(data_dir), "FTDEMO_SEED_DEMO": "0", "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1", **extra}


def _prepared(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    services = Services(Settings(data_dir=data_dir, seed_demo=False))
    _labelled(services)
    services.close()
    return data_dir


def _wait_training(services: Services, dataset: str = "kw") -> dict:
    """The live run, once it has written progress (the child imported torch and loaded the model)."""
    def started() -> dict | None:
        runs = services.training.runs(dataset)
        if runs and runs[0]["status"] == "running" and any(
                k in ("step", "epoch") for _, k, _ in services.training.events(runs[0]["id"])):
            return runs[0]
        return None

    return wait_for(started, timeout=180)


def _final(services: Services, run_id: int, timeout: float) -> dict:
    return wait_for(lambda: (r := services.training.run(run_id))["status"] not in run_repo.LIVE and r,
                    timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_the_cli_interrupts_its_run_within_seconds(tmp_path, fast_options, sig) -> None:
    data_dir = _prepared(tmp_path)
    options = _long(fast_options)
    cmd = [sys.executable, "-m", "ftdemo", "train", "kw", "--epochs", str(options["epochs"]),
           "--base-model", options["base_model"], "--max-length", "32", "--quiet"]
    # --epochs alone does not turn early stopping off; the data would stop it late anyway, and the test stops it
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    services = Services(Settings(data_dir=data_dir, seed_demo=False))
    try:
        run = _wait_training(services)
        proc.send_signal(sig)
        t0 = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
        done = services.training.run(run["id"])
        assert done["status"] == "interrupted", (done, err[-2000:])
        assert proc.returncode == 130 and "interrupted" in err
        assert took < 15, f"the CLI took {took:.1f} s to stop"
        assert services.models.list("kw") == []  # nothing saved after the stop
    finally:
        if proc.poll() is None:
            proc.kill()
        services.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(data_dir: Path, tmp_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "ftdemo", "serve", "--port", str(port)], cwd=REPO,
                            env=_env(data_dir), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return proc.poll() is not None  # died: the assertions below say why
    wait_for(up, timeout=120)
    assert proc.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
    return proc, url


def _train_through_api(url: str, options: dict) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False)
    return client.predict("kw", options, "ada", api_name="/train")


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "kill-9"])
def test_stopping_the_app_stops_its_training_child(tmp_path, fast_options, how) -> None:
    data_dir = _prepared(tmp_path)
    app, url = _serve(data_dir, tmp_path)
    services = Services(Settings(data_dir=data_dir, seed_demo=False))
    try:
        started = _train_through_api(url, _long(fast_options))
        run = _wait_training(services)
        assert run["id"] == started["id"]
        child = run["environment"]["pid"]
        t0 = time.monotonic()
        if how == "kill-9":
            app.kill()
            app.wait(10)
        else:
            app.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGTERM)
            try:
                app.wait(30)
            except subprocess.TimeoutExpired:
                log = (tmp_path / "app.log").read_text()
                pytest.fail(f"the app was still running 30 s after {how}; its log ends:\n{log[-3000:]}")
        app_gone = time.monotonic() - t0
        done = _final(services, run["id"], timeout=30)
        wait_for(lambda: not pid_alive(child), timeout=30)
        took = time.monotonic() - t0
        log = (tmp_path / "app.log").read_text()
        assert done["status"] == "interrupted", (done, log[-3000:])
        assert took < 20 and app_gone < 20, f"app gone after {app_gone:.1f} s, run final and child gone after {took:.1f} s"
        assert services.models.list("kw") == []
        assert services.training.live() == []
    finally:
        if app.poll() is None:
            app.kill()
        services.close()


def test_run_rows_say_where_and_how_long_ago_they_beat(services, fast_options) -> None:
    dataset = _labelled(services, n=40)
    run = services.training.train_sync(dataset, fast_options, actor=ADMIN)
    with services.db.read() as s:
        row = run_repo.get_run(s, run["id"])
        assert row.heartbeat_at is not None and row.heartbeat_at <= utcnow()
    assert json.dumps(run)  # the run dict stays JSON for the API

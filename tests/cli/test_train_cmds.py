"""`runs`, `retry` and `worker --once` as an operator runs them (in-process, on a fresh database): where each
run trained, a stopped run trained again, a worker that takes one queued run and exits."""

from __future__ import annotations

import json
import os
import platform

import pytest
from tiny import keyword_dataset

from ftdemo.jobs.runner import StopRequest

HERE = f"{platform.node()}:{os.getpid()}"  # in-process: the CLI's "process" is this one


@pytest.fixture
def interrupted(services, admin, fast_options) -> dict:
    """Dataset 'kw' and one run of it, stopped before its first batch."""
    keyword_dataset(services, "kw", n=40)
    stop = StopRequest()
    stop.request("the test stopped it")
    run = services.training.train_sync("kw", fast_options, actor=admin, stop=stop)
    assert run["status"] == "interrupted"
    return run


def test_retry_trains_a_stopped_run_again_here_and_runs_say_where(cli, interrupted) -> None:
    code, out, err = cli("retry", str(interrupted["id"]), "--quiet")
    assert code == 0, err
    assert f"a retry of run #{interrupted['id']}" in out and "v0001 is now active" in out
    code, out, _ = cli("runs", "kw")
    newest, oldest = out.strip().splitlines()
    assert newest.split()[:3] == [f"#{interrupted['id'] + 1}", "succeeded", "v0001"] and HERE in newest
    assert oldest.split()[:2] == [f"#{interrupted['id']}", "interrupted"]
    code, _, err = cli("retry", str(interrupted["id"] + 1))
    assert code == 2 and "succeeded (it trained v0001); start a new run" in err


def test_with_workers_retry_queues_and_worker_once_trains_it(cli, interrupted, monkeypatch) -> None:
    monkeypatch.setenv("FTDEMO_TRAINING", "workers")
    code, out, err = cli("retry", str(interrupted["id"]))
    assert code == 0 and out.strip().endswith("waiting for a worker"), err
    assert "waiting for a worker" in cli("runs", "kw")[1].splitlines()[0]
    code, out, err = cli("worker", "--once", "--device", "cpu", "--json")
    assert code == 0, err
    done = json.loads(out)
    assert (done["run_id"], done["status"], done["version"], done["worker"]) == (interrupted["id"] + 1, "succeeded",
                                                                                 "v0001", HERE)
    code, out, _ = cli("worker", "--once")
    assert (code, out.strip()) == (0, "no queued training runs")

"""Training on a ZeroGPU Space: the services pick the `spaces.GPU` path when the Space is on ZeroGPU, and a
run through it (the decorator in its no-op mode, as everywhere but on ZeroGPU) starts at once and keeps
every promise of a local run: progress rows, heartbeats, cancel, a registered version, shutdown."""

from __future__ import annotations

import os
import time

import pytest
from polling import wait_for
from test_liveness import ADMIN, _labelled, _long  # the same admin, dataset and endless run as there

from ftdemo.jobs import liveness
from ftdemo.jobs.supervisor import JobRunner
from ftdemo.jobs.zerogpu import UNKNOWN_LAYERS, ZeroGpuRunner, gpu_seconds, train_on_gpu
from ftdemo.services import Services
from ftdemo.store.schema import TrainingRun
from ftdemo.training.config import TrainConfig


@pytest.fixture
def zero_services(settings):
    """Real services over a fresh database, as on a Space whose hardware is ZeroGPU."""
    sv = Services(settings.replace(zero_gpu=True))
    yield sv
    sv.close()


def _finished(services: Services, run_id: int, timeout: float = 120) -> dict:
    return wait_for(lambda: (r := services.training.run(run_id))["status"] not in ("queued", "running") and r,
                    timeout=timeout)


def test_the_services_pick_the_gpu_call_on_zero_gpu_and_a_child_process_elsewhere(settings, zero_services):
    assert isinstance(zero_services.training._runner, ZeroGpuRunner)  # made at start-up, before the app launches
    assert zero_services.training.runner.max_seconds == settings.zerogpu_max_s
    local = Services(settings)
    try:
        assert isinstance(local.training.runner, JobRunner)
    finally:
        local.close()
    assert not hasattr(train_on_gpu, "zerogpu")  # off ZeroGPU spaces.GPU hands the function back as it is


def test_a_run_through_the_gpu_call_starts_at_once_and_registers_a_version(zero_services, fast_options):
    dataset = _labelled(zero_services)
    t0 = time.monotonic()
    run = zero_services.training.start(dataset, {**fast_options, "epochs": 3, "log_every": 1}, actor=ADMIN)
    assert time.monotonic() - t0 < 5 and run["status"] in ("queued", "running")  # the Train event returns at once
    done = _finished(zero_services, run["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["environment"]["pid"] == os.getpid()  # trained in the app's process (the no-op decorator)
    assert done["version"] == "v0001" and zero_services.models.active(dataset)["version"] == "v0001"
    kinds = [kind for _, kind, _ in zero_services.training.events(run["id"])]
    assert kinds[0] == "start" and kinds.count("epoch") == 3 and kinds[-1] == "end"
    assert zero_services.predict.predict(dataset, "it was good")["model_version"] == "v0001"
    assert zero_services.training.runner.alive() == []


def test_a_gpu_call_run_beats_while_it_trains_and_cancels_within_a_batch(zero_services, fast_options):
    dataset = _labelled(zero_services)
    run = zero_services.training.start(dataset, _long(fast_options), actor=ADMIN)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in zero_services.training.events(run["id"])))
    assert zero_services.training.runner.alive() == [run["id"]]
    assert liveness.reap(zero_services.db) == []  # any other process sees it alive: it beats
    with zero_services.db.read() as s:
        assert s.get(TrainingRun, run["id"]).heartbeat_at is not None
    zero_services.training.cancel(run["id"], actor=ADMIN)
    done = _finished(zero_services, run["id"], timeout=30)
    assert done["status"] == "cancelled" and done["version"] == ""
    assert zero_services.models.list(dataset) == []


def test_closing_the_app_interrupts_a_gpu_call_run_within_seconds(settings, fast_options):
    services = Services(settings.replace(zero_gpu=True))
    dataset = _labelled(services)
    run = services.training.start(dataset, _long(fast_options), actor=ADMIN)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in services.training.events(run["id"])))
    t0 = time.monotonic()
    services.close()
    assert time.monotonic() - t0 < 15
    again = Services(settings)
    try:
        done = again.training.run(run["id"])
        assert done["status"] == "interrupted" and done["version"] == ""
        assert done["error"].startswith("the app shut down; no model version was saved")  # stopped within a batch
    finally:
        again.close()


def test_the_duration_asked_for_follows_the_planned_steps_within_the_cap():
    cfg = TrainConfig()  # the defaults: batch 32, 10% validation, 10% test, automatic epochs
    minilm, bert_base = gpu_seconds(cfg, 5000, 6, cap=300), gpu_seconds(cfg, 5000, 12, cap=300)
    assert cfg.estimated_steps(5000) == 125 * 3  # 4,000 training rows in batches of 32, three epochs
    assert 30 < minilm < bert_base < 120  # start-up plus the steps with their margin: well inside one call
    assert gpu_seconds(cfg, 5000, None, cap=300) == gpu_seconds(cfg, 5000, UNKNOWN_LAYERS, cap=300)
    assert gpu_seconds(cfg, 50_000, 12, cap=10 ** 6) > gpu_seconds(cfg, 5000, 12, cap=10 ** 6)
    assert gpu_seconds(cfg, 500_000, 12, cap=300) == 300  # never more than ZeroGPU grants
    assert gpu_seconds(cfg.replace(epochs=20), 5000, 6, cap=10 ** 6) > minilm


def test_an_adaptation_run_goes_through_the_gpu_call_too(zero_services, tiny_encoder_dir):
    from ftdemo.jobs.zerogpu import adapt_gpu_seconds

    dataset = _labelled(zero_services)
    options = {"epochs": 1, "max_length": 32, "num_threads": 1, "base_model": str(tiny_encoder_dir)}
    assert adapt_gpu_seconds(options, 60_000, 6, cap=10 ** 9) > adapt_gpu_seconds(options, 600, 6, cap=10 ** 9)
    run = zero_services.training.adapt(dataset, options, actor=ADMIN)
    done = _finished(zero_services, run["id"])
    assert done["status"] == "succeeded" and done["kind"] == "adapt", done["error"]
    assert [a["name"] for a in zero_services.training.adapted(dataset)] == ["a0001"]

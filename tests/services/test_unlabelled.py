"""Learning from unlabelled texts through the store: adaptation runs (child process, cancel, kill -9, the
adapted checkpoint as a base), and self-training runs that never write a pseudo-label."""

import json
import os
import signal

import pytest
from polling import wait_for
from threads import ThreadRunner
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from ftdemo.models.adapted import AdaptedStore
from ftdemo.models.registry import Registry
from ftdemo.store import repo
from ftdemo.store.schema import Annotation

ADAPT = {"epochs": 1, "batch_size": 16, "max_length": 32, "num_threads": 1, "learning_rate": 3e-3,
         "heldout_fraction": 0.1, "log_every": 1}
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def half_labelled(services, admin):
    """A keyword dataset of 160 texts: 80 labelled, 80 nobody labelled yet."""
    services.datasets.create("kw", "single_label", "pos,neg", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "kw")
        items = [repo.NewExample(f"example {i} is {'good' if i % 2 else 'bad'} stuff") for i in range(160)]
        ids = repo.add_examples(s, ds, items, created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids[:80])],
                                   annotator="t")
    return "kw"


def finished(services, run_id, timeout=60):
    return wait_for(lambda: (r := services.training.run(run_id))["status"] not in ("queued", "running") and r,
                    timeout=timeout)


def test_adapt_saves_a_checkpoint_that_fine_tunes_of_the_dataset_start_from(services, admin, half_labelled,
                                                                           tiny_encoder_dir):
    run = services.training.adapt_sync(half_labelled, {**ADAPT, "base_model": str(tiny_encoder_dir)}, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    assert run["kind"] == "adapt" and run["version"] == "a0001" and run["counts"]["examples"] == 160  # every text
    assert run["metrics"]["after"]["loss"] < run["metrics"]["before"]["loss"]
    kinds = [k for _, k, _ in services.training.events(run["id"])]
    assert kinds[0] == "start" and "epoch" in kinds and kinds[-1] == "end"
    [item] = services.training.adapted(half_labelled)
    assert item["name"] == "a0001" and item["run_id"] == run["id"] and item["texts"] == 144
    assert services.models.list(half_labelled) == []  # an adapted checkpoint is no model version
    # a fine-tune names it as its base model
    fine = services.training.train_sync(half_labelled, {**FAST_TRAIN, "epochs": 2, "base_model": "a0001"}, actor=admin)
    assert fine["status"] == "succeeded", fine["error"]
    assert fine["config"]["base_model"] == item["path"] and fine["kind"] == "finetune"
    with pytest.raises(NotFoundError, match="a0001"):
        services.training.train_sync(half_labelled, {**FAST_TRAIN, "base_model": "a0007"}, actor=admin)


def test_only_admins_adapt_and_options_are_checked(services, admin, annotator, half_labelled):
    with pytest.raises(PermissionDeniedError):
        services.training.adapt(half_labelled, ADAPT, actor=annotator)
    with pytest.raises(InvalidInputError, match="mlm_probability"):
        services.training.adapt(half_labelled, {"mlm_probability": 2}, actor=admin)
    assert services.training.runs(half_labelled) == []


def test_cancel_during_adaptation_saves_nothing_and_retry_adapts_again(services, admin, half_labelled, tiny_encoder_dir):
    services.training._runner = ThreadRunner(services)
    run = services.training.adapt(half_labelled, {**ADAPT, "epochs": 15, "base_model": str(tiny_encoder_dir)},
                                  actor=admin)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in services.training.events(run["id"])))
    services.training.cancel(run["id"], actor=admin)
    done = finished(services, run["id"])
    assert done["status"] == "cancelled" and done["version"] == ""
    assert services.training.adapted(half_labelled) == []
    ds_dir = services.settings.models_dir / half_labelled
    assert not ds_dir.exists() or not [p for p in ds_dir.iterdir() if p.name.startswith(".tmp-")]
    # a retry adapts the same texts with the same settings, and saves this time
    again = services.training.retry_sync(run["id"], actor=admin)
    assert again["kind"] == "adapt" and again["status"] == "succeeded" and again["version"] == "a0001"


@pytest.mark.slow  # a spawned training process (torch + transformers imported in it): ~35 s on the busy 2 cores
def test_kill_9_during_adaptation_leaves_no_half_written_checkpoint(services, admin, half_labelled, tiny_encoder_dir):
    run = services.training.adapt(half_labelled, {**ADAPT, "epochs": 50, "base_model": str(tiny_encoder_dir)},
                                  actor=admin)
    wait_for(lambda: any(k in ("step", "epoch") for _, k, _ in services.training.events(run["id"])))
    pid = services.training.run(run["id"])["environment"]["pid"]
    os.kill(pid, signal.SIGKILL)
    done = finished(services, run["id"])
    assert done["status"] == "failed" and "SIGKILL" in done["error"]
    # what a kill in the middle of the save leaves: a temp folder of the dead process, half its files written
    ds_dir = services.settings.models_dir / half_labelled
    ds_dir.mkdir(parents=True, exist_ok=True)
    torn = ds_dir / f".tmp-{pid}-deadbeef-{os.uname().nodename}"
    torn.mkdir()
    (torn / "config.json").write_text("{")
    store = AdaptedStore(services.settings.models_dir)
    assert store.list(half_labelled) == [] and services.training.adapted(half_labelled) == []  # never listed
    Registry(services.settings.models_dir)  # the next start cleans what dead writers left
    assert not torn.exists()


def test_self_training_uses_the_unlabelled_pool_and_never_writes_a_pseudo_label(services, admin, half_labelled,
                                                                                 tiny_model_dir):
    def history():
        with services.db.read() as s:
            rows = s.query(Annotation).order_by(Annotation.id).all()
            return [(a.id, a.example_id, a.annotator, a.kind) for a in rows], services.datasets.stats(half_labelled)

    before, stats_before = history()
    options = {**FAST_TRAIN, "epochs": 8, "learning_rate": 3e-3, "warmup_ratio": 0.0, "early_stopping_patience": 0,
               "base_model": str(tiny_model_dir), "self_training_rounds": 1, "pseudo_label_threshold": 0.6}
    run = services.training.train_sync(half_labelled, options, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    assert run["counts"]["pool"] == 80  # the unlabelled texts, frozen with the run
    meta = Registry(services.settings.models_dir).list(half_labelled)[0].path / "metadata.json"
    info = json.loads(meta.read_text())["self_training"]
    assert info["pool"] == 80 and info["rounds"][0]["pseudo_labelled"] > 0
    assert "self-training on 80 unlabelled texts" in (meta.parent / "README.md").read_text()  # the model card
    after, stats_after = history()
    assert after == before  # not one annotation row more: pseudo-labels stay inside the run
    assert (stats_after.examples, stats_after.labelled) == (stats_before.examples, stats_before.labelled) == (160, 80)
    with services.db.read() as s:
        assert len(repo.live_texts(s, repo.get_dataset(s, half_labelled), labelled=False)) == 80

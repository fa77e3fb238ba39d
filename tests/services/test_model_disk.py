"""What model versions cost on disk: a retrain that would train what a version holds stores nothing and names
it; pruning keeps the active version, the previous one and the last k; disk use per dataset is listed."""

import datetime as dt

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import AlreadyTrainedError, InvalidInputError, PermissionDeniedError
from ftdemo.services import Actor
from ftdemo.store import repo
from ftdemo.store import runs as run_repo

BOB = Actor("bob", "annotator")


def _labelled(services, admin, name="same"):
    services.datasets.create(name, "single_label", ["pos", "neg"], actor=admin)
    return [services.annotate.add(name, f"item {i} is {'good' if i % 2 else 'bad'}",
                                  labels=["pos" if i % 2 else "neg"], actor=BOB).id for i in range(16)]


def test_an_identical_retrain_stores_nothing_and_names_the_version(services, admin, tiny_model_dir):
    ids = _labelled(services, admin)
    fast = {**FAST_TRAIN, "base_model": str(tiny_model_dir)}
    first = services.training.train_sync("same", fast, actor=admin)
    assert first["status"] == "succeeded", first["error"]
    with pytest.raises(AlreadyTrainedError, match=r"v0001 \(active\) already holds this model") as err:
        services.training.start("same", dict(fast), actor=admin)  # the app's path: refused before it is queued
    assert err.value.version == "v0001"
    with pytest.raises(AlreadyTrainedError):
        services.training.train_sync("same", fast, actor=admin)  # the CLI's path
    assert len(services.training.runs("same")) == 1 and [v["version"] for v in services.models.list("same")] == ["v0001"]

    other_seed = services.training.train_sync("same", {**fast, "seed": fast.get("seed", 0) + 1}, actor=admin)
    assert other_seed["status"] == "succeeded" and other_seed["version"] == "v0002"  # a setting changed
    services.annotate.label("same", ids[0], "pos", actor=BOB)  # a label changed
    relabelled = services.training.train_sync("same", fast, actor=admin)
    assert relabelled["status"] == "succeeded" and relabelled["version"] == "v0003"
    services.annotate.label("same", ids[0], "neg", actor=BOB)  # back to v0001's labels
    with pytest.raises(AlreadyTrainedError, match="v0001"):
        services.training.train_sync("same", fast, actor=admin)

    # pruned, the newest version's number is not given again (its row stays, marked deleted)
    services.models.activate("same", "v0002", actor=admin)
    services.models.activate("same", "v0001", actor=admin)
    assert services.models.prune("same", 0, actor=admin)["deleted"] == ["v0003"]
    services.annotate.label("same", ids[1], "neg", actor=BOB)  # new labels
    after = services.training.train_sync("same", fast, actor=admin)
    assert after["status"] == "succeeded" and after["version"] == "v0004", after["error"]


def test_the_automatic_retrain_does_not_ask_again_for_a_model_that_exists(services, admin, tiny_model_dir):
    ids = _labelled(services, admin, "auto")
    run = services.training.train_sync("auto", {**FAST_TRAIN, "base_model": str(tiny_model_dir)}, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    services.retrain.set_every("auto", 2, actor=admin)
    services.annotate.label("auto", ids[0], "pos", actor=BOB)
    services.annotate.label("auto", ids[0], "neg", actor=BOB)  # two new labels, and the labels v0001 holds
    status = services.retrain.status("auto")
    assert len(services.training.runs("auto")) == 1  # nothing started
    assert (status.new_labels, status.waiting) == (0, "")  # the count starts again; nothing waits


def _versions(services, name, n):
    """`n` versions on disk and in the store (v0001 … ), 1 MB each; none active."""
    services.datasets.create(name, "single_label", ["pos", "neg"], actor=Actor("ada"))
    root = services.models.registry.root / name
    for i in range(1, n + 1):
        folder = root / f"v{i:04d}"
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"\0" * 2**20)
    with services.db.write() as s:
        ds = repo.get_dataset(s, name)
        for i in range(1, n + 1):
            run_repo.add_version(s, ds, f"v{i:04d}", "m", {})
    return root


def _activate(services, name, version, minute):
    with services.db.write() as s:
        ds = repo.get_dataset(s, name)
        run_repo.activate(s, ds, run_repo.get_version(s, ds, version), "t")
        run_repo.get_version(s, ds, version).activated_at = dt.datetime(2026, 1, 1, 0, minute)


def test_prune_keeps_active_previous_and_the_last_k(services, admin):
    root = _versions(services, "many", 7)
    for minute, version in enumerate(("v0001", "v0003", "v0005")):
        _activate(services, "many", version, minute)  # v0005 active, v0003 the one before it
    listed = services.models.list("many")
    assert {v["dataset_disk_mb"] for v in listed} == {7.0}
    with pytest.raises(PermissionDeniedError):
        services.models.prune("many", 2, actor=BOB)
    with pytest.raises(InvalidInputError):
        services.models.prune("many", -1, actor=admin)

    out = services.models.prune("many", 2, actor=admin)
    assert (sorted(out["kept"]), sorted(out["deleted"])) == (["v0003", "v0005", "v0006", "v0007"],
                                                             ["v0001", "v0002", "v0004"])
    assert out["freed_mb"] == 3.0 and out["disk_mb"] == 4.0
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["v0003", "v0005", "v0006", "v0007"]
    assert [v["version"] for v in services.models.list("many")] == ["v0007", "v0006", "v0005", "v0003"]
    assert services.models.active("many")["version"] == "v0005"
    services.models.rollback("many", actor=admin)  # what rollback needs is still there
    assert services.models.active("many")["version"] == "v0003"

    again = services.models.prune("many", 0, actor=admin)  # active v0003, previous v0005
    assert sorted(again["kept"]) == ["v0003", "v0005"] and sorted(again["deleted"]) == ["v0006", "v0007"]
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["v0003", "v0005"]
    # the newest numbers are gone from disk but their rows stay (deleted): the next version is not v0006 again
    assert services.models.registry._next_version(root) == 8

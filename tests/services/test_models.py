"""Model versions as the services see them: listing, and versions on disk that have no record."""

from __future__ import annotations

import json
import shutil

from tiny import FAST_TRAIN


def _trained(services, admin, tiny_model_dir) -> str:
    services.datasets.create("kw", "single_label", ["pos", "neg"], actor=admin)
    for i in range(20):
        services.annotate.add("kw", f"item {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                              actor=admin)
    run = services.training.train_sync("kw", {**FAST_TRAIN, "base_model": str(tiny_model_dir)}, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    return "kw"


def test_a_version_saved_without_its_record_is_registered_at_start(services, admin, tiny_model_dir, caplog) -> None:
    dataset = _trained(services, admin, tiny_model_dir)
    # a crash between the version's rename into place and its row: the folder is complete, nobody lists it
    first = services.models.registry.path(dataset, "v0001")
    orphan = first.parent / "v0002"
    shutil.copytree(first, orphan)
    meta = json.loads((orphan / "metadata.json").read_text())
    (orphan / "metadata.json").write_text(json.dumps({**meta, "version": "v0002"}))
    assert [v["version"] for v in services.models.list(dataset)] == ["v0001"]

    with caplog.at_level("WARNING", logger="ftdemo"):
        assert services.registry_cleanup() == [f"{dataset}/v0002"]
    listed = {v["version"]: v for v in services.models.list(dataset)}
    assert listed["v0002"]["status"] == "candidate" and "found on disk" in listed["v0002"]["reason"]
    assert listed["v0002"]["metrics"] == meta["metrics"] and listed["v0001"]["active"]
    assert "v0002" in caplog.text
    assert services.registry_cleanup() == []  # once only
    services.models.delete(dataset, "v0002", actor=admin)  # and it can be deleted like any version
    assert not orphan.exists()

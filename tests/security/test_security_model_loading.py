"""Model weights load from safetensors only, and no code shipped with a model ever runs.

A planted pytorch_model.bin is a real torch checkpoint whose unpickling creates a marker file (the
control test proves it does when loaded unsafely). It is put in a saved model version and in a base
model folder, which are then loaded through every path the app has: the registry, the predictor,
the predict service, evaluation and training. The marker must never appear; with safetensors next to
the pickle the model loads from them, without them loading fails with a message naming safetensors.
A config.json whose auto_map points at a Python file gets the same treatment (no remote code).
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from secapp import make_settings
from tiny import FAST_TRAIN

from ftdemo.errors import FtdemoError, InvalidInputError, UnsafeModelError
from ftdemo.models.inference import load_model_dir
from ftdemo.services import Actor, Services
from ftdemo.serving import Predictor
from ftdemo.tasks import TaskType
from ftdemo.training.setup import load_classifier

KW = "kw"
ADMIN = Actor.local("admin")
FAST = FAST_TRAIN


class Payload:
    """Unpickling this opens `marker` for writing (creating it): what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return builtins.open, (str(self.marker), "w")


def plant_pickle(folder: Path, marker: Path, *, keep_safetensors: bool) -> Path:
    if not keep_safetensors:
        for f in folder.glob("*.safetensors"):
            f.unlink()
    path = folder / "pytorch_model.bin"
    torch.save({"bert.embeddings.word_embeddings.weight": Payload(marker)}, path)
    return path


def plant_remote_code(folder: Path, marker: Path) -> None:
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                    "from transformers import BertConfig, BertForSequenceClassification\n"
                                    "class EvilConfig(BertConfig): pass\n"
                                    "class EvilModel(BertForSequenceClassification): pass\n")
    for name in ("config.json", "tokenizer_config.json"):
        config = json.loads((folder / name).read_text())
        config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel",
                              "AutoTokenizer": ["evil.EvilTokenizer", "evil.EvilTokenizer"]}
        (folder / name).write_text(json.dumps(config))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A data folder holding dataset 'kw' with one trained (active) version; tests work on copies."""
    folder = tmp_path_factory.mktemp("weights") / "data"
    services = Services(make_settings(folder))
    try:
        services.datasets.create(KW, "single_label", ["pos", "neg"], actor=ADMIN)
        for i in range(24):
            services.annotate.add(KW, f"item {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                                  actor=ADMIN)
        run = services.training.train_sync(KW, {**FAST, "base_model": str(tiny_model_dir)}, actor=ADMIN)
        assert run["status"] == "succeeded", run["error"]
    finally:
        services.close()
    return folder


@pytest.fixture
def world(trained: Path, tmp_path: Path) -> Iterator[Services]:
    """Services over a private copy of the trained data folder (free to tamper with)."""
    folder = tmp_path / "data"
    shutil.copytree(trained, folder)
    services = Services(make_settings(folder))
    yield services
    services.close()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def version_dir(services: Services) -> Path:
    return services.models.path(KW)[1]


def test_control_the_planted_checkpoint_runs_code_when_unpickled(tmp_path, marker) -> None:
    path = plant_pickle(tmp_path, marker, keep_safetensors=True)
    with pytest.raises(Exception):  # noqa: B017 - torch's safe default refuses it (weights_only=True)
        torch.load(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # what a careless loader does
    assert marker.exists()


def test_a_version_with_only_pickle_weights_is_refused_everywhere(world, marker, tmp_path) -> None:
    folder = version_dir(world)
    plant_pickle(folder, marker, keep_safetensors=False)
    with pytest.raises(UnsafeModelError, match="safetensors"):
        load_model_dir(folder)
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model_dir(world.models.registry.path(KW, folder.name))
    with pytest.raises(InvalidInputError, match="safetensors"):
        Predictor(folder, device="cpu")
    with pytest.raises(InvalidInputError, match="safetensors"):
        world.predict.predict(KW, "item 3 is good")
    csv = tmp_path / "eval.csv"
    csv.write_text("text,label\nitem 1 is good,pos\nitem 2 is bad,neg\n")
    with pytest.raises(InvalidInputError, match="safetensors"):
        world.models.evaluate(KW, csv)
    assert not marker.exists()


def test_safetensors_win_over_a_pickle_next_to_them(world, marker) -> None:
    folder = version_dir(world)
    plant_pickle(folder, marker, keep_safetensors=True)
    assert load_model_dir(folder, device="cpu").labels == ("pos", "neg")
    assert world.predict.predict(KW, "item 3 is good")["label"] in ("pos", "neg")
    assert not marker.exists()


def test_a_base_model_with_only_pickle_weights_cannot_be_trained_from(world, marker, tmp_path, tiny_model_dir) -> None:
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    plant_pickle(base, marker, keep_safetensors=False)
    with pytest.raises(InvalidInputError, match="safetensors"):
        load_classifier(str(base), ["pos", "neg"], TaskType.SINGLE_LABEL)
    run = world.training.train_sync(KW, {**FAST, "base_model": str(base)}, actor=ADMIN)
    assert run["status"] == "failed" and "safetensors" in run["error"]
    assert not marker.exists()


def test_a_base_model_with_both_trains_from_safetensors(world, marker, tmp_path, tiny_model_dir) -> None:
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    plant_pickle(base, marker, keep_safetensors=True)
    run = world.training.train_sync(KW, {**FAST, "base_model": str(base)}, actor=ADMIN)
    assert run["status"] == "succeeded", run["error"]
    assert not marker.exists()


def test_control_the_planted_code_runs_when_trusted(tmp_path, marker, tiny_model_dir) -> None:
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    plant_remote_code(base, marker)
    trusting = f"from transformers import AutoConfig; AutoConfig.from_pretrained({str(base)!r}, trust_remote_code=True)"
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", trusting], env=env, check=True, capture_output=True, timeout=300)
    assert marker.exists()


def test_code_shipped_with_a_model_never_runs(world, marker, tmp_path, tiny_model_dir) -> None:
    folder = version_dir(world)
    plant_remote_code(folder, marker)
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    plant_remote_code(base, marker)
    attempts = [lambda: load_model_dir(folder, device="cpu"),
                lambda: world.predict.predict(KW, "item 3 is good"),
                lambda: load_classifier(str(base), ["pos", "neg"], TaskType.SINGLE_LABEL)]
    for attempt in attempts:
        try:
            attempt()
        except FtdemoError:
            pass  # refusing is fine; running the file is not
    run = world.training.train_sync(KW, {**FAST, "base_model": str(base)}, actor=ADMIN)
    assert run["status"] in ("succeeded", "failed")
    assert not marker.exists(), "a model's Python file was imported"

"""Model registry: atomic versions, safe loading, metadata round trip, the activation rule."""

from __future__ import annotations

import json
import os
import pickle
import platform
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from ftdemo.errors import InvalidInputError, NotFoundError, UnsafeModelError
from ftdemo.models import registry
from ftdemo.models.card import md
from ftdemo.models.guard import activation_decision
from ftdemo.models.inference import load_model_dir
from ftdemo.models.registry import Registry, parse_version, read_metadata
from ftdemo.tasks import LabelledText

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def result(tiny_model_dir):
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import train

    labels = ["neg", "pos <b>|x"]  # user text that must not break the model card
    data = [LabelledText(i, f"text number {i}", None, (labels[i % 2],)) for i in range(40)]
    cfg = TrainConfig(base_model=str(tiny_model_dir), epochs=1, num_threads=1, max_length=16)
    return train(data, labels, "single_label", cfg)


def test_save_list_and_metadata_round_trip(tmp_path, result):
    reg = Registry(tmp_path)
    first = reg.save("reviews", result, {"run_id": 7, "version": "hijack"})
    second = reg.save("reviews", result)
    assert (first.version, second.version) == (1, 2) and first.path.name == "v0001"
    assert [v.version for v in reg.list("reviews")] == [1, 2]
    meta = read_metadata(reg.path("reviews", "v0001"))
    assert meta["run_id"] == 7 and meta["version"] == "v0001" and meta["dataset"] == "reviews"
    assert meta["labels"] == result.labels and meta["task"] == "single_label"
    assert meta["metrics"] == json.loads(json.dumps(result.metrics))
    assert meta["config"] == result.config.to_dict() and meta["snapshot"]["hash"] == result.snapshot_hash
    assert meta["snapshot"]["counts"]["train"]["total"] > 0
    assert {"torch", "transformers", "python"} <= set(meta["library_versions"])
    files = {p.name for p in first.path.iterdir()}
    assert {"model.safetensors", "config.json", "metadata.json", "README.md", "tokenizer.json"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl"))]
    assert reg.disk_usage("reviews") > 0 and reg.list("other") == []


def test_saved_version_loads_and_describes_itself(tmp_path, result):
    reg = Registry(tmp_path)
    info = reg.save("reviews", result)
    loaded = load_model_dir(reg.path("reviews", info.version), device="cpu")
    model, tokenizer, meta = loaded.model, loaded.tokenizer, loaded.metadata
    assert model.config.id2label == {0: "neg", 1: "pos <b>|x"}
    assert model.config.problem_type == "single_label_classification"
    assert tokenizer("hello")["input_ids"][0] == tokenizer.cls_token_id
    assert meta["version"] == "v0001"


def test_model_card_neutralises_user_text(tmp_path, result):
    info = Registry(tmp_path).save("my <img src=x onerror=alert(1)> set", result)
    card = (info.path / "README.md").read_text()
    assert "<img" not in card and "<b>" not in card and "&lt;b&gt;" in card
    assert md("a|b\n# h [x](y) *z*") == "a\\|b \\# h \\[x\\](y) \\*z\\*"
    assert card.startswith("---\nlibrary_name: transformers")


def test_crash_mid_save_leaves_nothing_listed_and_clean_temp_removes_it(tmp_path):
    """A child process dies (os._exit) after writing the weights but before the rename."""
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from types import SimpleNamespace
        import ftdemo.models.registry as registry
        writer = SimpleNamespace(save_pretrained=lambda d: (Path(d) / "model.safetensors").write_bytes(b"w" * 1000))
        fake = SimpleNamespace(model=writer, tokenizer=SimpleNamespace(save_pretrained=lambda d: None))
        registry.build_metadata = lambda result, extra: {{"labels": ["a", "b"]}}
        registry._fsync_tree = lambda path: os._exit(3)  # power cut between writing and renaming
        registry.Registry({str(tmp_path)!r}).save("reviews", fake)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    leftovers = [p for p in (tmp_path / "reviews").iterdir()]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-")
    assert (leftovers[0] / "model.safetensors").exists()  # it really was half-written
    reg = Registry(tmp_path, clean=False)
    assert reg.list("reviews") == []
    with pytest.raises(NotFoundError):
        reg.path("reviews", 1)
    assert reg.clean_temp() == leftovers
    assert list((tmp_path / "reviews").iterdir()) == []


def test_temp_dir_of_a_live_writer_is_left_alone(tmp_path):
    live = tmp_path / "reviews" / f".tmp-{os.getppid()}-abcd1234"
    live.mkdir(parents=True)
    assert Registry(tmp_path).clean_temp() == [] and live.exists()


def test_temp_dir_of_a_writer_on_another_host_is_left_alone_until_stale(tmp_path):
    """A shared models directory (FTDEMO_MODELS_DIR): a worker elsewhere saves a version while an app here
    starts and cleans up. Its pid means nothing on this host; only the age says it was abandoned."""
    elsewhere = tmp_path / "reviews" / ".tmp-999999-abcd1234-gpu-box-2"  # no such pid here: dead if local
    here_dead = tmp_path / "reviews" / f".tmp-999999-abcd1234-{registry._slug(platform.node())}"
    elsewhere.mkdir(parents=True)
    here_dead.mkdir()
    assert Registry(tmp_path, clean=False).clean_temp() == [here_dead] and elsewhere.exists()
    old = time.time() - registry.STALE_TEMP_S - 60
    os.utime(elsewhere, (old, old))
    assert Registry(tmp_path, clean=False).clean_temp() == [elsewhere]


def test_incomplete_version_dir_is_not_listed(tmp_path, result):
    reg = Registry(tmp_path)
    reg.save("reviews", result)
    (tmp_path / "reviews" / "v0002").mkdir()  # no metadata.json: not a version
    assert [v.version for v in reg.list("reviews")] == [1]
    assert reg.save("reviews", result).version == 3  # the number is still taken


def _evil_pickle(path: Path, marker: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    path.write_bytes(pickle.dumps(Evil()))


def test_planted_pickle_is_never_loaded(tmp_path, result):
    reg = Registry(tmp_path)
    info = reg.save("reviews", result)
    marker = tmp_path / "pwned"
    _evil_pickle(info.path / "pytorch_model.bin", marker)
    _evil_pickle(info.path / "training_args.bin", marker)
    load_model_dir(reg.path("reviews", 1), device="cpu")  # safetensors present: the pickles are ignored
    assert not marker.exists()
    (info.path / "model.safetensors").unlink()
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model_dir(info.path)
    assert not marker.exists()


def test_delete_zip_and_version_names(tmp_path, result):
    reg = Registry(tmp_path)
    reg.save("reviews", result)
    reg.save("reviews", result)
    archive = reg.zip("reviews", "v2", tmp_path)
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "v0002/metadata.json" in names and "v0002/model.safetensors" in names
    reg.delete("reviews", 1)
    assert [v.version for v in reg.list("reviews")] == [2]
    assert not [p for p in (tmp_path / "reviews").iterdir() if p.name.startswith(".")]
    with pytest.raises(NotFoundError):
        reg.path("reviews", 1)
    assert parse_version("v0003") == parse_version(3) == parse_version("3") == 3
    with pytest.raises(InvalidInputError):
        parse_version("latest")


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", " padded "])
def test_dataset_names_cannot_escape_the_root(tmp_path, name):
    with pytest.raises(InvalidInputError, match="folder name"):
        Registry(tmp_path).list(name)


def test_activation_decision():
    ok, reason = activation_decision({"validation": {"macro_f1": 0.80}}, None)
    assert ok and "no active model" in reason
    assert activation_decision({"validation": {"macro_f1": 0.80}}, {"validation": {"macro_f1": 0.79}})[0]
    assert activation_decision({"macro_f1": 0.78}, {"macro_f1": 0.80}, margin=0.02)[0]
    ok, reason = activation_decision({"validation": {"macro_f1": 0.70}}, {"validation": {"macro_f1": 0.80}}, 0.05)
    assert not ok and "below" in reason
    assert not activation_decision({"validation": {"n": 0}}, {"validation": {"macro_f1": 0.8}})[0]

"""The GPU check runs where only torch, transformers, numpy and scikit-learn are installed: here its CPU mode
runs end to end, through bench/gpu_check.sh, with gradio, SQLAlchemy and datasets hidden as if absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HIDDEN = ("gradio", "sqlalchemy", "datasets")

# Loaded at interpreter start (sitecustomize on PYTHONPATH): the hidden packages look uninstalled
# (find_spec answers None, as for a missing package), and an import of one from our code is reported
# (transformers probing whether `datasets` is installed is not one).
SITECUSTOMIZE = f"""
import atexit, sys
HIDDEN, ours = {HIDDEN!r}, set()

class Hide:
    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename.startswith("<frozen"):
                frame = frame.f_back  # the import machinery: the importer is the first frame outside it
            if frame is not None and {str(REPO / "ftdemo")!r} in frame.f_code.co_filename:
                ours.add(name)
            return None
        return self.inner.find_spec(name, path, target)

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
atexit.register(lambda: print("hidden packages our code asked for:", sorted(ours)))
"""


def test_the_gpu_check_runs_without_gradio_sqlalchemy_or_datasets(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(tmp_path / "site")}
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([str(REPO / "bench" / "gpu_check.sh"), str(out), "--device", "cpu", "--tiny",
                           "--data", "synthetic", "--n-train", "120", "--n-eval", "40", "--epochs", "1",
                           "--n-version", "80"], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "hidden packages our code asked for: []" in done.stdout
    report = json.loads(out.read_text())
    assert report["precision"] == "bf16" and report["device"].startswith("cpu")
    assert report["bf16_matmul_peak_tflops"] > 0
    row = report["models"]["tiny-bert"]
    for key in ("engine_examples_per_s", "reference_examples_per_s", "engine_tokens_per_s", "engine_useful_mfu",
                "reference_useful_mfu", "speed_ratio", "engine_s_per_step", "engine_accuracy", "reference_accuracy"):
        assert row[key] > 0 or key.endswith("accuracy"), key
    assert row["reference_steps"] > 0 and row["engine_epochs_run"] == row["reference_epochs"] == 1
    # the Trainer as TrainingArguments has it (batch 8, its learning rate, random batches), as well
    assert row["defaults_batch_size"] == 8 and row["defaults_learning_rate"] == 5e-5
    assert row["defaults_steps"] == -(-row["n_train_rows"] // 8) and row["speed_ratio_vs_defaults"] > 0
    assert "group_by_length" in row["reference"] and "group_by_length" not in row["defaults"]
    assert not {"defaults_reference", "reference_reference"} & set(row)
    # the large-batch sweep: unpadded texts of exactly `length` tokens, steady-state MFU
    (sweep,) = row["large_batch"]
    assert (sweep["batch"], sweep["length"]) == (8, 16) and sweep["steps"] >= 6 and sweep["useful_mfu"] > 0
    version = row["version"]
    assert version["labels"] == 80 and version["saved"] == "v0001" and version["seconds"] >= version["train_s"] > 0
    assert "engine/Trainer" in done.stdout and f"wrote {out}" in done.stdout


def test_prepare_writes_a_minilm_the_engine_loads_as_fp32(tmp_path):
    import torch

    from ftdemo.benchmarks.gpu_check import prepare
    from ftdemo.tasks import TaskType
    from ftdemo.training.setup import load_classifier

    lines: list[str] = []
    prepare(tmp_path, print_fn=lines.append)
    weights = tmp_path / "minilm" / "model.safetensors"
    assert weights.stat().st_size < 50 * 2 ** 20  # fp16: half the bundled file, so it travels
    model = load_classifier(str(tmp_path / "minilm"), ["a", "b"], TaskType.SINGLE_LABEL)
    assert {p.dtype for p in model.parameters()} == {torch.float32} and model.config.num_hidden_layers == 6
    assert (tmp_path / "minilm" / "tokenizer.json").is_file() and "carry it" in lines[-1]

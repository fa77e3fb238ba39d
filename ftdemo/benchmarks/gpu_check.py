"""The GPU path, measured: the engine against the Hugging Face `Trainer` on one card, in bf16.

It runs where only torch, transformers, numpy and scikit-learn are installed (plus accelerate, which
the Trainer needs and GPU images ship): it imports no gradio, SQLAlchemy or datasets
(tests/benchmarks/test_gpu_check.py runs it with those hidden).

    bench/gpu_check.sh prepare                        # here: .gpucheck/ to carry (MiniLM in fp16, SST-2)
    bench/gpu_check.sh OUT.json                       # on the GPU machine, from the repository root
    bench/gpu_check.sh OUT.json --device cpu --tiny   # every step on tiny sizes, on a CPU (seconds)

What it measures (written to OUT.json, summed up on stdout):
- the card: its bf16 matmul peak (8192^3, best of 8 timings of 3 products) and how long CUDA takes
  to start;
- for the bundled MiniLM and a BERT-base-sized model (bert-base-uncased's config, random weights: the
  same FLOPs), the engine and the Trainer on the same rows, the same epochs, the same batch size and
  learning rate, both in bf16 autocast: examples/s and real tokens/s while training, useful MFU (6 x
  non-embedding parameters x real tokens/s over the measured peak), the engine/Trainer speed ratio,
  seconds per optimizer step, peak memory, held-out accuracy;
- for each, the time from start to a saved version for 5,000 labels with the engine's defaults:
  `train()` and `Registry.save`, what a run of the app does (the database aside).

Data: `--data` (a TSV/CSV with sentence/text and label), else .gpucheck/sst2_train.tsv, else the
synthetic sentiment rows (fine for timing; their accuracies mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ftdemo.benchmarks.train import load_rows, measured_matmul_flops, run_engine, run_reference
from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.settings import REPO_ROOT
from ftdemo.tasks import LabelledText

CARRY_DIR = REPO_ROOT / ".gpucheck"  # what `prepare` writes and the GPU machine reads (git-ignored)
SHARED_SST2 = REPO_ROOT.parent / "shared" / "data" / "sst2_train.tsv"
BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def prepare(out_dir: Path = CARRY_DIR, print_fn: Callable[[str], None] = print) -> Path:
    """Write what the GPU machine lacks: the bundled MiniLM (weights in fp16, ~45 MB; the engine loads
    them as fp32) with its tokenizer, and the SST-2 sample when ../shared/data has it."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from ftdemo.settings import bundled_model_path

    out_dir = Path(out_dir)
    minilm = out_dir / "minilm"
    model = AutoModel.from_pretrained(bundled_model_path(), dtype=torch.float32, use_safetensors=True)
    model.to(torch.float16).save_pretrained(minilm)
    AutoTokenizer.from_pretrained(bundled_model_path()).save_pretrained(minilm)
    if SHARED_SST2.is_file():
        shutil.copyfile(SHARED_SST2, out_dir / SHARED_SST2.name)
    size = sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())
    print_fn(f"wrote {out_dir} ({size / 2 ** 20:.0f} MiB): carry it to the GPU machine")
    return out_dir


def minilm_path(given: str | None) -> Path:
    """The MiniLM checkpoint: --minilm, else what `prepare` wrote, else the installed bundled one."""
    if given:
        return Path(given)
    if (CARRY_DIR / "minilm" / "config.json").is_file():
        return CARRY_DIR / "minilm"
    try:
        from ftdemo.settings import bundled_model_path

        return Path(bundled_model_path())
    except ImportError:
        raise InvalidInputError("no MiniLM here: run `bench/gpu_check.sh prepare` where the bundled model is "
                                "installed and carry .gpucheck/, or pass --minilm DIR") from None


def random_bert(out_dir: Path, tokenizer_dir: Path, sizes: dict[str, int]) -> Path:
    """A BERT of `sizes` with random weights and the MiniLM tokenizer (bert-base-uncased's vocabulary)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size, **sizes)).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def run_check(out_path: str | Path, *, device: str = "cuda", tiny: bool = False, data: str | None = None,
              minilm: str | None = None, n_train: int = 8000, n_eval: int = 1000, epochs: int = 2,
              n_version: int = 5000, print_fn: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything the module docstring lists, write it to `out_path` as JSON and return it."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    import transformers

    from ftdemo.devices import describe_device, resolve_device
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.splits import make_splits

    transformers.utils.logging.disable_progress_bar()
    dev = resolve_device(device)
    if data is None and (CARRY_DIR / SHARED_SST2.name).is_file():
        data = str(CARRY_DIR / SHARED_SST2.name)
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "cuda": torch.version.cuda, "precision": "bf16", "tiny": tiny, "epochs": epochs, "models": {}}
    t0 = time.perf_counter()
    torch.ones(1, device=dev).add_(1).cpu()  # the first CUDA call starts the context (a training child pays it too)
    report["device_start_s"] = time.perf_counter() - t0
    report["device"] = describe_device(dev)
    peak = measured_matmul_flops(dev, torch.bfloat16, 8192 if dev.type == "cuda" else 512)
    report["bf16_matmul_peak_tflops"] = peak / 1e12
    print_fn(f"{report['device']}: bf16 matmul peak {peak / 1e12:,.1f} TFLOP/s (measured), "
             f"device start {report['device_start_s']:.1f} s")

    train_rows, eval_rows, source = load_rows(data, n_train, n_eval, seed=0)
    version_rows, _, _ = load_rows(data, n_version, 0, seed=1)
    report.update(data=source, n_train_rows=n_train, n_eval_rows=n_eval, n_version_labels=n_version)
    labels = sorted({lab for _, lab in train_rows + eval_rows})
    examples = [LabelledText(i, text, None, (lab,)) for i, (text, lab) in enumerate(train_rows)]
    tokenizer_dir = minilm_path(minilm)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        models = ({"tiny-bert": random_bert(Path(tmp) / "tiny", tokenizer_dir, TINY_BERT)} if tiny else
                  {"minilm": tokenizer_dir, "bert-base-sized": random_bert(Path(tmp) / "bert-base", tokenizer_dir,
                                                                           BERT_BASE)})
        defaults = TrainConfig()
        for name, path in models.items():
            cfg = TrainConfig(base_model=str(path), epochs=epochs, device=str(dev), precision="bf16",
                              test_fraction=0.0, seed=0, num_threads=1 if tiny else 0)
            used = make_splits(examples, labels, "single_label", val_fraction=cfg.val_fraction, test_fraction=0.0).train
            row = _compare(cfg, examples, used, labels, eval_rows, peak, dev)
            app_run = cfg.replace(**{k: getattr(defaults, k) for k in ("epochs", "test_fraction", "seed")})
            row["version"] = time_to_version(app_run, version_rows, Path(tmp) / "models")
            report["models"][name] = row
            print_fn(summary_line(name, row))
    report["total_s"] = time.perf_counter() - t0
    Path(out_path).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_fn(f"wrote {out_path} ({report['total_s']:.0f} s in all)")
    return report


def _compare(cfg: Any, examples: list[LabelledText], used: list[LabelledText], labels: list[str],
             eval_rows: list[tuple[str, str]], peak: float, dev: Any) -> dict[str, Any]:
    """Engine, then Trainer, on the same rows and settings; throughput, MFU, memory, accuracy."""
    engine, engine_mem = _with_peak_memory(dev, lambda: run_engine(examples, labels, cfg, eval_rows, len(used)))
    reference, reference_mem = _with_peak_memory(dev, lambda: run_reference(
        used, labels, cfg.base_model, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.learning_rate,
        seed=cfg.seed, eval_rows=eval_rows, precision="bf16"))
    n_params = engine["non_embedding_params"]
    return {
        **engine, **reference, "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
        "n_train_rows": len(used), "engine_peak_memory_gib": engine_mem, "reference_peak_memory_gib": reference_mem,
        "engine_useful_mfu": 6 * n_params * engine["engine_tokens_per_s"] / peak,
        "reference_useful_mfu": 6 * n_params * reference["reference_tokens_per_s"] / peak,
        "speed_ratio": engine["engine_examples_per_s"] / reference["reference_examples_per_s"],
        "engine_s_per_step": engine["engine_train_s"] / max(1.0, engine["engine_steps"]),
        "reference_s_per_step": reference["reference_train_s"] / max(1, reference["reference_steps"]),
    }


def _with_peak_memory(dev: Any, fn: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float | None]:
    import torch

    if dev.type != "cuda":
        return fn(), None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(dev)
    out = fn()
    return out, torch.cuda.max_memory_allocated(dev) / 2 ** 30


def time_to_version(cfg: Any, rows: list[tuple[str, str]], models_dir: Path) -> dict[str, Any]:
    """Start to saved version for `rows` labels with `cfg` (the engine's defaults: automatic epochs, 10%
    validation, 10% test), as a run of the app does: load, tokenize, train, evaluate, Registry.save."""
    from ftdemo.models.registry import Registry
    from ftdemo.training.loop import train

    labels = sorted({lab for _, lab in rows})
    examples = [LabelledText(i, text, None, (lab,)) for i, (text, lab) in enumerate(rows)]
    t0 = time.perf_counter()
    result = train(examples, labels, "single_label", cfg)
    info = Registry(models_dir).save("gpu-check", result, {"run_id": 0})
    seconds = time.perf_counter() - t0
    t = result.timings
    return {"labels": len(rows), "seconds": seconds, "load_s": t["load_s"], "tokenize_s": t["tokenize_s"],
            "train_s": t["train_s"], "eval_s": t["eval_s"], "save_s": seconds - t["total_s"],
            "steps": int(t["steps"]), "epochs_run": len(result.history),
            "s_per_step": t["train_s"] / max(1.0, t["steps"]),
            "batch_tokens": int(t["batch_tokens"]), "validation_accuracy": result.metrics["validation"]["accuracy"],
            "test_accuracy": result.metrics["test"].get("accuracy"), "saved": info.name}


def summary_line(name: str, r: dict[str, Any]) -> str:
    v = r["version"]
    return (f"{name}: engine {r['engine_examples_per_s']:,.0f} ex/s ({r['engine_tokens_per_s']:,.0f} tok/s, "
            f"MFU {r['engine_useful_mfu']:.1%}, {r['engine_s_per_step'] * 1e3:.1f} ms/step) | Trainer "
            f"{r['reference_examples_per_s']:,.0f} ex/s (MFU {r['reference_useful_mfu']:.1%}) | engine/Trainer "
            f"{r['speed_ratio']:.2f}x | accuracy {r['engine_accuracy']:.3f} / {r['reference_accuracy']:.3f} | "
            f"{v['labels']:,} labels to a saved version in {v['seconds']:.1f} s ({v['steps']} steps, "
            f"{v['epochs_run']} epochs)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/gpu_check.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the JSON file to write; 'prepare' instead writes .gpucheck/ here, to carry")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (with --tiny: the test)")
    parser.add_argument("--tiny", action="store_true", help="a tiny random BERT and few rows: every step in seconds")
    parser.add_argument("--data", help="TSV/CSV with sentence (or text) and label; 'synthetic' for generated rows")
    parser.add_argument("--minilm", help="the MiniLM checkpoint (default: .gpucheck/minilm, else the bundled one)")
    parser.add_argument("--n-train", type=int, default=8000, help="rows for the engine/Trainer comparison")
    parser.add_argument("--n-eval", type=int, default=1000, help="held-out rows both are scored on")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the comparison")
    parser.add_argument("--n-version", type=int, default=5000, help="labels for the time to a saved version")
    args = parser.parse_args(argv)
    try:
        if args.out == "prepare":
            prepare()
            return 0
        run_check(args.out, device=args.device, tiny=args.tiny, data=args.data, minilm=args.minilm,
                  n_train=args.n_train, n_eval=args.n_eval, epochs=args.epochs, n_version=args.n_version)
    except FtdemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

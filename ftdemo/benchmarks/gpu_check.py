"""The GPU path, measured: the engine against the Hugging Face `Trainer` on one card, in bf16.

It runs where only torch, transformers, numpy and scikit-learn are installed (plus accelerate, which
the Trainer needs and GPU images ship): it imports no gradio, SQLAlchemy or datasets
(tests/benchmarks/test_gpu_check.py runs it with those hidden).

    bench/gpu_check.sh prepare                        # here: .gpucheck/ to carry (MiniLM in fp16, SST-2)
    bench/gpu_check.sh OUT.json                       # on the GPU machine, from the repository root
    bench/gpu_check.sh OUT.json --device cpu --tiny   # every step on tiny sizes, on a CPU (seconds)

What it measures (written to OUT.json after every step, summed up on stdout), most important first:
- the card: its bf16 matmul peak (8192^3, best of 8 timings of 3 products) and how long CUDA takes
  to start;
- for the bundled MiniLM and a BERT-base-sized model (bert-base-uncased's config, random weights: the
  same FLOPs), in bf16 autocast:
  - the time from start to a saved version for 5,000 labels with the engine's defaults (`train()` and
    `Registry.save`, what a run of the app does, the database aside); the first training in the
    process, so it pays what a fresh training child pays;
  - the engine, then the Trainer with TrainingArguments' defaults (batch 8, lr 5e-5, random batches),
    on the same rows and epochs: examples/s and real tokens/s while training, useful MFU (6 x
    non-embedding parameters x real tokens/s over the measured peak), seconds per optimizer step, peak
    memory, held-out accuracy, and the engine/Trainer-defaults speed ratio;
  - BERT-base only: useful MFU at large batches (`mfu_sweep`: 32 to 1024 unpadded texts of 128 tokens,
    128 of 512);
  - the Trainer again with the engine's batch size and learning rate and length-grouped batches: the
    engine/Trainer ratio at equal settings.

Data: `--data` (a TSV/CSV with sentence/text and label), else .gpucheck/sst2_train.tsv, else the
synthetic sentiment rows (fine for timing; their accuracies mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ftdemo.benchmarks.train import (
    load_rows,
    measured_matmul_flops,
    run_engine,
    run_reference,
    trainer_defaults,
)
from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.settings import REPO_ROOT
from ftdemo.tasks import LabelledText

T = TypeVar("T")
CARRY_DIR = REPO_ROOT / ".gpucheck"  # what `prepare` writes and the GPU machine reads (git-ignored)
SHARED_SST2 = REPO_ROOT.parent / "shared" / "data" / "sst2_train.tsv"
BERT_BASE = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072}
TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
LARGE_SHAPES = ((32, 128), (256, 128), (1024, 128), (128, 512))  # (batch, tokens per text) of the MFU sweep
TINY_SHAPES = ((8, 16),)


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
    """Measure everything the module docstring lists, write it to `out_path` as JSON and return it.

    The JSON is rewritten after every measurement, so a run cut short by its time limit still
    leaves what it measured (the steps run most important first)."""
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

    def save() -> None:
        report["total_s"] = time.perf_counter() - t0
        Path(out_path).write_text(json.dumps(report, indent=2), encoding="utf-8")

    torch.ones(1, device=dev).add_(1).cpu()  # the first CUDA call starts the context (a training child pays it too)
    report["device_start_s"] = time.perf_counter() - t0
    report["device"] = describe_device(dev)
    peak = measured_matmul_flops(dev, torch.bfloat16, 8192 if dev.type == "cuda" else 512)
    report["bf16_matmul_peak_tflops"] = peak / 1e12
    print_fn(f"{report['device']}: bf16 matmul peak {peak / 1e12:,.1f} TFLOP/s (measured), "
             f"device start {report['device_start_s']:.1f} s")
    save()

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
            row: dict[str, Any] = {}
            report["models"][name] = row
            cfg = TrainConfig(base_model=str(path), epochs=epochs, device=str(dev), precision="bf16",
                              test_fraction=0.0, seed=0, num_threads=1 if tiny else 0)
            used = make_splits(examples, labels, "single_label", val_fraction=cfg.val_fraction, test_fraction=0.0).train
            app_run = cfg.replace(**{k: getattr(defaults, k) for k in ("epochs", "test_fraction", "seed")})
            row["version"] = time_to_version(app_run, version_rows, Path(tmp) / "models")
            save()
            row.update(_engine_row(cfg, examples, used, labels, eval_rows, peak, dev))
            save()
            ref_batch, ref_lr = trainer_defaults()
            row.update(_trainer_row("defaults", cfg, used, labels, eval_rows, peak, dev, row["non_embedding_params"],
                                    batch_size=ref_batch, lr=ref_lr, group_by_length=False))
            row["speed_ratio_vs_defaults"] = row["engine_examples_per_s"] / row["defaults_examples_per_s"]
            save()
            if name != "minilm":  # the large-batch MFU target is BERT-base's; MiniLM's small matrices never reach it
                row["large_batch"] = mfu_sweep(path, dev, peak, TINY_SHAPES if tiny else LARGE_SHAPES,
                                               steps=6 if tiny else 30, print_fn=print_fn)
                save()
            row.update(_trainer_row("reference", cfg, used, labels, eval_rows, peak, dev, row["non_embedding_params"],
                                    batch_size=cfg.batch_size, lr=cfg.learning_rate, group_by_length=True))
            row["speed_ratio"] = row["engine_examples_per_s"] / row["reference_examples_per_s"]
            save()
            print_fn(summary_line(name, row))
    save()
    print_fn(f"wrote {out_path} ({report['total_s']:.0f} s in all)")
    return report


def _engine_row(cfg: Any, examples: list[LabelledText], used: list[LabelledText], labels: list[str],
                eval_rows: list[tuple[str, str]], peak: float, dev: Any) -> dict[str, Any]:
    """The engine on the comparison rows: throughput, useful MFU, ms per step, memory, accuracy."""
    engine, memory = _with_peak_memory(dev, lambda: run_engine(examples, labels, cfg, eval_rows, len(used)))
    return {**engine, "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate, "n_train_rows": len(used),
            "engine_peak_memory_gib": memory,
            "engine_useful_mfu": 6 * engine["non_embedding_params"] * engine["engine_tokens_per_s"] / peak,
            "engine_s_per_step": engine["engine_train_s"] / max(1.0, engine["engine_steps"])}


def _trainer_row(prefix: str, cfg: Any, used: list[LabelledText], labels: list[str],
                 eval_rows: list[tuple[str, str]], peak: float, dev: Any, n_params: int, *, batch_size: int,
                 lr: float, group_by_length: bool) -> dict[str, Any]:
    """The Trainer on the same rows and epochs in bf16; keys start with `prefix`: "reference" (the engine's
    batch size and learning rate, length-grouped batches) or "defaults" (TrainingArguments' own)."""
    out, memory = _with_peak_memory(dev, lambda: run_reference(
        used, labels, cfg.base_model, epochs=cfg.epochs, batch_size=batch_size, lr=lr, seed=cfg.seed,
        eval_rows=eval_rows, precision="bf16", group_by_length=group_by_length))
    row = {f"{prefix}_{key.removeprefix('reference_')}": value for key, value in out.items() if key != "reference"}
    row[prefix] = out["reference"]
    return {**row, f"{prefix}_batch_size": batch_size, f"{prefix}_learning_rate": lr,
            f"{prefix}_peak_memory_gib": memory,
            f"{prefix}_useful_mfu": 6 * n_params * out["reference_tokens_per_s"] / peak,
            f"{prefix}_s_per_step": out["reference_train_s"] / max(1, out["reference_steps"])}


def mfu_sweep(model_dir: Path, dev: Any, peak: float, shapes: tuple[tuple[int, int], ...], *, steps: int,
              print_fn: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """The engine's `train()` at large batches of texts exactly `length` tokens long (no padding, so every
    token is useful): for each (batch, length), at least `steps` optimizer steps; steady-state tokens/s from the
    progress events after the first 5 steps (the first ones pay kernel selection), and useful MFU."""
    from transformers import AutoTokenizer

    from ftdemo.benchmarks.train import non_embedding_params
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import ProgressEvent, train

    words = sorted(w for w in AutoTokenizer.from_pretrained(model_dir).get_vocab()
                   if w.isalpha() and w.islower() and len(w) > 2)  # whole words: one token each
    rng = random.Random(0)
    val_fraction = 0.05  # the validation split train() needs; the rest makes the steps
    out = []
    for batch, length in shapes:
        n = round(batch * steps / (1 - val_fraction)) + 2
        examples = [LabelledText(i, " ".join(rng.choices(words, k=length)), None, (f"c{i % 2}",)) for i in range(n)]
        marks: list[tuple[int, float]] = []

        def mark(event: ProgressEvent) -> None:
            if event.kind == "step":  # the event reads the loss off the card: its time is the step's end
                marks.append((event.step, time.perf_counter()))

        cfg = TrainConfig(base_model=str(model_dir), epochs=1, device=str(dev), precision="bf16", batch_size=batch,
                          max_batch_examples=batch, batch_tokens=batch * length, max_length=length,
                          val_fraction=val_fraction, test_fraction=0.0, log_every=5, seed=0)
        result, memory = _with_peak_memory(dev, lambda: train(examples, ["c0", "c1"], "single_label", cfg,
                                                              callbacks=[mark]))
        (s0, t0), (s1, t1) = marks[0], marks[-1]
        tokens_per_s = (s1 - s0) * batch * length / (t1 - t0) if s1 > s0 else result.timings["train_tokens_per_s"]
        n_params = non_embedding_params(result.model)
        row = {"batch": batch, "length": length, "tokens_per_step": batch * length, "steps": int(result.timings["steps"]),
               "steady_tokens_per_s": tokens_per_s, "steady_s_per_step": batch * length / tokens_per_s,
               "useful_mfu": 6 * n_params * tokens_per_s / peak,
               "whole_run_useful_mfu": 6 * n_params * result.timings["train_tokens_per_s"] / peak,
               "peak_memory_gib": memory}
        out.append(row)
        print_fn(f"  large batch {batch} x {length} tokens: {tokens_per_s:,.0f} tok/s, useful MFU "
                 f"{row['useful_mfu']:.1%} ({row['whole_run_useful_mfu']:.1%} over the whole run), "
                 f"{row['steady_s_per_step'] * 1e3:.0f} ms/step")
    return out


def _with_peak_memory(dev: Any, fn: Callable[[], T]) -> tuple[T, float | None]:
    """fn()'s result and the most GPU memory it held, in GiB (None off CUDA)."""
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
            f"{r['speed_ratio']:.2f}x, engine/Trainer's defaults {r['speed_ratio_vs_defaults']:.2f}x "
            f"(batch {r['defaults_batch_size']}, {r['defaults_accuracy']:.3f}) | accuracy {r['engine_accuracy']:.3f} / {r['reference_accuracy']:.3f} | "
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

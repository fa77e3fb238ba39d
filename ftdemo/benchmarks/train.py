"""Training throughput: ftdemo's engine against the Hugging Face `Trainer`, same data, one run.

Both train the same checkpoint on the same rows (the engine's training split) for the
same epochs, each with its own defaults: the engine with TrainConfig's, the Trainer with
TrainingArguments' (batch 8, lr 5e-5: what `Trainer(model, args)` gives a user) plus its
documented fast path for variable-length text (train_sampling_strategy="group_by_length" +
DataCollatorWithPadding). `reference_args="same"` gives the Trainer the engine's batch size
and learning rate instead (a like-for-like throughput check). Both are then scored by one
prediction routine on held-out rows neither has seen.

Useful MFU = 6 * N * (real, unpadded training tokens per second) / peak, with N the
non-embedding parameter count (Kaplan et al.'s convention): the work a full fine-tune
*needs*, whatever the engine skips or pads. Peak: a measured fp32 matmul on CPU; the
card's dense bf16 peak on a GPU.
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.settings import REPO_ROOT
from ftdemo.tasks import LabelledText

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "sst2_train.tsv"
GPU_BF16_PEAK_TFLOPS = {"H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H200": 989.0, "GH200": 989.0,
                        "H100 PCIe": 756.0, "H100 NVL": 835.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
                        "A10": 125.0, "T4": 65.0}


def run_train_bench(data_path: str | None = None, n_train: int = 1000, epochs: int = 0, json_out: bool = False, *,
                    n_eval: int = 2000, batch_size: int | None = None, learning_rate: float | None = None,
                    base_model: str | None = None, seed: int = 0, reference: bool = True, repeats: int = 1,
                    samples: int = 1, num_threads: int = 0, reference_args: str = "defaults",
                    print_fn: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the engine and (if `reference`) the HF Trainer on the same rows; print and return the numbers.

    data_path: TSV/CSV with `sentence`/`text` and `label` columns, or "synthetic"; default
    ../shared/data/sst2_train.tsv if present, else the synthetic sentiment set. n_train rows are
    sampled (seeded) for training and n_eval *other* rows for scoring. epochs: 0 = the engine's
    automatic choice, and the Trainer then runs as many as the engine planned. repeats > 1
    alternates engine and Trainer runs and keeps each one's fastest (a shared machine is noisy).
    samples > 1 repeats everything on that many independent draws (seeds seed, seed+1, ...): one
    draw's accuracy gap is mostly sampling noise (about a point either way), the mean over draws
    is the comparison that means something. speedup is the median of all per-pair ratios.
    num_threads: torch CPU threads for both (0 = all cores). batch_size / learning_rate: the
    engine's (None = TrainConfig's defaults). reference_args: "defaults" (the Trainer's own batch
    size and learning rate) or "same" (the engine's).
    The returned dict holds engine_examples_per_s, reference_examples_per_s, speedup, useful_mfu
    (from the first draw), the same per CPU-second (process time, less sensitive to other load),
    per_sample accuracies with their means, and everything printed.
    """
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    import transformers

    transformers.utils.logging.disable_progress_bar()  # a benchmark prints its numbers, not progress bars

    from ftdemo.settings import bundled_model_path
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.setup import cpu_threads

    if reference_args not in ("defaults", "same"):
        raise InvalidInputError(f"reference_args must be 'defaults' or 'same', got {reference_args!r}")
    if samples < 1 or repeats < 1:
        raise InvalidInputError(f"samples and repeats must be at least 1, got {samples} and {repeats}")
    model_name = base_model or bundled_model_path()
    cfg = TrainConfig(base_model=model_name, epochs=epochs, batch_size=batch_size or TrainConfig().batch_size,
                      seed=seed, test_fraction=0.0, learning_rate=learning_rate or TrainConfig().learning_rate,
                      num_threads=num_threads)
    ref_batch, ref_lr = ((cfg.batch_size, cfg.learning_rate) if reference_args == "same"
                         else trainer_defaults())
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads(num_threads))
    try:
        peak, peak_source = peak_flops()
        out: dict[str, Any] = {
            "n_eval_rows": n_eval, "epochs": epochs, "batch_size": cfg.batch_size,
            "learning_rate": cfg.learning_rate, "reference_args": reference_args,
            "reference_batch_size": ref_batch if reference else None,
            "reference_learning_rate": ref_lr if reference else None, "base_model": model_name, "peak_flops": peak,
            "peak_source": peak_source, "repeats": repeats, "samples": samples, "load_average_before": _load()}
        draws = []
        for k in range(samples):
            train_rows, eval_rows, source = load_rows(data_path, n_train, n_eval, seed + k)
            draws.append(_bench_draw(train_rows, eval_rows, cfg.replace(seed=seed + k), repeats,
                                     reference=reference, ref_batch=ref_batch, ref_lr=ref_lr))
            draws[-1]["info"]["data"] = source
    finally:
        torch.set_num_threads(threads_before)
    out["load_average_after"] = _load()
    if not torch.cuda.is_available():  # a busy CPU under-measures its peak: keep the better of two tries
        torch.set_num_threads(cpu_threads(num_threads))
        out["peak_flops"] = peak = max(peak, peak_flops()[0])
        torch.set_num_threads(threads_before)
    first = draws[0]
    out.update(first["info"])
    out.update(max(first["engine"], key=lambda r: r["engine_examples_per_s"]))
    n_params = out["non_embedding_params"]
    out["useful_mfu"] = 6 * n_params * out["engine_tokens_per_s"] / peak
    if reference:
        out.update(max(first["reference"], key=lambda r: r["reference_examples_per_s"]))
        out["reference_useful_mfu"] = 6 * n_params * out["reference_tokens_per_s"] / peak
        pairs = [(e["engine_examples_per_s"] / r["reference_examples_per_s"],
                  e["engine_examples_per_cpu_s"] / r["reference_examples_per_cpu_s"])
                 for d in draws for e, r in zip(d["engine"], d["reference"])]
        out["speedup"] = statistics.median(p[0] for p in pairs)
        out["cpu_time_speedup"] = statistics.median(p[1] for p in pairs)
        out["speedups_per_repeat"] = [round(p[0], 3) for p in pairs]
    else:
        out.update(reference_examples_per_s=None, speedup=None)
    out.update(accuracy_summary(draws, reference))
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    print_fn(json.dumps(out, indent=2) if json_out else format_report(out))
    return out


def _bench_draw(train_rows: list[tuple[str, str]], eval_rows: list[tuple[str, str]], cfg: Any, repeats: int, *,
                reference: bool, ref_batch: int, ref_lr: float) -> dict[str, Any]:
    """Engine and Trainer runs on one draw of rows, alternating `repeats` times."""
    from ftdemo.training.splits import make_splits

    labels = sorted({lab for _, lab in train_rows + eval_rows})
    examples = [LabelledText(i, text, None, (lab,)) for i, (text, lab) in enumerate(train_rows)]
    used = make_splits(examples, labels, "single_label", val_fraction=cfg.val_fraction, test_fraction=0.0).train
    engine_runs, ref_runs = [], []
    for _ in range(repeats):
        engine_runs.append(run_engine(examples, labels, cfg, eval_rows, len(used)))
        if reference:  # the engine's planned epochs: the same budget even when its own were automatic
            ref_runs.append(run_reference(used, labels, cfg.base_model, epochs=engine_runs[-1]["engine_epochs_planned"],
                                          batch_size=ref_batch, lr=ref_lr, seed=cfg.seed, eval_rows=eval_rows))
    info = {"seed": cfg.seed, "n_train_rows": len(used), "n_validation_rows": len(examples) - len(used),
            "epochs_planned": engine_runs[0]["engine_epochs_planned"]}
    return {"info": info, "engine": engine_runs, "reference": ref_runs}


def accuracy_summary(draws: list[dict[str, Any]], reference: bool) -> dict[str, Any]:
    """Per-draw held-out accuracies, their means, and the mean engine - Trainer gap with its standard error."""
    rows = [{"seed": d["info"]["seed"], "engine_accuracy": d["engine"][0]["engine_accuracy"],
             "reference_accuracy": d["reference"][0]["reference_accuracy"] if reference else None} for d in draws]
    out: dict[str, Any] = {"per_sample": rows,
                           "engine_accuracy_mean": statistics.fmean(r["engine_accuracy"] for r in rows)}
    if reference:
        gaps = [r["engine_accuracy"] - r["reference_accuracy"] for r in rows]
        out.update(reference_accuracy_mean=statistics.fmean(r["reference_accuracy"] for r in rows),
                   accuracy_gap_mean=statistics.fmean(gaps),
                   accuracy_gap_se=statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else None,
                   engine_wins=sum(g >= 0 for g in gaps))
    return out


def run_engine(examples: list[LabelledText], labels: list[str], cfg: Any, eval_rows: list[tuple[str, str]],
               n_used: int) -> dict[str, Any]:
    """One engine run: throughput from its own timings, accuracy on the held-out rows."""
    from ftdemo.training.loop import train

    result = train(examples, labels, "single_label", cfg)
    t = result.timings
    epochs_run = len(result.history)
    return {
        "device": result.device, "non_embedding_params": non_embedding_params(result.model),
        "engine_examples_per_s": t["train_examples_per_s"],
        "engine_examples_per_cpu_s": n_used * epochs_run / t["train_cpu_s"],
        "engine_examples_per_s_with_eval": n_used * epochs_run / (t["train_s"] + t["eval_s"]),
        "engine_train_s": t["train_s"], "engine_epochs_planned": int(t["epochs_planned"]),
        "engine_epochs_run": epochs_run, "engine_best_epoch": result.best_epoch,
        "engine_real_token_share": t["real_token_share"], "engine_tokens_per_s": t["train_tokens_per_s"],
        "engine_batch_tokens": t["batch_tokens"], "engine_steps": t["steps"],
        "engine_accuracy": accuracy(result.model, result.tokenizer, eval_rows, labels),
    }


def trainer_defaults() -> tuple[int, float]:
    """(per_device_train_batch_size, learning_rate) as TrainingArguments defines them."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return int(fields["per_device_train_batch_size"].default), float(fields["learning_rate"].default)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover - not on Windows
        return None


def load_rows(data_path: str | None, n_train: int, n_eval: int,
              seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(train rows, eval rows, description): disjoint random samples of (text, label)."""
    if data_path == "synthetic":
        path = None
    else:
        path = Path(data_path) if data_path else (DEFAULT_DATA if DEFAULT_DATA.is_file() else None)
    if path is None:
        rows = synthetic_rows(n_train + n_eval, seed)
        source = "synthetic sentiment"
    else:
        if not path.is_file():
            raise InvalidInputError(f"benchmark data file {path} does not exist")
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if path.suffix in (".tsv", ".tab") else ",")
            text_col = next((c for c in ("sentence", "text") if c in (reader.fieldnames or [])), None)
            if text_col is None or "label" not in (reader.fieldnames or []):
                raise InvalidInputError(f"{path.name} needs a 'sentence' (or 'text') and a 'label' column")
            rows = [(r[text_col].strip(), r["label"].strip()) for r in reader if r[text_col].strip() and r["label"].strip()]
        source = path.name
    if len(rows) < n_train + n_eval:
        raise InvalidInputError(f"{source} has {len(rows)} usable rows; need {n_train} + {n_eval}")
    picked = random.Random(seed).sample(range(len(rows)), n_train + n_eval)
    return [rows[i] for i in picked[:n_train]], [rows[i] for i in picked[n_train:]], source


def synthetic_rows(n: int, seed: int) -> list[tuple[str, str]]:
    """Short templated reviews whose label follows a sentiment word, with a negation twist."""
    rng = random.Random(seed)
    good, bad = "good great lovely superb moving funny".split(), "bad dull awful clumsy boring weak".split()
    subjects = "the film|this movie|the plot|the acting|the script|the ending".split("|")
    out = []
    for _ in range(n):
        positive = rng.random() < 0.5
        negate = rng.random() < 0.2
        word = rng.choice(bad if positive == negate else good)
        text = f"{rng.choice(subjects)} is {'not ' if negate else ''}{word}" + rng.choice(["", " overall", " , really"])
        out.append((text, "1" if positive else "0"))
    return out


def run_reference(rows: Sequence[LabelledText], labels: list[str], model_name: str, *, epochs: int,
                  batch_size: int, lr: float, seed: int, eval_rows: list[tuple[str, str]],
                  precision: str | None = None, group_by_length: bool = True) -> dict[str, Any]:
    """The Hugging Face Trainer on the same rows: group_by_length + DataCollatorWithPadding, defaults otherwise.
    group_by_length=False keeps the Trainer's own default, random batches padded to their longest row.

    The rows are a plain list of tokenized dicts (a torch-style dataset), so the reference runs where
    `datasets` is not installed (the GPU check's machine); the Trainer samples and collates them as it
    would a `datasets.Dataset`. precision: "bf16" or "fp32"; None = bf16 on a CUDA card that has it."""
    import tempfile

    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from ftdemo.training.data import real_token_share

    tokenizer = AutoTokenizer.from_pretrained(model_name)
    index = {lab: i for i, lab in enumerate(labels)}
    enc = tokenizer([ex.text for ex in rows], truncation=True, max_length=256)
    train_set = [{**{key: enc[key][i] for key in enc}, "label": index[ex.labels[0]]} for i, ex in enumerate(rows)]
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_name, num_labels=len(labels), attn_implementation="sdpa", use_safetensors=True, dtype=torch.float32)
    cuda = torch.cuda.is_available()
    bf16 = precision == "bf16" if precision else cuda and torch.cuda.is_bf16_supported()
    cudnn_attention = torch.backends.cuda.cudnn_sdp_enabled()
    torch.backends.cuda.enable_cudnn_sdp(True)  # torch's own default: the engine's process-wide choice is not the Trainer's
    fields = TrainingArguments.__dataclass_fields__  # how this transformers release asks for length grouping
    grouping = ({} if not group_by_length else {"train_sampling_strategy": "group_by_length"}
                if "train_sampling_strategy" in fields else {"group_by_length": True})
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, num_train_epochs=epochs, per_device_train_batch_size=batch_size, learning_rate=lr,
            seed=seed, save_strategy="no", logging_strategy="no", report_to="none", disable_tqdm=True,
            use_cpu=not cuda, bf16=bf16, **grouping)
        trainer = Trainer(model=model, args=args, train_dataset=train_set,
                          data_collator=DataCollatorWithPadding(tokenizer))
        trainer.remove_callback(PrinterCallback)  # it prints the final log dict to stdout, which --json must own
        t0, cpu0 = time.perf_counter(), time.process_time()
        try:
            trainer.train()
        finally:
            torch.backends.cuda.enable_cudnn_sdp(cudnn_attention)
        train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    lengths = [len(x) for x in enc["input_ids"]]
    generator = torch.Generator().manual_seed(seed)
    order = (get_length_grouped_indices(lengths, batch_size, generator=generator) if group_by_length
             else torch.randperm(len(lengths), generator=generator).tolist())
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return {
        "reference": f"transformers.Trainer ({'group_by_length, ' if group_by_length else ''}DataCollatorWithPadding)",
        "reference_epochs": epochs, "reference_examples_per_s": len(rows) * epochs / train_s, "reference_train_s": train_s,
        "reference_examples_per_cpu_s": len(rows) * epochs / train_cpu_s, "reference_steps": len(batches) * epochs,
        "reference_tokens_per_s": sum(lengths) * epochs / train_s,
        "reference_real_token_share": real_token_share(lengths, batches),
        "reference_accuracy": accuracy(model, tokenizer, eval_rows, labels),
    }


def accuracy(model: Any, tokenizer: Any, rows: Sequence[tuple[str, str]], labels: list[str]) -> float:
    """Share of rows whose argmax label is right: one routine for both models, sorted length batches."""
    import torch

    model.eval()
    index = {lab: i for i, lab in enumerate(labels)}
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    right = 0
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            part = order[start:start + 128]
            enc = tokenizer([rows[i][0] for i in part], padding=True, truncation=True, max_length=256,
                            return_tensors="pt").to(device)
            pred = model(**enc).logits.argmax(-1).tolist()
            right += sum(int(p == index[rows[i][1]]) for p, i in zip(pred, part))
    return right / max(1, len(rows))


def non_embedding_params(model: Any) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "embed" not in n)


def peak_flops() -> tuple[float, str]:
    """FLOP/s to measure MFU against: the GPU's dense bf16 spec, or a measured fp32 matmul on CPU."""
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        for key, tflops in GPU_BF16_PEAK_TFLOPS.items():
            if all(part in name for part in key.split()):
                return tflops * 1e12, f"{name}: dense bf16 spec {tflops:g} TFLOP/s"
        return measured_matmul_flops(torch.device("cuda"), torch.bfloat16, 8192), f"{name}: measured bf16 matmul"
    return measured_matmul_flops(torch.device("cpu"), torch.float32, 2048), f"cpu: measured fp32 matmul ({torch.get_num_threads()} threads)"


def measured_matmul_flops(device: Any, dtype: Any, n: int) -> float:
    """FLOP/s of an n x n x n matrix product on `device` in `dtype`: the best of 8 timings of 3 products."""
    import torch

    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(8):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(3):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / 3)
    return 2 * n**3 / best


def format_report(r: dict[str, Any]) -> str:
    """The human-readable table `run_train_bench` prints without --json."""
    ref = r.get("reference_examples_per_s")

    def row(name: str, engine: str, reference: str) -> str:
        return f"  {name:<26}{engine:>14}{reference:>14}"

    def both(fmt: str, key_engine: str, key_ref: str) -> tuple[str, str]:
        return format(r[key_engine], fmt), (format(r[key_ref], fmt) if ref else "–")

    lines = [
        f"train benchmark: {r['n_train_rows']} training rows ({r['data']}, seed {r['seed']}), "
        f"{r['n_eval_rows']} held-out rows, "
        + (f"{r['epochs']} epochs" if r["epochs"] else f"automatic epochs ({r['epochs_planned']} planned, the Trainer runs as many)")
        + f", best of {r['repeats']}",
        f"  engine: batch {r['batch_size']}, lr {r['learning_rate']:g}"
        + (f"  |  Trainer ({r['reference_args']}): batch {r['reference_batch_size']}, lr {r['reference_learning_rate']:g}"
           if ref else ""),
        f"  model {r['base_model']}",
        f"  {r['device']}  |  peak {r['peak_flops'] / 1e9:,.0f} GFLOP/s ({r['peak_source']})  |  "
        f"load average {r['load_average_before']} -> {r['load_average_after']}",
        row("", "engine", "HF Trainer" if ref else "(skipped)"),
        row("examples/s (train)", *both(".1f", "engine_examples_per_s", "reference_examples_per_s")),
        row("examples per CPU-second", *both(".1f", "engine_examples_per_cpu_s", "reference_examples_per_cpu_s")),
        row("real-token share", *both(".1%", "engine_real_token_share", "reference_real_token_share")),
        row("useful MFU", *both(".1%", "useful_mfu", "reference_useful_mfu")),
        row("held-out accuracy", *both(".4f", "engine_accuracy", "reference_accuracy")),
        row("optimizer steps", *both(".0f", "engine_steps", "reference_steps")),
        row("train seconds", *both(".1f", "engine_train_s", "reference_train_s")),
        f"  engine incl. per-epoch validation: {r['engine_examples_per_s_with_eval']:.1f} examples/s "
        f"({r['engine_epochs_run']} epochs run, best {r['engine_best_epoch']})",
    ]
    if ref:
        lines.append(f"  speedup engine / Trainer: {r['speedup']:.2f}x wall clock, {r['cpu_time_speedup']:.2f}x CPU time"
                     + (f" (per run pair: {r['speedups_per_repeat']})" if len(r["speedups_per_repeat"]) > 1 else ""))
    if r["samples"] > 1:
        lines.append(f"  held-out accuracy over {r['samples']} draws (seed: engine / Trainer):")
        lines += [f"    {row['seed']:>4}: {row['engine_accuracy']:.4f}"
                  + (f" / {row['reference_accuracy']:.4f}  ({row['engine_accuracy'] - row['reference_accuracy']:+.4f})"
                     if ref else "") for row in r["per_sample"]]
        lines.append(f"    mean: {r['engine_accuracy_mean']:.4f}"
                     + (f" / {r['reference_accuracy_mean']:.4f}  (gap {r['accuracy_gap_mean']:+.4f} "
                        f"± {r['accuracy_gap_se']:.4f} SE; engine >= Trainer on {r['engine_wins']} of {r['samples']})"
                        if ref else ""))
    return "\n".join(lines)

"""Serving benchmark: fast path, explain path and the transformers pipeline, plus micro-batching.

Measured in one run on the same model: batch-1 latency (p50/p95) at ~16 and ~64
tokens of the Predictor's fast path, of its explain path with the [CLS]-attention
view, and of ``transformers.pipeline("text-classification")`` as the reference;
then requests/s of 16 concurrent clients (micro-batched) against the same
requests sent one by one. Calls of the three contenders are interleaved so that
load from elsewhere on the machine hits them alike.

Targets: fast p50 ≤ pipeline p50; explain p50 ≤ 1.5 × fast p50; ≥ 2× throughput
from micro-batching with 16 clients.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

WORDS = (
    "the film was a quiet and moving story about two sisters who return to the small town where they grew up "
    "after many years away and find that everything and nothing has changed since they left it behind"
).split()
CLIENTS = 16


def bundled_classifier_dir(out_dir: str | Path, num_labels: int = 2) -> Path:
    """The bundled MiniLM wrapped as a sequence classifier (random head), saved like a registry version."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from ftdemo.settings import bundled_model_path

    out = Path(out_dir)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        bundled_model_path(), num_labels=num_labels, use_safetensors=True
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(bundled_model_path()).save_pretrained(out)
    return out


def text_of_tokens(tokenizer: Any, n_tokens: int) -> str:
    """A plain English sentence that encodes to about n_tokens tokens ([CLS]/[SEP] included)."""
    words: list[str] = []
    while len(tokenizer(" ".join(words))["input_ids"]) < n_tokens:
        words.append(WORDS[len(words) % len(WORDS)])
    return " ".join(words)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000.0
    return round(float(np.percentile(arr, 50)), 3), round(float(np.percentile(arr, 95)), 3)


def measure_latency(contenders: dict[str, Any], text: str, iterations: int, warmup: int = 10) -> dict[str, list]:
    """Seconds per call of each callable on one text, calls interleaved in rotating order.

    Sample i of every contender is taken back to back, so per-iteration ratios
    compare calls made under the same load from elsewhere on the machine.
    """
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name](text)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(iterations):
        for name in names[i % len(names):] + names[: i % len(names)]:
            start = time.perf_counter()
            contenders[name](text)
            samples[name].append(time.perf_counter() - start)
    return samples


def measure_batching(predictor: Any, texts: list[str], rounds: int = 3) -> dict[str, float]:
    """Requests/s one by one vs 16 concurrent clients on the same requests; medians of alternating rounds."""
    serial, concurrent, batch_sizes = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for t in texts:
            predictor.predict(t)
        serial.append(len(texts) / (time.perf_counter() - start))
        before = dict(predictor.batch_stats)
        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(predictor.predict, texts))
        concurrent.append(len(texts) / (time.perf_counter() - start))
        after = predictor.batch_stats
        batch_sizes.append((after["items"] - before["items"]) / max(1, after["batches"] - before["batches"]))
    s, c = statistics.median(serial), statistics.median(concurrent)
    return {
        "serial_rps": round(s, 1), "concurrent_rps": round(c, 1), "batching_speedup": round(c / s, 2),
        "mean_batch_size": round(statistics.median(batch_sizes), 1), "clients": CLIENTS,
    }


def run_serve_bench(
    model_dir: str | Path | None = None, json_out: bool = False, iterations: int = 100, rounds: int = 3,
    requests: int = CLIENTS * 20, print_fn: Callable[[str], None] = print,
) -> dict:
    """Run the serving benchmark on CPU; print a report (JSON when json_out) and return the numbers.

    iterations: timed calls per contender and length; rounds: alternating serial/concurrent
    throughput rounds (medians are reported) of `requests` requests each.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    from transformers import pipeline

    from ftdemo.serving import Predictor

    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory(prefix="ftdemo-bench-") as tmp:
        path = Path(model_dir) if model_dir else bundled_classifier_dir(Path(tmp) / "model")
        predictor = Predictor(path, device="cpu")
        try:
            pipe = pipeline("text-classification", model=str(path), device="cpu")
            contenders = {
                "fast": predictor.predict,
                "explain": lambda t: predictor.explain(t, method="cls"),
                "pipeline": pipe,
            }
            result: dict[str, Any] = {
                "model": str(model_dir or "bundled all-MiniLM-L6-v2 + random 2-label head"),
                "device": "cpu", "torch_threads": torch.get_num_threads(), "iterations": iterations,
                "load_average_before": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
            }
            for n_tokens, suffix in ((16, ""), (64, "_64")):
                text = text_of_tokens(predictor.tokenizer, n_tokens)
                result[f"tokens{suffix or '_16'}"] = len(predictor.predict(text).tokens)
                samples = measure_latency(contenders, text, iterations)
                for name, times in samples.items():
                    result[f"{name}_p50_ms{suffix}"], result[f"{name}_p95_ms{suffix}"] = _percentiles(times)
                # median of back-to-back ratios: robust to load that drifts during the run
                ratios = np.asarray(samples["fast"]) / np.asarray(samples["pipeline"])
                result[f"fast_vs_pipeline_paired{suffix}"] = round(float(np.median(ratios)), 3)
            text16 = text_of_tokens(predictor.tokenizer, 16)
            result.update(measure_batching(predictor, [text16] * requests, rounds=rounds))
        finally:
            predictor.close()
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    result["fast_vs_pipeline"] = round(result["fast_p50_ms"] / result["pipeline_p50_ms"], 3)
    result["explain_vs_fast"] = round(result["explain_p50_ms"] / result["fast_p50_ms"], 3)
    result["targets_met"] = {
        "fast_p50<=pipeline_p50": result["fast_p50_ms"] <= result["pipeline_p50_ms"],
        "explain_p50<=1.5x_fast_p50": result["explain_p50_ms"] <= 1.5 * result["fast_p50_ms"],
        "batching_speedup>=2": result["batching_speedup"] >= 2.0,
    }
    print_fn(json.dumps(result, indent=2) if json_out else format_report(result))
    return result


def format_report(r: dict) -> str:
    """A short human-readable table of the numbers."""
    lines = [f"serving benchmark — {r['model']} on {r['device']} ({r['torch_threads']} threads)"]
    for suffix, label in (("", f"~{r['tokens_16']} tokens"), ("_64", f"~{r['tokens_64']} tokens")):
        lines.append(f"  batch 1, {label}:  p50 / p95 ms")
        for name in ("fast", "explain", "pipeline"):
            lines.append(f"    {name:<9} {r[f'{name}_p50_ms{suffix}']:>8.2f} / {r[f'{name}_p95_ms{suffix}']:.2f}")
    lines.append(
        f"  {r['clients']} clients: {r['concurrent_rps']} req/s vs {r['serial_rps']} one by one "
        f"= {r['batching_speedup']}x (mean batch {r['mean_batch_size']})"
    )
    lines.append(
        f"  fast/pipeline p50 = {r['fast_vs_pipeline']} (median back-to-back ratio {r['fast_vs_pipeline_paired']}), "
        f"explain/fast p50 = {r['explain_vs_fast']}"
    )
    lines.append(f"  load average before/after: {r['load_average_before']} / {r['load_average_after']}")
    lines.append("  targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in r["targets_met"].items()))
    return "\n".join(lines)

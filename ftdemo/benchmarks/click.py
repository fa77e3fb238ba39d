"""Click to active version: what a person waits for after Train now, the app included.

`python -m ftdemo bench click [--labels 5000] [--data FILE] [--model DIR] [--device auto] [--json]`

A throwaway data folder gets a dataset of `labels` labelled rows (`--data`: a TSV/CSV with sentence/text and
label, read as `bench train` reads it: by default ../shared/data/sst2_train.tsv when present, else synthetic
reviews, which "synthetic" asks for), imported as the Data tab imports a file. Then
the Train button's own service call (`TrainingService.start`) starts a run with the defaults (a child
process, as in the app), and the clock stops when the run has ended and its version is the dataset's active
one. The run's own timings split the wait: `train_total_s` is the engine's `train()` (loading, tokenizing,
training, evaluating), `app_s` the rest (starting the child and its imports, reading the labels, saving the
version, the activation guard, and this loop's 50 ms polling). Never touches the app's own database.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError

POLL_S = 0.05


def run_click_bench(*, labels: int = 5000, data: str | None = None, base_model: str | None = None,
                    device: str = "auto", print_fn: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure one Train now → active version on a fresh dataset of `labels` labelled rows; print a line and
    return the figures (see the module docstring)."""
    from ftdemo.benchmarks.train import load_rows
    from ftdemo.services import Actor, Services
    from ftdemo.settings import Settings, bundled_model_path
    from ftdemo.store.runs import LIVE

    if labels < 20:
        raise InvalidInputError(f"need at least 20 labels for a run with validation rows, got {labels}")
    rows, _, source = load_rows(data, labels, 0, seed=0)
    with tempfile.TemporaryDirectory(prefix="ftdemo-bench-click-") as tmp:
        table = Path(tmp) / "labels.csv"
        with table.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        services = Services(Settings(data_dir=Path(tmp) / "data", seed_demo=False))
        try:
            admin = Actor.local("bench")
            services.datasets.create("click", "single_label", sorted({label for _, label in rows}), actor=admin)
            services.transfer.import_file("click", table, actor=admin)
            options = {"device": device, **({"base_model": base_model} if base_model else {})}
            t0 = time.perf_counter()
            run = services.training.start("click", options, actor=admin)
            while run["status"] in LIVE:
                time.sleep(POLL_S)
                run = services.training.run(run["id"])
            active = services.models.active("click")
            waited = time.perf_counter() - t0
        finally:
            services.close()
    if run["status"] != "succeeded":
        raise InvalidInputError(f"the run ended {run['status']}: {run.get('error') or 'no error recorded'}")
    timings = run.get("timings") or {}
    out = {
        "labels": labels, "data": source, "base_model": base_model or bundled_model_path(), "device": device,
        "gpu": (run.get("environment") or {}).get("gpu"), "version": run["version"],
        "active": bool(active and active["version"] == run["version"]), "click_to_active_s": waited,
        "train_total_s": timings.get("total_s"), "app_s": waited - float(timings.get("total_s") or 0.0),
        **{key: timings.get(key) for key in ("load_s", "tokenize_s", "train_s", "eval_s", "steps", "epochs_planned")},
    }
    print_fn(f"{labels:,} labels: Train now → {out['version']} active in {waited:.1f} s (train() "
             f"{out['train_total_s'] or 0:.1f} s, the app {out['app_s']:.1f} s)")
    return out

"""Training throughput of the engine vs the Hugging Face Trainer; see ftdemo/benchmarks/train.py.

    python bench/train.py [--data FILE] [--n-train 1000] [--epochs 3] [--json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftdemo.benchmarks.train import run_train_bench  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="TSV/CSV with sentence|text and label columns")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-eval", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="the engine's (default: its own default)")
    parser.add_argument("--reference-args", choices=("defaults", "same"), default="defaults",
                        help="the Trainer's batch size and lr: its own defaults, or the engine's")
    parser.add_argument("--lr", type=float, default=None, help="default: the engine's default learning rate")
    parser.add_argument("--model", default=None, help="base model (default: bundled MiniLM)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true", help="skip the HF Trainer run")
    parser.add_argument("--repeats", type=int, default=1, help="alternate engine/Trainer runs, keep the best of each")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads for both (0 = all cores)")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    run_train_bench(a.data, a.n_train, a.epochs, a.json, n_eval=a.n_eval, batch_size=a.batch_size,
                    learning_rate=a.lr, base_model=a.model, seed=a.seed, reference=not a.no_reference,
                    repeats=a.repeats, num_threads=a.threads, reference_args=a.reference_args)


if __name__ == "__main__":
    main()

"""Training throughput and accuracy of the engine vs the Hugging Face Trainer; see ftdemo/benchmarks/train.py.

    python bench/train.py [--data FILE] [--n-train 1000] [--epochs 0] [--samples 1] [--repeats 1] [--json]

The same as `python -m ftdemo bench train ...` (every option of that command works here).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from ftdemo.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["bench", "train", *sys.argv[1:]]))

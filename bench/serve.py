"""Serving latency/throughput vs the transformers pipeline; see ftdemo/benchmarks/serve.py.

    python bench/serve.py [--json] [--model-dir DIR] [--iterations 100]

The same as `python -m ftdemo bench serve ...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from ftdemo.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["bench", "serve", *sys.argv[1:]]))
